// Which Secrets are credentials, and how a tenant's credentials merge into one dockerconfigjson.
// Only Secrets in the credentials namespace with pullguard's labels count: anywhere else a tenant
// could plant credentials (or ownership claims) for another tenant.

import { createHash } from 'node:crypto'
import { safeKeyScope } from './credential-key.js'
import { isObject } from './envelope.js'
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, type AdmissionOptions } from './options.js'
import type { CredentialGrant } from './registry-index.js'

export const DOCKER_CONFIG_JSON_TYPE = 'kubernetes.io/dockerconfigjson'
/** the data key a DOCKER_CONFIG_JSON_TYPE Secret keeps its config under */
export const DOCKER_CONFIG_JSON_KEY = '.dockerconfigjson'
export const DOCKER_CFG_TYPE = 'kubernetes.io/dockercfg'
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
  /** the `auths` map, entries kept verbatim */
  auths: Record<string, unknown>
}

export type SourceReading =
  | { kind: 'source', source: CredentialSource }
  | { kind: 'ignored' } // not a credential Secret at all
  /** meant as one (labelled for `tenant`, null: shared), but unusable */
  | { kind: 'invalid', name: string, tenant: string | null, reason: string }

/** The options that decide which Secrets are whose credentials. */
export type CredentialSourceOptions = Pick<AdmissionOptions, 'credentialsNamespace' | 'tenantLabel' | 'sharedLabel'>

/** Reads one Secret as a credential source. Never throws; reasons never contain Secret data nor raw keys. */
export function readCredentialSource (secret: SecretObject, options: CredentialSourceOptions): SourceReading {
  const meta = secret.metadata ?? {}
  const name = meta.name ?? ''
  if (meta.namespace !== options.credentialsNamespace || name === '') return { kind: 'ignored' }
  const labels = meta.labels ?? {}
  // pullguard's own output is never an input, even if the credentials namespace were a tenant.
  if (labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) return { kind: 'ignored' }
  const shared = labels[options.sharedLabel] === 'true'
  const tenant = labels[options.tenantLabel]
  if (!shared && (tenant === undefined || tenant === '')) return { kind: 'ignored' }

  // its settings are read, and reported when bad, by the token minter
  if (secret.type === TOKEN_SOURCE_TYPE) return { kind: 'ignored' }
  const owner = shared ? null : tenant as string
  const invalid = (reason: string): SourceReading => ({ kind: 'invalid', name, tenant: owner, reason })
  const dataKey = secret.type === DOCKER_CONFIG_JSON_TYPE
    ? DOCKER_CONFIG_JSON_KEY
    : secret.type === DOCKER_CFG_TYPE ? '.dockercfg' : undefined
  if (dataKey === undefined) {
    return invalid(`type is ${secret.type ?? 'unset'}, expected ${DOCKER_CONFIG_JSON_TYPE} or ${DOCKER_CFG_TYPE}`)
  }
  const text = secretText(secret, dataKey)
  if (text === undefined) return invalid(`has no ${dataKey} key`)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return invalid(`${dataKey} is not valid JSON`)
  }
  // dockercfg is the legacy format: the registry map itself, without the `auths` wrapper.
  const auths = dataKey === '.dockercfg' ? parsed : isObject(parsed) ? parsed.auths : undefined
  if (!isObject(auths)) return invalid(`${dataKey} has no auths object`)
  if (Object.keys(auths).length === 0) return invalid(`${dataKey} has no registry entries`)
  for (const [key, entry] of Object.entries(auths)) {
    if (!isObject(entry)) return invalid(`entry for ${JSON.stringify(safeKeyScope(key))} is not an object`)
  }
  return { kind: 'source', source: { name, tenant: owner, auths } }
}

function secretText (secret: SecretObject, key: string): string | undefined {
  // stringData appears only in manifests (the API server folds it into data); it wins there too.
  const plain = secret.stringData?.[key]
  if (typeof plain === 'string') return plain
  const encoded = secret.data?.[key]
  return typeof encoded === 'string' ? Buffer.from(encoded, 'base64').toString('utf8') : undefined
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

export interface TenantCredentialSet {
  /** per tenant with sources of its own (merged with shared) */
  byTenant: Map<string, MergedCredentials>
  /** what a tenant with no sources of its own gets; undefined when there are no shared sources */
  sharedOnly: MergedCredentials | undefined
  /** every key of every source, for the registry index */
  grants: CredentialGrant[]
  conflicts: KeyConflict[]
}

/**
 * Merges sources per tenant: the tenant's own sources beat shared ones, then name order decides;
 * registry keys are emitted sorted so equal inputs give byte-equal Secrets (no needless rotations).
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

  const conflicts: KeyConflict[] = []
  const byTenant = new Map<string, MergedCredentials>()
  for (const [tenant, own] of ownByTenant) byTenant.set(tenant, merge(tenant, [...own, ...shared], conflicts))
  const sharedOnly = shared.length > 0 ? merge(null, shared, conflicts) : undefined

  const grants: CredentialGrant[] = []
  for (const source of byName) {
    for (const key of Object.keys(source.auths)) grants.push({ key, tenant: source.tenant })
  }
  return { byTenant, sharedOnly, grants, conflicts }
}

function merge (tenant: string | null, ordered: CredentialSource[], conflicts: KeyConflict[]): MergedCredentials {
  const winners = new Map<string, { entry: unknown, source: string }>()
  for (const source of ordered) {
    for (const [key, entry] of Object.entries(source.auths)) {
      const kept = winners.get(key)
      if (kept === undefined) winners.set(key, { entry, source: source.name })
      else conflicts.push({ tenant, key: safeKeyScope(key), kept: kept.source, dropped: source.name })
    }
  }
  const auths: Record<string, unknown> = {}
  for (const key of [...winners.keys()].sort(compare)) auths[key] = winners.get(key)?.entry
  const dockerConfigJson = JSON.stringify({ auths })
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
