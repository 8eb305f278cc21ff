// Which Secrets are credentials, and how a tenant's credentials merge into one dockerconfigjson.
// Only Secrets in the credentials namespace with pullguard's labels count: anywhere else a tenant
// could plant credentials (or ownership claims) for another tenant.

import { createHash } from 'node:crypto'
import { safeKeyScope } from './credential-key.js'
import type { ConfigProblem } from './credential-problems.js'
import { decodeSecretData, readDockerConfig, type DockerConfigKey } from './docker-config.js'
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, type AdmissionOptions } from './options.js'
import type { CredentialGrant } from './registry-index.js'

export const DOCKER_CONFIG_JSON_TYPE = 'kubernetes.io/dockerconfigjson'
/** the data key a DOCKER_CONFIG_JSON_TYPE Secret keeps its config under */
export const DOCKER_CONFIG_JSON_KEY = '.dockerconfigjson'
export const DOCKER_CFG_TYPE = 'kubernetes.io/dockercfg'
export const DOCKER_CFG_KEY = '.dockercfg'
/**
 * A Secret that says how to mint short-lived registry tokens (live mode's token minter). Not a
 * credential itself: the dockerconfigjson Secret minted from it is.
 */
export const TOKEN_SOURCE_TYPE = 'pullguard.dev/token-source'

/** The parts of a core/v1 Secret pullguard reads. */
export interface SecretObject {
  metadata?: {
    name?: string
    namespace?: string
    uid?: string
    labels?: Record<string, string> | null
    annotations?: Record<string, string> | null
    resourceVersion?: string
  }
  type?: string
  data?: Record<string, string> | null
  stringData?: Record<string, string> | null
}

export interface CredentialSource {
  name: string
  /** null: a shared source, granted to every tenant */
  tenant: string | null
  /** the `auths` entries a node can authenticate with, kept verbatim */
  auths: Record<string, unknown>
  /** the config's HttpHeaders, when it has any */
  httpHeaders?: Record<string, string>
}

/** Why a Secret is not a credential source at all (for the standalone summary). */
export type IgnoredWhy = 'elsewhere' | 'unlabelled' | 'managed copy' | 'token source'

export type SourceReading =
  /** `problems`: entries left out, the source usable without them */
  | { kind: 'source', source: CredentialSource, problems: ConfigProblem[] }
  | { kind: 'ignored', why: IgnoredWhy } // not a credential Secret at all
  /** meant as one (labelled for `tenant`, null: shared), but unusable: at least one problem says why */
  | { kind: 'invalid', name: string, tenant: string | null, problems: ConfigProblem[] }

/** The options that decide which Secrets are whose credentials. */
export type CredentialSourceOptions = Pick<AdmissionOptions, 'credentialsNamespace' | 'tenantLabel' | 'sharedLabel'>

/**
 * Reads one Secret as a credential source, the way the kubelet will read it (docker-config.ts).
 * Never throws; problems never contain Secret data nor raw keys.
 */
export function readCredentialSource (secret: SecretObject, options: CredentialSourceOptions): SourceReading {
  const meta = secret.metadata ?? {}
  const name = meta.name ?? ''
  if (meta.namespace !== options.credentialsNamespace || name === '') return { kind: 'ignored', why: 'elsewhere' }
  const labels = meta.labels ?? {}
  // pullguard's own output is never an input, even if the credentials namespace were a tenant.
  if (labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) return { kind: 'ignored', why: 'managed copy' }
  const shared = labels[options.sharedLabel] === 'true'
  const tenant = labels[options.tenantLabel]
  if (!shared && (tenant === undefined || tenant === '')) return { kind: 'ignored', why: 'unlabelled' }

  // its settings are read, and reported when bad, by the token minter
  if (secret.type === TOKEN_SOURCE_TYPE) return { kind: 'ignored', why: 'token source' }
  const owner = shared ? null : tenant as string
  const invalid = (problem: ConfigProblem): SourceReading => ({ kind: 'invalid', name, tenant: owner, problems: [problem] })
  const dataKey = secret.type === DOCKER_CONFIG_JSON_TYPE
    ? DOCKER_CONFIG_JSON_KEY
    : secret.type === DOCKER_CFG_TYPE ? DOCKER_CFG_KEY : undefined
  if (dataKey === undefined) {
    return invalid({ reason: 'WrongSecretType', detail: `type is ${secret.type ?? 'unset'}, expected ${DOCKER_CONFIG_JSON_TYPE} or ${DOCKER_CFG_TYPE}` })
  }
  const text = secretText(secret, dataKey)
  if (text === undefined) return invalid({ reason: 'MissingDockerConfig', detail: `has no ${dataKey} key` })
  if (text === BAD_BASE64) return invalid({ reason: 'InvalidBase64', detail: `data[${dataKey}] is not valid base64` })
  // the kubelet skips a pull secret whose key is empty, as if it were missing
  if (text === '') return invalid({ reason: 'MissingDockerConfig', detail: `its ${dataKey} is empty` })
  const config = readDockerConfig(text, dataKey)
  if (config.unusable.length > 0) return { kind: 'invalid', name, tenant: owner, problems: [...config.unusable, ...config.dropped] }
  const source: CredentialSource = { name, tenant: owner, auths: config.auths }
  if (config.httpHeaders !== undefined) source.httpHeaders = config.httpHeaders
  return { kind: 'source', source, problems: config.dropped }
}

