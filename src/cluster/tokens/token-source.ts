// A token source: a Secret of type pullguard.dev/token-source in the credentials namespace, labelled
// like any credential Secret (tenant or shared), whose string data says how to mint a short-lived
// registry token. A Secret rather than a custom resource: it inherits the credentials namespace's
// RBAC, the label rules and the relabel guard, needs no CRD installed, and its data is as private as
// the static credentials beside it. Pure: reading one never throws and never quotes a value.

import { TOKEN_SOURCE_TYPE, type CredentialSourceOptions, type SecretObject } from '../../admission/credentials.js'
import { parseImageName } from '../../admission/image-reference.js'
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../admission/options.js'
import { parseGoDuration } from './go-duration.js'

export type ProviderName = 'ecr' | 'google' | 'exec'

export interface EcrSettings {
  provider: 'ecr'
  region: string
  /** assumed with pullguard's own identity, so the token covers only what this role may pull */
  roleArn?: string
  externalId?: string
  /** AWS account ids of the registries; empty: the caller's own */
  registryIds: string[]
}

export interface GoogleSettings {
  provider: 'google'
  /** the registry hosts the access token is written for, e.g. europe-docker.pkg.dev, gcr.io */
  registries: string[]
  /** impersonated with pullguard's own identity (needs roles/iam.serviceAccountTokenCreator on it) */
  serviceAccount?: string
}

export interface ExecSettings {
  provider: 'exec'
  /** a file name in the plugin directory, as the kubelet's --image-credential-provider-bin-dir */
  command: string
  args: string[]
  env: Record<string, string>
  /** one CredentialProviderRequest per image; the plugin answers for its registry */
  images: string[]
  /** how long a response without cacheDuration is kept */
  defaultCacheDurationMs: number
  /** service-account-token mode: a token for this ServiceAccount of one of the tenant's namespaces */
  serviceAccount?: { namespace: string, name: string, audience: string }
}

export type TokenSettings = EcrSettings | GoogleSettings | ExecSettings

export interface TokenSource {
  name: string
  uid: string
  /** the Secret's resourceVersion: a token minted from an older one is minted again */
  version: string
  /** null: shared with every tenant */
  owner: string | null
  settings: TokenSettings
}

export type TokenSourceReading =
  | { kind: 'ignored' }
  | { kind: 'invalid', name: string, owner: string | null, reason: string }
  | { kind: 'source', source: TokenSource }

const DEFAULT_EXEC_CACHE_DURATION_MS = 60 * 60_000

const COMMON_KEYS = ['provider']
const KEYS: Record<ProviderName, readonly string[]> = {
  ecr: ['region', 'roleArn', 'externalId', 'registryIds'],
  google: ['registries', 'serviceAccount'],
  exec: ['command', 'args', 'env', 'images', 'defaultCacheDuration', 'serviceAccount', 'audience']
}

const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/
// STS: 2-1224 characters of [\w+=,.@:/-]
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/
const ACCOUNT_ID = /^\d{12}$/
const HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/
const SERVICE_ACCOUNT_EMAIL = /^[a-z0-9-]+@[a-z0-9.-]+$/
// a file name only: no path, so a source can never run anything outside the plugin directory
const PLUGIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** the derived Secret's name: `<source>-token`, so a source name may be at most 247 characters */
export const DERIVED_SUFFIX = '-token'
const SECRET_NAME_MAX = 253

/** Reads one Secret as a token source. Reasons name settings, never their values. */
export function readTokenSource (secret: SecretObject & { metadata?: { uid?: string } }, options: CredentialSourceOptions): TokenSourceReading {
  const meta = secret.metadata ?? {}
  const name = meta.name ?? ''
  if (secret.type !== TOKEN_SOURCE_TYPE || meta.namespace !== options.credentialsNamespace || name === '') return { kind: 'ignored' }
  const labels = meta.labels ?? {}
  if (labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) return { kind: 'ignored' }
  const shared = labels[options.sharedLabel] === 'true'
  const tenant = labels[options.tenantLabel]
  if (!shared && (tenant === undefined || tenant === '')) return { kind: 'ignored' }
  const owner = shared ? null : tenant as string

  const data = stringData(secret)
  const problems: string[] = []
  if (name.length + DERIVED_SUFFIX.length > SECRET_NAME_MAX) problems.push(`name is longer than ${SECRET_NAME_MAX - DERIVED_SUFFIX.length} characters, leaving no room for its derived Secret's name`)
  const provider = data.provider
  let settings: TokenSettings | undefined
  if (provider === undefined) problems.push('has no provider (ecr, google or exec)')
  else if (provider !== 'ecr' && provider !== 'google' && provider !== 'exec') problems.push(`provider ${JSON.stringify(clip(provider))} is not one of ecr, google, exec`)
  else {
    const allowed = new Set([...COMMON_KEYS, ...KEYS[provider]])
    for (const key of Object.keys(data).sort()) {
      if (!allowed.has(key)) problems.push(`setting ${JSON.stringify(clip(key))} is not one of ${[...allowed].join(', ')} (provider ${provider})`)
    }
    settings = provider === 'ecr' ? ecrSettings(data, problems) : provider === 'google' ? googleSettings(data, problems) : execSettings(data, owner, problems)
  }
  if (problems.length > 0 || settings === undefined) return { kind: 'invalid', name, owner, reason: problems.join('; ') }
  return { kind: 'source', source: { name, uid: meta.uid ?? '', version: meta.resourceVersion ?? '', owner, settings } }
}

