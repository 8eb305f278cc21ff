// A pull secret's docker config read the way the kubelet reads it (k8s.io/kubernetes
// pkg/credentialprovider config.go and secrets/secrets.go), so that pullguard copies only what a
// node can use and says why about the rest. The kubelet decodes with Go's encoding/json into
//   .dockerconfigjson  { auths: map[key]entry, HttpHeaders: map[string]string }
//   .dockercfg         map[key]entry
//   entry              { username, password, email, auth: base64("username:password") }
// Field names match case-insensitively, as in Go; anything else (credsStore, credHelpers,
// identitytoken, registrytoken) is ignored on a node. A value of the wrong type in that shape, or an
// `auth` that is not base64 of "username:password", fails the decode: the kubelet then refuses the
// whole Secret, and every pull that needs a pull secret fails.

import { isObject } from './envelope.js'
import { parseCredentialKey, safeKeyScope } from './credential-key.js'
import type { ConfigProblem } from './credential-problems.js'

export type DockerConfigKey = '.dockerconfigjson' | '.dockercfg'

export interface DockerConfigReading {
  /** why the kubelet would refuse the config, or why it gives a node nothing; empty: usable */
  unusable: ConfigProblem[]
  /** the entries the kubelet can authenticate with, verbatim */
  auths: Record<string, unknown>
  /** HttpHeaders, when the config has any */
  httpHeaders?: Record<string, string>
  /** entries left out because a node gets nothing from them; the config stays usable */
  dropped: ConfigProblem[]
}

const ENTRY_STRING_FIELDS = ['username', 'password', 'email', 'auth'] as const
// the kubelet refuses the whole Secret for these: said once, in every such detail
const REFUSED = 'the kubelet refuses a Secret with such an entry'

