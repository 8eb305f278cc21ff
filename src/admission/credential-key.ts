// How a dockerconfigjson `auths` key selects images, following the kubelet's credential keyring
// (k8s.io/kubernetes pkg/credentialprovider keyring.go): the kubelet chooses which Secret entries it
// hands to the runtime this way, so pullguard reads keys the same way to know what a tenant can pull.
//
// Two questions are asked of a key, and they differ on purpose:
// - does it MATCH an image (credentialKeyMatches*): what the kubelet does, ports compared literally,
//   so `registry.example` gives no credentials for `registry.example:443/app`;
// - does it CLAIM an image for its tenant (credentialKeyClaimsHost, ownerRegistryOf): `host:443` is
//   `host`, the https default port, so spelling the port cannot take an image out of its owner's hands.
// A raw key may hide user-info or a query (`https://user:token@host`, `host/p?token=…`): anything that
// leaves the process names a key by safeKeyScope, never raw.

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
  /** host[:port][/path], normalised (no user-info, query or fragment), as the kubelet matches it */
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
const PORT_OR_NONE = /^[0-9]*$/
const UPPERCASE = /[A-Z]/
const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i
// Go's url.Parse refuses ASCII control characters anywhere in a URL
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/
// an https registry on its default port is the same registry as without it
const HTTPS_DEFAULT_PORT = '443'
// a key is names, not data: a Secret can hold one of up to 1 MiB, a log line should not
const MAX_SAFE_SCOPE_LENGTH = 256
/** what safeKeyScope says of a key with nothing left to show once its hidden parts are cut */
export const UNPARSEABLE_KEY = '(unparseable key)'

/** A registry `host[:port]` in the form keys and images are compared in. */
export function canonicalRegistry (registry: string): string {
  // asked per image on every review: an image's registry string is the parse cache's, its hash
  // cached, while toLowerCase makes a new string to hash each time
  const lower = UPPERCASE.test(registry) ? registry.toLowerCase() : registry
  return DOCKER_HUB_HOSTS.has(lower) ? DOCKER_HUB : lower
}

/** The `host[:port]` a key is for, in canonicalRegistry form. */
export function registryOfKey (key: CredentialKey): string {
  return key.port === '' ? key.host : `${key.host}:${key.port}`
}

/**
 * The registry that owns what is pulled from `registry` (an image's or a key's host[:port]), for
 * ownership and foreign checks only: the port read as a number (':0443' is ':443', as Go dials it)
 * and ':443' dropped, then Docker Hub's aliases as 'docker.io'. Never for credential matching, where
 * the kubelet compares ports literally.
 */
export function ownerRegistryOf (registry: string): string {
  // the common case, asked once per image on every review: no port at all
  if (!registry.includes(':')) return canonicalRegistry(registry)
  const hostAndPort = splitHostPort(registry.toLowerCase())
  if (hostAndPort === undefined) return canonicalRegistry(registry)
  const [host, port] = hostAndPort
  const owned = ownerPort(port)
  return canonicalRegistry(owned === '' ? host : `${host}:${owned}`)
}

/** ownerRegistryOf the key's registry, with its path: how a claim is named in warnings and audit notes. */
export function ownerScopeOf (key: CredentialKey): string {
  const registry = ownerRegistryOf(registryOfKey(key))
  return key.path === '' ? registry : `${registry}/${key.path}`
}

/**
 * How a key may be named outside the process (logs, problems, conflicts, warnings, audit notes): its
 * normalised scope; for a key that does not parse, the raw text cut before any '?' or '#' and after
 * the last '@' left, with a port that is not a number hidden (`user:password` is not a registry).
 * Bounded in length. Anything else a broken key holds is shown: it is what the admin must find.
 */
export function safeKeyScope (raw: string): string {
  const parsed = parseCredentialKey(raw)
  let visible: string
  if (parsed !== undefined) {
    // a parsed host holds none of these, but a percent-decoded path may (a dead key: no image path can)
    visible = parsed.scope.slice(0, firstIndexOf(parsed.scope, '@?#'))
  } else {
    const text = typeof raw === 'string' ? raw : ''
    const beforeQuery = text.slice(0, firstIndexOf(text, '?#'))
    visible = withNumericPortOnly(beforeQuery.slice(beforeQuery.lastIndexOf('@') + 1))
    if (visible === '' && text !== '') return UNPARSEABLE_KEY
  }
  return visible.length > MAX_SAFE_SCOPE_LENGTH ? `${codePointPrefix(visible, MAX_SAFE_SCOPE_LENGTH - 1)}…` : visible
}

/** Reads an `auths` key as the kubelet does (url.Parse after adding https://); undefined when it never could match. */
export function parseCredentialKey (raw: string): CredentialKey | undefined {
  if (typeof raw !== 'string' || CONTROL_CHARACTER.test(raw)) return undefined
  // the kubelet strips exactly these two prefixes and adds https:// to anything else
  let rest = raw.startsWith('https://') ? raw.slice(8) : raw.startsWith('http://') ? raw.slice(7) : raw
  if (URL_SCHEME.test(rest)) return undefined // the kubelet would read 'oci:' as a host and never match

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
  return target.port === key.port && path.startsWith(key.path) && hostMatches(key, target)
}

/**
 * Whether the key claims images of `owner` (registryHostOf(ownerRegistryOf(image registry))) under
 * `path` for its tenant: credentialKeyMatchesHost with ':443' read as no port on both sides.
 */
export function credentialKeyClaimsHost (key: CredentialKey, owner: RegistryHost, path: string): boolean {
  if (!path.startsWith(key.path)) return false
  // an exact key is compared whole, so that a Docker Hub alias written with ':443' is Docker Hub
  if (!key.hasGlob) return ownerRegistryOf(registryOfKey(key)) === (owner.port === '' ? owner.host : `${owner.host}:${owner.port}`)
  return owner.port === ownerPort(key.port) && hostMatches(key, owner)
}

/** credentialKeyClaimsHost for one image. */
export function credentialKeyClaims (key: CredentialKey, image: ImageName): boolean {
  const owner = registryHostOf(ownerRegistryOf(image.registry))
  return owner !== undefined && credentialKeyClaimsHost(key, owner, image.path)
}

/** A numeric port as ownership compares it: no leading zeros, '' for none or the https default. */
function ownerPort (port: string): string {
  const number = port.startsWith('0') ? port.replace(/^0+(?=[0-9])/, '') : port
  return number === HTTPS_DEFAULT_PORT ? '' : number
}

/** An unparseable key's text with a port that is not all digits replaced by '…'. */
function withNumericPortOnly (text: string): string {
  const scheme = URL_SCHEME.exec(text)?.[0] ?? ''
  const authorityEnd = text.indexOf('/', scheme.length)
  const end = authorityEnd === -1 ? text.length : authorityEnd
  const authority = text.slice(scheme.length, end)
  const colon = authority.lastIndexOf(':')
  if (colon === -1 || colon < authority.lastIndexOf(']') || PORT_OR_NONE.test(authority.slice(colon + 1))) return text
  return `${text.slice(0, scheme.length + colon + 1)}…${text.slice(end)}`
}

function hostMatches (key: CredentialKey, target: RegistryHost): boolean {
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

/** At most `length` UTF-16 units of text, never ending inside a surrogate pair. */
function codePointPrefix (text: string, length: number): string {
  const last = text.charCodeAt(length - 1)
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? length - 1 : length)
}

function firstIndexOf (text: string, characters: string): number {
  for (let i = 0; i < text.length; i++) {
    if (characters.includes(text[i] ?? '')) return i
  }
  return text.length
}
