// The Secret a minted token is written as: an ordinary kubernetes.io/dockerconfigjson Secret in the
// credentials namespace with its source's tenant or shared label, so the merge and projection take
// it like any static source. What the minter must remember across leaders (when it was minted, when
// to refresh, when it expires, from which version of the source) rides along as annotations; an
// ownerReference to the source lets the garbage collector remove it with the source. Pure.

import { DOCKER_CONFIG_JSON_KEY, DOCKER_CONFIG_JSON_TYPE, type CredentialSourceOptions, type SecretObject } from '../../../admission/credentials.js'
import { DERIVED_SUFFIX, type TokenSource } from '../../tokens/token-source.js'

/** on every derived Secret: the minter lists and deletes only Secrets that carry it */
export const DERIVED_LABEL = 'pullguard.dev/derived-from-token-source'
export const SOURCE_ANNOTATION = 'pullguard.dev/token-source'
const SOURCE_VERSION_ANNOTATION = 'pullguard.dev/token-source-version'
const PROVIDER_ANNOTATION = 'pullguard.dev/token-provider'
const MINTED_AT_ANNOTATION = 'pullguard.dev/token-minted-at'
const REFRESH_AT_ANNOTATION = 'pullguard.dev/token-refresh-at'
const EXPIRES_AT_ANNOTATION = 'pullguard.dev/token-expires-at'

/** a registry login as the kubelet reads it from dockerconfigjson */
export interface RegistryLogin {
  username: string
  password: string
}

export interface MintedToken {
  /** registry key (host, host/path or a kubelet glob) → login */
  logins: Record<string, RegistryLogin>
  expiresAtMs: number
}

/** A derived Secret as the minter reads it back from the cache. */
export interface DerivedToken {
  secretName: string
  resourceVersion: string
  source: string
  owner: string | null
  provider: string
  sourceVersion: string
  mintedAtMs: number
  refreshAtMs: number
  expiresAtMs: number
}

export function derivedSecretName (source: string): string {
  return `${source}${DERIVED_SUFFIX}`
}

// Refresh between 40 % and 60 % of the lifetime: half, as the issue asks, spread so that sources
// minted together (a leader's first pass) do not all refresh in the same instant.
const REFRESH_AT_FRACTION = 0.5
const REFRESH_JITTER_FRACTION = 0.1

/** when a token minted at `mintedAtMs` should be replaced; `random` in [0, 1) */
export function refreshAtMs (mintedAtMs: number, expiresAtMs: number, random: number): number {
  const lifetime = Math.max(0, expiresAtMs - mintedAtMs)
  return Math.round(mintedAtMs + lifetime * (REFRESH_AT_FRACTION + (random * 2 - 1) * REFRESH_JITTER_FRACTION))
}

export interface DerivedSecretInput {
  source: TokenSource
  token: MintedToken
  mintedAtMs: number
  refreshAtMs: number
  /** the current derived Secret's resourceVersion, for a replace */
  resourceVersion?: string
}

/** the body to create or replace */
export interface DerivedSecretBody extends SecretObject {
  apiVersion: 'v1'
  kind: 'Secret'
  metadata: NonNullable<SecretObject['metadata']> & { ownerReferences: Array<{ apiVersion: string, kind: string, name: string, uid: string }> }
}

export function derivedSecretBody (input: DerivedSecretInput, options: CredentialSourceOptions): DerivedSecretBody {
  const { source, token } = input
  const auths: Record<string, unknown> = {}
  for (const key of Object.keys(token.logins).sort()) {
    const { username, password } = token.logins[key] as RegistryLogin
    auths[key] = { username, password, auth: Buffer.from(`${username}:${password}`).toString('base64') }
  }
  const owner = source.owner === null ? { [options.sharedLabel]: 'true' } : { [options.tenantLabel]: source.owner }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: derivedSecretName(source.name),
      namespace: options.credentialsNamespace,
      ...(input.resourceVersion !== undefined && { resourceVersion: input.resourceVersion }),
      labels: { ...owner, [DERIVED_LABEL]: 'true' },
      annotations: {
        [SOURCE_ANNOTATION]: source.name,
        [SOURCE_VERSION_ANNOTATION]: source.version,
        [PROVIDER_ANNOTATION]: source.settings.provider,
        [MINTED_AT_ANNOTATION]: new Date(input.mintedAtMs).toISOString(),
        [REFRESH_AT_ANNOTATION]: new Date(input.refreshAtMs).toISOString(),
        [EXPIRES_AT_ANNOTATION]: new Date(token.expiresAtMs).toISOString()
      },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Secret', name: source.name, uid: source.uid }]
    },
    type: DOCKER_CONFIG_JSON_TYPE,
    data: { [DOCKER_CONFIG_JSON_KEY]: Buffer.from(JSON.stringify({ auths })).toString('base64') }
  }
}

/** a derived Secret of the credentials namespace, or undefined for any other Secret */
export function readDerivedToken (secret: SecretObject, options: CredentialSourceOptions): DerivedToken | undefined {
  const meta = secret.metadata ?? {}
  const labels = meta.labels ?? {}
  if (meta.namespace !== options.credentialsNamespace || labels[DERIVED_LABEL] !== 'true' || meta.name === undefined) return undefined
  const annotations = meta.annotations ?? {}
  const time = (key: string): number => {
    const ms = Date.parse(annotations[key] ?? '')
    // unreadable: treat as due (refresh) or expired, never as good forever
    return Number.isNaN(ms) ? 0 : ms
  }
  const tenant = labels[options.tenantLabel]
  return {
    secretName: meta.name,
    resourceVersion: meta.resourceVersion ?? '',
    source: annotations[SOURCE_ANNOTATION] ?? '',
    owner: labels[options.sharedLabel] === 'true' ? null : tenant ?? '',
    provider: annotations[PROVIDER_ANNOTATION] ?? 'unknown',
    sourceVersion: annotations[SOURCE_VERSION_ANNOTATION] ?? '',
    mintedAtMs: time(MINTED_AT_ANNOTATION),
    refreshAtMs: time(REFRESH_AT_ANNOTATION),
    expiresAtMs: time(EXPIRES_AT_ANNOTATION)
  }
}
