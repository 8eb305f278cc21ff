// How a dockerconfigjson `auths` key selects images, following the kubelet's credential keyring
// (k8s.io/kubernetes pkg/credentialprovider keyring.go): the kubelet chooses which Secret entries it
// hands to the runtime this way, so pullguard reads keys the same way to know what a tenant can pull.

import { DOCKER_HUB, DOCKER_HUB_API, LEGACY_DOCKER_HUB } from './docker-hub.js'
import type { ImageName } from './image-reference.js'

export interface CredentialKey {
  /** the `auths` key as written in the Secret */
  raw: string
  /** lowercased hostname without port, may hold '*' globs; Docker Hub aliases become 'docker.io' */
  host: string
  /** '' when none */
  port: string
  /** repository path prefix without leading slash; '' for a host-only key; a leading v1/ or v2/ is dropped */
  path: string
  /** host split on '.', compared part by part */
  hostParts: string[]
  hasGlob: boolean
  /** host[:port][/path], normalised, for messages */
  scope: string
}

// `docker login` writes https://index.docker.io/v1/; registry-1.docker.io is the API endpoint itself
const DOCKER_HUB_HOSTS = new Set([DOCKER_HUB, LEGACY_DOCKER_HUB, DOCKER_HUB_API])

// Hostname characters an image registry can have (the image grammar also lets '_' through, see
// image-reference.ts) plus the '*' glob; other filepath.Match syntax ('?', '[...]', '\') is not
// supported and makes the key invalid rather than silently different.
const GLOB_HOST = /^[a-z0-9_*-]+(?:\.[a-z0-9_*-]+)*$/
const IPV6_HOST = /^\[[0-9a-f:]+\]$/
const PORT = /^[0-9]+$/
const OTHER_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i
// Go's url.Parse refuses ASCII control characters anywhere in a URL
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/

/** A registry `host[:port]` in the form keys and images are compared in. */
export function canonicalRegistry (registry: string): string {
  const lower = registry.toLowerCase()
  return DOCKER_HUB_HOSTS.has(lower) ? DOCKER_HUB : lower
}

/** The `host[:port]` a key is for, in canonicalRegistry form. */
export function registryOfKey (key: CredentialKey): string {
  return key.port === '' ? key.host : `${key.host}:${key.port}`
}

/** Reads an `auths` key as the kubelet does (url.Parse after adding https://); undefined when it never could match. */
export function parseCredentialKey (raw: string): CredentialKey | undefined {
  if (typeof raw !== 'string' || CONTROL_CHARACTER.test(raw)) return undefined
  // the kubelet strips exactly these two prefixes and adds https:// to anything else
  let rest = raw.startsWith('https://') ? raw.slice(8) : raw.startsWith('http://') ? raw.slice(7) : raw
  if (OTHER_SCHEME.test(rest)) return undefined // the kubelet would read 'oci:' as a host and never match

  // the authority ends at the first '/', '?' or '#'; query and fragment are not part of the path
  const authorityEnd = firstIndexOf(rest, '/?#')
  let authority = rest.slice(0, authorityEnd)
  rest = rest.slice(authorityEnd)
  const rawPath = rest.startsWith('/') ? rest.slice(0, firstIndexOf(rest, '?#')) : ''
  authority = authority.slice(authority.lastIndexOf('@') + 1) // user info is never part of the host

  const hostAndPort = splitHostPort(authority.toLowerCase())
  if (hostAndPort === undefined) return undefined
  const [written, port] = hostAndPort
  if (!GLOB_HOST.test(written) && !IPV6_HOST.test(written)) return undefined
  const host = port === '' && DOCKER_HUB_HOSTS.has(written) ? DOCKER_HUB : written

  let path: string
  try {
    path = decodeURIComponent(rawPath) // url.URL.Path is the decoded path
  } catch {
    return undefined
  }
  // keys like https://quay.io/v1/ mean the host: the kubelet drops '/v1' or '/v2' before a '/'
  if (path.startsWith('/v1/') || path.startsWith('/v2/')) path = path.slice(3)
  path = path.slice(1) // a non-empty path always starts with the '/' that ended the authority

  const hasGlob = host.includes('*')
  const registry = port === '' ? host : `${host}:${port}`
  return {
    raw,
    host,
    port,
    path,
    hostParts: host.split('.'),
    hasGlob,
    scope: path === '' ? registry : `${registry}/${path}`
  }
}

/** An image's registry split the way keys are compared against it. */
export interface RegistryHost {
  /** lowercased, Docker Hub aliases as 'docker.io', IPv6 in brackets */
  host: string
  port: string
  hostParts: string[]
}

/** The parts of a registry (host[:port]) that keys are matched against; undefined for a non-numeric port. */
export function registryHostOf (registry: string): RegistryHost | undefined {
  const hostAndPort = splitHostPort(canonicalRegistry(registry))
  if (hostAndPort === undefined) return undefined
  const [host, port] = hostAndPort
  return { host, port, hostParts: host.split('.') }
}

/** URLsMatch: same port, same number of host parts each matching as a glob, key path a string prefix of the image path. */
export function credentialKeyMatches (key: CredentialKey, image: ImageName): boolean {
  if (!image.path.startsWith(key.path)) return false
  const target = registryHostOf(image.registry)
  return target !== undefined && credentialKeyMatchesHost(key, target, image.path)
}

/** credentialKeyMatches with the image's registry split once, for callers trying many keys. */
export function credentialKeyMatchesHost (key: CredentialKey, target: RegistryHost, path: string): boolean {
  if (target.port !== key.port || !path.startsWith(key.path)) return false
  if (!key.hasGlob) return target.host === key.host
  if (target.hostParts.length !== key.hostParts.length) return false
  for (let i = 0; i < key.hostParts.length; i++) {
    if (!globMatches(key.hostParts[i] ?? '', target.hostParts[i] ?? '')) return false
  }
  return true
}

/** Host and port of an authority; IPv6 hosts keep their brackets. Undefined for a non-numeric port. */
function splitHostPort (authority: string): [string, string] | undefined {
  let host = authority
  let port = ''
  const colon = authority.lastIndexOf(':')
  if (colon !== -1 && colon > authority.lastIndexOf(']')) {
    host = authority.slice(0, colon)
    port = authority.slice(colon + 1)
  }
  if (port !== '' && !PORT.test(port)) return undefined
  return [host, port]
}

/** filepath.Match restricted to '*': any run of characters within one host part. */
function globMatches (pattern: string, text: string): boolean {
  let p = 0
  let t = 0
  let star = -1 // last '*' seen in the pattern
  let resume = 0 // where in text that '*' stopped matching
  while (t < text.length) {
    if (pattern[p] === '*') {
      star = p++
      resume = t
    } else if (p < pattern.length && pattern[p] === text[t]) {
      p++
      t++
    } else if (star !== -1) {
      // let the last '*' swallow one more character and retry
      p = star + 1
      t = ++resume
    } else {
      return false
    }
  }
  while (pattern[p] === '*') p++
  return p === pattern.length
}

function firstIndexOf (text: string, characters: string): number {
  for (let i = 0; i < text.length; i++) {
    if (characters.includes(text[i] ?? '')) return i
  }
  return text.length
}