function ecrSettings (data: Record<string, string>, problems: string[]): EcrSettings {
  const { region = '', roleArn, externalId } = data
  if (!AWS_REGION.test(region)) problems.push(region === '' ? 'ecr needs a region' : 'region is not an AWS region name (e.g. eu-west-1)')
  if (roleArn !== undefined && !ROLE_ARN.test(roleArn)) problems.push('roleArn is not an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)')
  if (externalId !== undefined) {
    if (roleArn === undefined) problems.push('externalId needs a roleArn to go with')
    if (!EXTERNAL_ID.test(externalId)) problems.push('externalId must be 2-1224 characters of letters, digits and +=,.@:/-_')
  }
  const registryIds = list(data.registryIds)
  if (registryIds.some(id => !ACCOUNT_ID.test(id))) problems.push('registryIds must be 12-digit AWS account ids, comma-separated')
  return { provider: 'ecr', region, ...(roleArn !== undefined && { roleArn }), ...(externalId !== undefined && { externalId }), registryIds }
}

function googleSettings (data: Record<string, string>, problems: string[]): GoogleSettings {
  const registries = list(data.registries)
  if (registries.length === 0) problems.push('google needs registries (comma-separated hosts, e.g. europe-docker.pkg.dev)')
  else if (registries.some(host => !HOST.test(host))) problems.push('registries must be registry hosts (host[:port], lower case), comma-separated')
  const { serviceAccount } = data
  if (serviceAccount !== undefined && !SERVICE_ACCOUNT_EMAIL.test(serviceAccount)) problems.push('serviceAccount must be a service account e-mail (name@project.iam.gserviceaccount.com)')
  return { provider: 'google', registries, ...(serviceAccount !== undefined && { serviceAccount }) }
}

function execSettings (data: Record<string, string>, owner: string | null, problems: string[]): ExecSettings {
  const { command = '' } = data
  if (command === '') problems.push('exec needs a command (a plugin file name in the plugin directory)')
  else if (!PLUGIN_NAME.test(command)) problems.push('command must be a plain file name in the plugin directory, without a path')
  const args = jsonOf(data.args, 'args', problems, (value): value is string[] => Array.isArray(value) && value.every(item => typeof item === 'string'), 'a JSON array of strings') ?? []
  const env = jsonOf(data.env, 'env', problems, (value): value is Record<string, string> =>
    typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every(item => typeof item === 'string'), 'a JSON object of strings') ?? {}
  const images = list(data.images)
  if (images.length === 0) problems.push('exec needs images (comma-separated image references the plugin is asked for)')
  else if (images.some(image => parseImageName(image) === undefined)) problems.push('images must be valid image references, comma-separated')
  let defaultCacheDurationMs = DEFAULT_EXEC_CACHE_DURATION_MS
  if (data.defaultCacheDuration !== undefined) {
    const parsed = parseGoDuration(data.defaultCacheDuration)
    if (parsed === undefined || parsed <= 0) problems.push('defaultCacheDuration must be a positive duration such as 30m or 1h30m')
    else defaultCacheDurationMs = parsed
  }
  const settings: ExecSettings = { provider: 'exec', command, args, env, images, defaultCacheDurationMs }
  const { serviceAccount, audience } = data
  if (serviceAccount === undefined) {
    if (audience !== undefined) problems.push('audience goes with serviceAccount (service-account-token mode)')
    return settings
  }
  const [namespace = '', name = '', ...rest] = serviceAccount.split('/')
  if (rest.length > 0 || !DNS_LABEL.test(namespace) || !DNS_SUBDOMAIN.test(name)) problems.push('serviceAccount must be <namespace>/<name>')
  if (owner === null) problems.push('serviceAccount needs a tenant\'s source: a shared source has no namespace of its own')
  if (audience === undefined || audience === '') problems.push('serviceAccount needs the audience the plugin expects')
  settings.serviceAccount = { namespace, name, audience: audience ?? '' }
  return settings
}

function jsonOf<T> (text: string | undefined, key: string, problems: string[], check: (value: unknown) => value is T, shape: string): T | undefined {
  if (text === undefined) return undefined
  try {
    const value: unknown = JSON.parse(text)
    if (check(value)) return value
  } catch {
    // reported below, like a wrong shape
  }
  problems.push(`${key} must be ${shape}`)
  return undefined
}

function list (text: string | undefined): string[] {
  return (text ?? '').split(',').map(item => item.trim()).filter(item => item !== '')
}

function stringData (secret: SecretObject): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(secret.data ?? {})) if (typeof value === 'string') out[key] = Buffer.from(value, 'base64').toString('utf8').trim()
  // stringData appears only in manifests; it wins there, as the API server would fold it
  for (const [key, value] of Object.entries(secret.stringData ?? {})) if (typeof value === 'string') out[key] = value.trim()
  return out
}

// Keys and provider names are quoted in reasons (they are not secrets), but bounded.
function clip (text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}
