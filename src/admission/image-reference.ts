// Image references read the way the container runtime reads them: distribution/reference
// ParseNormalizedNamed, which containerd and the kubelet both use. Written from the grammar in small
// anchored pieces rather than one large regular expression, so that no input can make V8 backtrack
// for long (the published JavaScript port takes seconds on a 16-character string).

import { BoundedMap } from './bounded-map.js'
import { DOCKER_HUB, LEGACY_DOCKER_HUB, OFFICIAL_IMAGES_PREFIX } from './docker-hub.js'

export interface ImageName {
  /** host[:port] as written, after Docker Hub normalisation: 'docker.io', 'localhost:5000', '[fc00::1]:5000' */
  readonly registry: string
  /** repository path without tag or digest: 'library/nginx' */
  readonly path: string
  /** `${registry}/${path}`: what the runtime pulls and the kubelet matches credentials against */
  readonly name: string
}

/** reference.RepositoryNameTotalLengthMax; it bounds the path only, the registry is unbounded */
const PATH_MAX_LENGTH = 255

const IDENTIFIER = /^[a-f0-9]{64}$/
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const DOMAIN_LABEL = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?'
const DOMAIN = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`)
const TAG = /^\w[\w.-]{0,127}$/
// go-digest accepts only registered algorithms, each with exactly its length of lowercase hex
const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/

// A cluster runs the same few hundred image references over and over: parse each once. Bounded, and
// only for references of ordinary length, so odd input cannot grow it; a miss simply parses again.
const PARSED_CACHE_LIMIT = 4096
const PARSED_CACHE_MAX_REFERENCE_LENGTH = 512
const parsed = new BoundedMap<string, ImageName | undefined>(PARSED_CACHE_LIMIT)

/** The repository an image reference names, or undefined when the runtime would refuse it. */
export function parseImageName (reference: string): ImageName | undefined {
  const hit = parsed.get(reference)
  if (hit !== undefined || parsed.has(reference)) return hit
  const name = parse(reference)
  if (typeof reference === 'string' && reference.length <= PARSED_CACHE_MAX_REFERENCE_LENGTH) {
    parsed.set(reference, name === undefined ? undefined : Object.freeze(name))
  }
  return name
}

function parse (reference: string): ImageName | undefined {
  // a bare 64-hex string is an image ID, never a name
  if (typeof reference !== 'string' || reference === '' || IDENTIFIER.test(reference)) return undefined
  const [registry, remainder] = splitRegistry(reference)

  // Neither a tag nor a digest contains '/', and a digest follows the only '@'.
  let remote = remainder
  const at = remote.indexOf('@')
  if (at !== -1) {
    if (!DIGEST.test(remote.slice(at + 1))) return undefined
    remote = remote.slice(0, at)
  }
  const colon = remote.lastIndexOf(':')
  if (colon > remote.lastIndexOf('/')) {
    if (!TAG.test(remote.slice(colon + 1))) return undefined
    remote = remote.slice(0, colon)
  }

  // A first element that is not a valid host but is a valid path component (e.g. 'a_b.example')
  // makes the runtime read the whole name as a path with no domain; it still pulls from that host.
  const registryIsDomain = DOMAIN.test(registry)
  if (!registryIsDomain && !PATH_COMPONENT.test(registry)) return undefined
  const pathLength = registryIsDomain ? remote.length : registry.length + 1 + remote.length
  if (pathLength > PATH_MAX_LENGTH || !isRemoteName(remote)) return undefined

  return { registry, path: remote, name: `${registry}/${remote}` }
}

/** splitDockerDomain: which part of the reference is the registry, and Docker Hub's defaults. */
function splitRegistry (reference: string): [string, string] {
  const slash = reference.indexOf('/')
  // a single element ('nginx', 'nginx:1.27', even 'localhost:5000') is an official Hub image
  if (slash === -1) return [DOCKER_HUB, OFFICIAL_IMAGES_PREFIX + reference]

  const first = reference.slice(0, slash)
  let registry = DOCKER_HUB
  let remainder = reference
  // repository paths are lowercase without '.' or ':', so anything else up front must be a host
  if (first === 'localhost' || first.includes('.') || first.includes(':') || first !== first.toLowerCase()) {
    registry = first === LEGACY_DOCKER_HUB ? DOCKER_HUB : first
    remainder = reference.slice(slash + 1)
  }
  if (registry === DOCKER_HUB && !remainder.includes('/')) remainder = OFFICIAL_IMAGES_PREFIX + remainder
  return [registry, remainder]
}

function isRemoteName (remote: string): boolean {
  for (const component of remote.split('/')) {
    if (!PATH_COMPONENT.test(component)) return false
  }
  return true
}