/** Reads the text of a source's data key. Never throws; details never quote the config. */
export function readDockerConfig (text: string, dataKey: DockerConfigKey): DockerConfigReading {
  const unusable = (problem: ConfigProblem): DockerConfigReading => ({ unusable: [problem], auths: {}, dropped: [] })
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // JSON.parse's message quotes the text around the error: never passed on
    return unusable({ reason: 'InvalidJSON', detail: `${dataKey} is not valid JSON` })
  }
  // Go decodes null into any of these as "nothing there"
  if (parsed !== null && !isObject(parsed)) {
    return unusable({ reason: 'MalformedDockerConfig', detail: `${dataKey} is ${jsonKind(parsed)}, not an object` })
  }
  const top = parsed ?? {}
  let entries: unknown = top
  let httpHeaders: Record<string, string> | undefined
  let credsStore: unknown
  let credHelpers: Record<string, unknown> = {}
  if (dataKey === '.dockerconfigjson') {
    entries = goField(top, 'auths')
    if (entries !== undefined && entries !== null && !isObject(entries)) {
      return unusable({ reason: 'MalformedDockerConfig', detail: `${dataKey}: auths is ${jsonKind(entries)}, not an object` })
    }
    const headers = readHttpHeaders(goField(top, 'httpheaders'))
    if (headers === 'malformed') {
      return unusable({ reason: 'MalformedDockerConfig', detail: `${dataKey}: HttpHeaders must map header names to strings` })
    }
    httpHeaders = headers
    // read only to say why an entry is empty: the docker CLI's fields, which the kubelet ignores
    credsStore = top.credsStore
    if (isObject(top.credHelpers)) credHelpers = top.credHelpers
  }

  const problems: ConfigProblem[] = []
  const dropped: ConfigProblem[] = []
  const auths: Record<string, unknown> = {}
  const seen = isObject(entries) ? Object.entries(entries) : []
  for (const [key, entry] of seen) {
    const scope = safeKeyScope(key)
    const verdict = readEntry(entry)
    if (verdict.kind === 'refused') {
      problems.push({ reason: verdict.reason, scope, detail: `${verdict.detail.replace('{entry}', `entry ${quote(scope)}`)} (${REFUSED})` })
      continue
    }
    if (parseCredentialKey(key) === undefined) {
      dropped.push({ reason: 'UnparseableRegistryKey', scope, detail: `key ${quote(scope)} is not a registry address the kubelet can match to an image` })
      continue
    }
    if (verdict.kind === 'usable') {
      auths[key] = entry
      continue
    }
    const helper = helperFor(key, credHelpers, credsStore)
    if (helper !== undefined) {
      dropped.push({ reason: 'CredentialHelperOnly', scope, detail: `the credential for ${quote(scope)} is kept by ${helper} on the machine that wrote this config; nodes never run credential helpers` })
    } else if (verdict.token) {
      dropped.push({ reason: 'IdentityTokenOnly', scope, detail: `entry ${quote(scope)} holds only an identity or registry token, which the kubelet never sends` })
    } else {
      dropped.push({ reason: 'EntryWithoutCredential', scope, detail: `entry ${quote(scope)} has no auth, username or password` })
    }
  }
  // credHelpers alone, without an entry in auths: a registry this config expects to log in to
  for (const key of Object.keys(credHelpers)) {
    if (isObject(entries) && Object.hasOwn(entries, key)) continue
    const scope = safeKeyScope(key)
    dropped.push({ reason: 'CredentialHelperOnly', scope, detail: `the credential for ${quote(scope)} is kept by ${helperFor(key, credHelpers, undefined) ?? 'a credential helper'} on the machine that wrote this config; nodes never run credential helpers` })
  }
  if (problems.length > 0) return { unusable: problems, auths: {}, dropped }
  if (Object.keys(auths).length === 0) {
    const store = namedHelper(credsStore)
    const why = seen.length === 0
      ? dataKey === '.dockerconfigjson' && (entries === undefined || entries === null) ? `${dataKey} has no auths` : `${dataKey} has no registry entries`
      : seen.length === 1 ? 'its only entry holds no credential the kubelet can use' : `none of its ${seen.length} entries holds a credential the kubelet can use`
    const detail = store === undefined ? why : `${why} (its credsStore ${store} is ignored on nodes)`
    return { unusable: [{ reason: 'NoUsableCredential', detail }], auths: {}, dropped }
  }
  return { unusable: [], auths, ...(httpHeaders !== undefined && { httpHeaders }), dropped }
}

type EntryVerdict =
  | { kind: 'usable' }
  /** decodes, but holds no username or password; `token`: an identity or registry token instead */
  | { kind: 'empty', token: boolean }
  /** the kubelet's decode fails on it; `{entry}` in the detail stands for the entry's name */
  | { kind: 'refused', reason: 'MalformedEntry' | 'InvalidAuthBase64' | 'MalformedAuth', detail: string }

function readEntry (entry: unknown): EntryVerdict {
  if (entry === null) return { kind: 'empty', token: false }
  if (!isObject(entry)) return { kind: 'refused', reason: 'MalformedEntry', detail: `{entry} is ${jsonKind(entry)}, not an object` }
  const fields: Partial<Record<typeof ENTRY_STRING_FIELDS[number], string>> = {}
  for (const name of ENTRY_STRING_FIELDS) {
    const value = goField(entry, name)
    if (value === undefined || value === null) continue
    if (typeof value !== 'string') return { kind: 'refused', reason: 'MalformedEntry', detail: `{entry}: ${name} is ${jsonKind(value)}, not a string` }
    fields[name] = value
  }
  let hasCredential = (fields.username ?? '') !== '' || (fields.password ?? '') !== ''
  const auth = fields.auth ?? ''
  // as in the kubelet: a non-empty auth replaces username and password
  if (auth !== '') {
    const decoded = decodeAuthField(auth)
    if (decoded === undefined) return { kind: 'refused', reason: 'InvalidAuthBase64', detail: 'the auth of {entry} is not valid base64' }
    const colon = decoded.indexOf(0x3a)
    if (colon === -1) return { kind: 'refused', reason: 'MalformedAuth', detail: 'the auth of {entry} does not decode to username:password' }
    hasCredential = decoded.length > 1 // anything besides the colon: a username or a password
  }
  if (hasCredential) return { kind: 'usable' }
  const token = ['identitytoken', 'registrytoken'].some(name => {
    const value = goField(entry, name)
    return typeof value === 'string' && value !== ''
  })
  return { kind: 'empty', token }
}