const BAD_BASE64 = Symbol('bad base64')

function secretText (secret: SecretObject, key: DockerConfigKey): string | typeof BAD_BASE64 | undefined {
  // stringData appears only in manifests (the API server folds it into data); it wins there too.
  const plain = secret.stringData?.[key]
  if (typeof plain === 'string') return plain
  const encoded = secret.data?.[key]
  if (typeof encoded !== 'string') return undefined
  return decodeSecretData(encoded)?.toString('utf8') ?? BAD_BASE64
}

export interface MergedCredentials {
  /** the `.dockerconfigjson` text of the managed Secret */
  dockerConfigJson: string
  /** sha256 hex of dockerConfigJson */
  contentHash: string
  /** source Secret names in precedence order */
  sources: string[]
}

/** Two sources define the same registry key; `kept` wins. */
export interface KeyConflict {
  tenant: string | null
  /** the key by safeKeyScope: conflicts are logged, and a raw key may carry a token */
  key: string
  kept: string
  dropped: string
}

/** Two sources define the same HttpHeaders header (names compared case-insensitively); `kept` wins. */
export interface HeaderConflict {
  tenant: string | null
  /** the header's name as the winning source spells it (names are not secret; values are never shown) */
  header: string
  kept: string
  dropped: string
}

export interface TenantCredentialSet {
  /** per tenant with sources of its own (merged with shared) */
  byTenant: Map<string, MergedCredentials>
  /** what a tenant with no sources of its own gets; undefined when there are no shared sources */
  sharedOnly: MergedCredentials | undefined
  /** every key of every source, for the registry index */
  grants: CredentialGrant[]
  /** a conflict between two shared sources is listed once, with tenant null, not once per tenant */
  conflicts: KeyConflict[]
  headerConflicts: HeaderConflict[]
}

/**
 * Merges sources per tenant: the tenant's own sources beat shared ones, then name order decides, for
 * registry keys and HttpHeaders alike (a header by its case-insensitive name, as HTTP compares them).
 * Keys and headers are emitted sorted so equal inputs give byte-equal Secrets (no needless rotations).
 */
export function mergeTenantCredentials (sources: readonly CredentialSource[]): TenantCredentialSet {
  const byName = [...sources].sort((a, b) => compare(a.name, b.name))
  const shared = byName.filter(source => source.tenant === null)
  const ownByTenant = new Map<string, CredentialSource[]>()
  for (const source of byName) {
    if (source.tenant === null) continue
    const list = ownByTenant.get(source.tenant) ?? []
    list.push(source)
    ownByTenant.set(source.tenant, list)
  }

  const found: Conflicts = { keys: [], headers: [] }
  const byTenant = new Map<string, MergedCredentials>()
  for (const [tenant, own] of ownByTenant) byTenant.set(tenant, merge(tenant, [...own, ...shared], found))
  const sharedOnly = shared.length > 0 ? merge(null, shared, found) : undefined

  const grants: CredentialGrant[] = []
  for (const source of byName) {
    for (const key of Object.keys(source.auths)) grants.push({ key, tenant: source.tenant })
  }
  return { byTenant, sharedOnly, grants, conflicts: found.keys, headerConflicts: found.headers }
}

interface Conflicts {
  keys: KeyConflict[]
  headers: HeaderConflict[]
}

function merge (tenant: string | null, ordered: CredentialSource[], found: Conflicts): MergedCredentials {
  // shared against shared is the same in every tenant's merge: the shared-only merge reports it
  const reported = (kept: CredentialSource, dropped: CredentialSource): boolean =>
    tenant === null || kept.tenant !== null || dropped.tenant !== null
  const winners = new Map<string, { entry: unknown, source: CredentialSource }>()
  const headers = new Map<string, { name: string, value: string, source: CredentialSource }>()
  for (const source of ordered) {
    for (const [key, entry] of Object.entries(source.auths)) {
      const kept = winners.get(key)
      if (kept === undefined) winners.set(key, { entry, source })
      else if (reported(kept.source, source)) found.keys.push({ tenant, key: safeKeyScope(key), kept: kept.source.name, dropped: source.name })
    }
    for (const [name, value] of Object.entries(source.httpHeaders ?? {})) {
      const folded = name.toLowerCase()
      const kept = headers.get(folded)
      if (kept === undefined) headers.set(folded, { name, value, source })
      else if (reported(kept.source, source)) found.headers.push({ tenant, header: kept.name, kept: kept.source.name, dropped: source.name })
    }
  }
  const auths: Record<string, unknown> = {}
  for (const key of [...winners.keys()].sort(compare)) auths[key] = winners.get(key)?.entry
  const config: { auths: Record<string, unknown>, HttpHeaders?: Record<string, string> } = { auths }
  if (headers.size > 0) {
    config.HttpHeaders = {}
    for (const folded of [...headers.keys()].sort(compare)) {
      const { name, value } = headers.get(folded) as { name: string, value: string }
      config.HttpHeaders[name] = value
    }
  }
  const dockerConfigJson = JSON.stringify(config)
  return {
    dockerConfigJson,
    contentHash: createHash('sha256').update(dockerConfigJson).digest('hex'),
    sources: ordered.map(source => source.name)
  }
}

// Code-point order, not locale order: the same on every replica whatever its ICU data.
function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