// Go's encoding/base64 as the kubelet decodes `auth` (decodeDockerConfigFieldAuth): padded standard
// encoding when the trimmed text ends in '=', unpadded otherwise; '\r' and '\n' are skipped, any other
// character outside the alphabet is an error. Buffer.from(…, 'base64') is no check: it stops at the
// first bad character and returns what came before, so valid base64 followed by garbage would pass.
const PADDED_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const UNPADDED_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2,3})?$/
const LINE_BREAKS = /[\r\n]/g

/** the decoded bytes of an `auth` field, or undefined where the kubelet's decode fails */
export function decodeAuthField (field: string): Buffer | undefined {
  const text = field.replace(LINE_BREAKS, '')
  const valid = field.trim().endsWith('=') ? PADDED_BASE64.test(text) : UNPADDED_BASE64.test(text)
  return valid ? Buffer.from(text, 'base64') : undefined
}

/**
 * Secret `data` values as the API server decodes them (a []byte field in Go's encoding/json:
 * padded standard base64, '\r' and '\n' skipped). Only a manifest can break this: the API server
 * refuses to store such a Secret.
 */
export function decodeSecretData (value: string): Buffer | undefined {
  const text = value.replace(LINE_BREAKS, '')
  return PADDED_BASE64.test(text) ? Buffer.from(text, 'base64') : undefined
}

/** HttpHeaders as map[string]string: undefined when absent or empty, 'malformed' when Go's decode fails */
function readHttpHeaders (value: unknown): Record<string, string> | undefined | 'malformed' {
  if (value === undefined || value === null) return undefined
  if (!isObject(value)) return 'malformed'
  const headers: Record<string, string> = {}
  for (const [name, header] of Object.entries(value)) {
    if (header === null) continue // decodes to "", which sends nothing
    if (typeof header !== 'string') return 'malformed'
    headers[name] = header
  }
  return Object.keys(headers).length > 0 ? headers : undefined
}

/**
 * A member by Go's field-name rule: case-insensitive under Unicode simple folding (where 'ſ' is an
 * 's'; toLowerCase already folds the Kelvin sign to 'k'), the last matching member winning.
 */
function goField (object: Record<string, unknown>, lowerName: string): unknown {
  let found: unknown
  for (const [key, value] of Object.entries(object)) {
    if (key.toLowerCase().replaceAll('ſ', 's') === lowerName) found = value
  }
  return found
}

/** the credential helper a docker CLI would ask for this key, named for a message */
function helperFor (key: string, credHelpers: Record<string, unknown>, credsStore: unknown): string | undefined {
  const own = namedHelper(credHelpers[key])
  if (own !== undefined) return `the credential helper ${own} (credHelpers)`
  if (Object.hasOwn(credHelpers, key)) return 'a credential helper (credHelpers)'
  const store = namedHelper(credsStore)
  return store === undefined ? undefined : `the credential helper ${store} (credsStore)`
}

// A helper's name is a program suffix (desktop, osxkeychain, ecr-login): shown when it looks like one,
// so that no arbitrary text from the Secret reaches an Event.
const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
function namedHelper (value: unknown): string | undefined {
  return typeof value === 'string' && HELPER_NAME.test(value) ? JSON.stringify(value) : undefined
}

function jsonKind (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  return `a ${typeof value}`
}

const quote = (scope: string): string => JSON.stringify(scope)
