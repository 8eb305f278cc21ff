// One typed configuration, built once at start: defaults, then the YAML file (--config), then
// PULLGUARD_* environment variables, then flags. Every problem is reported at once, each naming the
// setting the way the admin wrote it (flag, variable or file key).

import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { Ajv, type ErrorObject } from 'ajv'
import { parse as parseYaml } from 'yaml'
import { canonicalRegistry } from '../admission/credential-key.js'
import { DOCKER_HUB } from '../admission/docker-hub.js'
import { parseImageName } from '../admission/image-reference.js'
import { DEFAULT_ADMISSION_OPTIONS, type AdmissionOptions, type ForeignRegistryPolicy } from '../admission/options.js'
import { DEFAULT_LEASE_TIMING, leaseTimingProblems } from '../cluster/live/lease.js'
import { DEFAULT_REVIEW_TIMEOUTS } from '../review-service.js'
import { DEFAULT_BODY_LIMIT_BYTES, DEFAULT_SHUTDOWN_DELAY_SECONDS, type ServerSettings } from '../server/limits.js'
import { closestName } from './did-you-mean.js'

export type Command = 'review' | 'serve'

/** Every setting, under one name from flag to chart to code; the server's own are ServerSettings. */
export interface Config extends ServerSettings {
  objects: string[]
  credentialsNamespace: string
  managedSecretName: string
  foreignRegistryPolicy: ForeignRegistryPolicy
  publicRegistries: string[]
  alwaysPullExempt: string[]
  tenantLabel: string
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  kubeconfig?: string
  ensureTimeoutMs: number
  namespaceLookupTimeoutMs: number
  resyncSeconds: number
  leaderElection: boolean
  leaderElectionNamespace?: string
  leaderElectionLeaseName: string
  leaderElectionIdentity?: string
  credentialProviderDir: string
  leaseDurationSeconds: number
  renewDeadlineSeconds: number
  retryPeriodSeconds: number
}

type Kind = 'string' | 'list' | 'integer' | 'boolean'
interface Setting {
  key: keyof Config
  kind: Kind
  commands: readonly Command[]
  help: string
}

const BOTH: readonly Command[] = ['review', 'serve']
const SERVE: readonly Command[] = ['serve']

/** The settings table: flag `--kebab-case`, variable `PULLGUARD_SNAKE_CASE`, file key camelCase. */
export const SETTINGS: readonly Setting[] = [
  { key: 'objects', kind: 'list', commands: BOTH, help: 'manifest file(s) with Namespaces and Secrets (standalone mode); repeatable' },
  { key: 'credentialsNamespace', kind: 'string', commands: BOTH, help: 'namespace whose labelled Secrets are tenant credentials' },
  { key: 'managedSecretName', kind: 'string', commands: BOTH, help: 'name of the merged pull Secret kept in each tenant namespace' },
  { key: 'foreignRegistryPolicy', kind: 'string', commands: BOTH, help: 'warn | deny | ignore images in another tenant\'s registry' },
  { key: 'publicRegistries', kind: 'list', commands: BOTH, help: 'registries where a host-only credential key confers no ownership' },
  { key: 'alwaysPullExempt', kind: 'list', commands: BOTH, help: 'repositories (e.g. registry.k8s.io/pause, quay.io/org/*) that keep their pull policy' },
  { key: 'tenantLabel', kind: 'string', commands: BOTH, help: 'label key naming the tenant on Namespaces and credential Secrets' },
  { key: 'logLevel', kind: 'string', commands: BOTH, help: 'fatal | error | warn | info | debug | trace | silent' },
  { key: 'bodyLimitBytes', kind: 'integer', commands: SERVE, help: 'largest accepted request body, bytes' },
  { key: 'shutdownDelaySeconds', kind: 'integer', commands: SERVE, help: 'after SIGTERM, keep serving reviews this long, readiness failing and each answer closing its connection' },
  { key: 'host', kind: 'string', commands: SERVE, help: 'address to listen on' },
  { key: 'port', kind: 'integer', commands: SERVE, help: 'HTTPS port for /mutate, /healthz, /readyz' },
  { key: 'metricsPort', kind: 'integer', commands: SERVE, help: 'plain HTTP port for /metrics' },
  { key: 'tlsCert', kind: 'string', commands: SERVE, help: 'PEM certificate file, re-read on change (self-signed if absent)' },
  { key: 'tlsKey', kind: 'string', commands: SERVE, help: 'PEM private key file, re-read on change' },
  { key: 'kubeconfig', kind: 'string', commands: SERVE, help: 'kubeconfig for live mode outside the cluster (else KUBECONFIG, else in-cluster)' },
  { key: 'ensureTimeoutMs', kind: 'integer', commands: SERVE, help: 'budget for creating/updating the managed Secret during a review' },
  { key: 'namespaceLookupTimeoutMs', kind: 'integer', commands: SERVE, help: 'budget for a live GET of a namespace not yet cached' },
  { key: 'resyncSeconds', kind: 'integer', commands: SERVE, help: 'period of the full re-queue of tenant namespaces' },
  { key: 'leaderElection', kind: 'boolean', commands: SERVE, help: 'live mode: only the holder of a Lease writes managed Secrets (true | false)' },
  { key: 'leaderElectionNamespace', kind: 'string', commands: SERVE, help: 'namespace of the Lease (default: POD_NAMESPACE, else the credentials namespace)' },
  { key: 'leaderElectionLeaseName', kind: 'string', commands: SERVE, help: 'name of the Lease' },
  { key: 'leaderElectionIdentity', kind: 'string', commands: SERVE, help: 'holder identity (default: POD_NAME, else the host name)' },
  { key: 'credentialProviderDir', kind: 'string', commands: SERVE, help: 'directory of kubelet credential provider plugins for exec token sources ' },
  { key: 'leaseDurationSeconds', kind: 'integer', commands: SERVE, help: 'a candidate takes over a Lease left unrenewed this long' },
  { key: 'renewDeadlineSeconds', kind: 'integer', commands: SERVE, help: 'a leader that cannot renew this long stops writing' },
  { key: 'retryPeriodSeconds', kind: 'integer', commands: SERVE, help: 'interval between Lease acquire/renew attempts' }
]

export const DEFAULT_CONFIG: Config = {
  objects: [],
  credentialsNamespace: DEFAULT_ADMISSION_OPTIONS.credentialsNamespace,
  managedSecretName: DEFAULT_ADMISSION_OPTIONS.managedSecretName,
  foreignRegistryPolicy: DEFAULT_ADMISSION_OPTIONS.foreignRegistryPolicy,
  publicRegistries: DEFAULT_ADMISSION_OPTIONS.publicRegistries,
  alwaysPullExempt: [],
  tenantLabel: DEFAULT_ADMISSION_OPTIONS.tenantLabel,
  bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES,
  shutdownDelaySeconds: DEFAULT_SHUTDOWN_DELAY_SECONDS,
  logLevel: 'info',
  host: '0.0.0.0',
  port: 8443,
  metricsPort: 9090,
  ...DEFAULT_REVIEW_TIMEOUTS,
  resyncSeconds: 600,
  leaderElection: true,
  leaderElectionLeaseName: 'pullguard',
  // the live view's DEFAULT_PLUGIN_DIR (config may not import the cluster layer)
  credentialProviderDir: '/var/lib/pullguard/credential-providers',
  ...DEFAULT_LEASE_TIMING
}

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'
const DNS_SUBDOMAIN = '^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'
// A label key: optional DNS-subdomain prefix and '/', then a 63-char name.
const LABEL_KEY = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'
const port = { type: 'integer', minimum: 0, maximum: 65535 }
const positive = { type: 'integer', minimum: 1 }

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    objects: { type: 'array', items: { type: 'string', minLength: 1 } },
    credentialsNamespace: { type: 'string', pattern: DNS_LABEL },
    managedSecretName: { type: 'string', pattern: DNS_SUBDOMAIN },
    foreignRegistryPolicy: { enum: ['warn', 'deny', 'ignore'] },
    publicRegistries: { type: 'array', items: { type: 'string', minLength: 1 } },
    alwaysPullExempt: { type: 'array', items: { type: 'string', minLength: 1 } },
    tenantLabel: { type: 'string', pattern: LABEL_KEY },
    bodyLimitBytes: { type: 'integer', minimum: 1024 },
    shutdownDelaySeconds: { type: 'integer', minimum: 0, maximum: 600 },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    host: { type: 'string', minLength: 1 },
    port,
    metricsPort: port,
    tlsCert: { type: 'string', minLength: 1 },
    tlsKey: { type: 'string', minLength: 1 },
    kubeconfig: { type: 'string', minLength: 1 },
    ensureTimeoutMs: positive,
    namespaceLookupTimeoutMs: positive,
    resyncSeconds: positive,
    leaderElection: { type: 'boolean' },
    leaderElectionNamespace: { type: 'string', pattern: DNS_LABEL },
    leaderElectionLeaseName: { type: 'string', pattern: DNS_SUBDOMAIN },
    leaderElectionIdentity: { type: 'string', minLength: 1 },
    credentialProviderDir: { type: 'string', minLength: 1 },
    leaseDurationSeconds: positive,
    renewDeadlineSeconds: positive,
    retryPeriodSeconds: positive
  }
}

const validate = new Ajv({ allErrors: true, coerceTypes: true }).compile(schema)

export class ConfigError extends Error {
  constructor (readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`)
    this.name = 'ConfigError'
  }
}

export const flagOf = (key: string): string => `--${key.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)}`
export const envOf = (key: string): string => `PULLGUARD_${key.replace(/[A-Z]/g, c => `_${c}`).toUpperCase()}`

/**
 * A flag of one command only, not a setting: no environment variable and no file key, because it says
 * what this one run does (review's --output), not how pullguard behaves.
 */
export interface CommandFlag {
  /** kebab-case, without the dashes */
  name: string
  /** one letter, as kubectl's -o and -n */
  short?: string
  kind: 'string' | 'boolean'
  help: string
  /** the value's name in usage, e.g. NAME */
  placeholder?: string
  default?: string
  choices?: readonly string[]
}

/** What a command takes besides the settings. */
export interface CommandLine {
  flags?: readonly CommandFlag[]
  /** how many positional arguments it accepts; more are problems. Default 0. */
  positionals?: number
  /** settings the command cannot run without, each with what it is for */
  required?: ReadonlyArray<{ key: keyof Config, why: string }>
}

export interface LoadedConfig {
  config: Config
  /** where each non-default value came from, for the start-up log */
  origins: Partial<Record<keyof Config, string>>
  /** the command flags given (CommandLine.flags) by name, defaults filled in, choices checked */
  flags: Record<string, string | boolean | undefined>
  positionals: string[]
}

/**
 * Builds the config for a command from argv (after the command word), the environment and the file.
 * Problems with the command line (unknown flags, with a suggestion; missing values) are reported with
 * those of the settings, all at once.
 */
export function loadConfig (command: Command, argv: readonly string[], env: NodeJS.ProcessEnv, line: CommandLine = {}): LoadedConfig {
  const settings = SETTINGS.filter(s => s.commands.includes(command))
  const commandFlags = line.flags ?? []
  const { values, positionals, problems } = parseCommandLine(command, settings, commandFlags, argv)
  for (const extra of positionals.slice(line.positionals ?? 0)) problems.push(`unexpected argument ${JSON.stringify(extra)}`)

  type Layer = { name: (key: string) => string, values: Record<string, unknown> }
  const layers: Layer[] = []
  const file = (values.config as string | undefined) ?? env.PULLGUARD_CONFIG
  if (file !== undefined) {
    const fileValues = readConfigFile(file, problems)
    layers.push({ name: key => `${file}: ${key}`, values: fileValues })
  }
  const fromEnv: Record<string, unknown> = {}
  for (const setting of settings) {
    const value = env[envOf(setting.key)]
    if (value !== undefined) fromEnv[setting.key] = value
  }
  layers.push({ name: envOf, values: fromEnv })
  const fromFlags: Record<string, unknown> = {}
  for (const setting of settings) {
    const value = values[setting.key]
    if (value !== undefined) fromFlags[setting.key] = value
  }
  layers.push({ name: flagOf, values: fromFlags })

  const merged: Record<string, unknown> = { ...DEFAULT_CONFIG }
  const origins: Record<string, string> = {}
  for (const layer of layers) {
    for (const [key, raw] of Object.entries(layer.values)) {
      const setting = SETTINGS.find(s => s.key === key)
      if (setting === undefined || !setting.commands.includes(command)) {
        const meant = setting === undefined ? closestName(key, settings.map(s => s.key)) : undefined
        problems.push(`${layer.name(key)}: unknown setting for ${command}${meant === undefined ? '' : `; did you mean ${meant}?`}`)
        continue
      }
      merged[key] = setting.kind === 'list' ? toList(raw) : raw
      origins[key] = layer.name(key)
    }
  }

  if (!validate(merged)) {
    for (const error of validate.errors ?? []) problems.push(describeError(error, origins))
  }
  const config = merged as unknown as Config
  for (const { key, why } of line.required ?? []) {
    const value = config[key]
    if (value === undefined || (Array.isArray(value) && value.length === 0)) problems.push(`${command} needs ${flagOf(key)} (${why})`)
  }
  problems.push(...crossChecks(config))
  const flags: Record<string, string | boolean | undefined> = {}
  for (const flag of commandFlags) {
    const value = values[flag.name] ?? flag.default
    if (flag.choices !== undefined && typeof value === 'string' && !flag.choices.includes(value)) {
      problems.push(`--${flag.name}: must be equal to one of the allowed values (${flag.choices.join(', ')})`)
    }
    flags[flag.name] = value as string | boolean | undefined
  }
  if (problems.length > 0) throw new ConfigError(problems)
  config.alwaysPullExempt = config.alwaysPullExempt.map(pattern => normaliseExemption(pattern) ?? pattern)
  return { config, origins, flags, positionals: positionals.slice(0, line.positionals ?? 0) }
}

export function admissionOptionsOf (config: Config): AdmissionOptions {
  return {
    ...DEFAULT_ADMISSION_OPTIONS,
    tenantLabel: config.tenantLabel,
    credentialsNamespace: config.credentialsNamespace,
    managedSecretName: config.managedSecretName,
    foreignRegistryPolicy: config.foreignRegistryPolicy,
    publicRegistries: config.publicRegistries,
    alwaysPullExempt: config.alwaysPullExempt
  }
}

/**
 * parseArgs in its lenient mode, then the strict checks made here, so that every problem is collected
 * instead of the first one thrown, and an unknown flag can come with a suggestion.
 */
function parseCommandLine (command: Command, settings: readonly Setting[], commandFlags: readonly CommandFlag[], argv: readonly string[]):
{ values: Record<string, unknown>, positionals: string[], problems: string[] } {
  const options: Record<string, { type: 'string' | 'boolean', short?: string, multiple?: boolean }> = { config: { type: 'string' } }
  for (const setting of settings) {
    options[flagOf(setting.key).slice(2)] = { type: 'string', ...(setting.kind === 'list' && { multiple: true }) }
  }
  for (const flag of commandFlags) options[flag.name] = { type: flag.kind, ...(flag.short !== undefined && { short: flag.short }) }
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true })

  // Keyed by flag spelling, then mapped back to config keys; command flags keep their spelling.
  const byFlag: Record<string, unknown> = {}
  const positionals: string[] = []
  const problems: string[] = []
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]
    if (token === undefined || token.kind === 'option-terminator') continue
    if (token.kind === 'positional') {
      positionals.push(token.value)
      continue
    }
    const option = options[token.name]
    if (option === undefined) {
      problems.push(unknownFlag(command, token.rawName, token.name, Object.keys(options)))
      // `--objectz cluster.yaml`: the word after a misspelt flag is its value, not an argument.
      const next = tokens[i + 1]
      if (token.value === undefined && next?.kind === 'positional' && next.index === token.index + 1) i++
      continue
    }
    if (option.type === 'boolean') {
      if (token.inlineValue === true) problems.push(`${token.rawName}: takes no value`)
      else byFlag[token.name] = true
      continue
    }
    if (token.value === undefined) {
      problems.push(`${token.rawName}: needs a value`)
      continue
    }
    if (token.inlineValue === false && token.value.startsWith('-') && token.value !== '-') {
      // parseArgs' strict mode refuses this too: `--objects --port 1` is a forgotten value, not a file.
      problems.push(`${token.rawName}: needs a value, got the flag ${token.value} (write ${token.rawName}=${token.value} if that is the value)`)
      continue
    }
    byFlag[token.name] = option.multiple === true ? [...(byFlag[token.name] as string[] | undefined ?? []), token.value] : token.value
  }
  const values: Record<string, unknown> = {}
  for (const [flag, value] of Object.entries(byFlag)) {
    const setting = settings.find(s => flagOf(s.key) === `--${flag}`)
    values[setting?.key ?? flag] = value
  }
  return { values, positionals, problems }
}

function unknownFlag (command: Command, rawName: string, name: string, known: readonly string[]): string {
  const elsewhere = SETTINGS.find(s => flagOf(s.key) === `--${name}`)
  if (elsewhere !== undefined) return `${rawName}: a flag of ${elsewhere.commands.join(' and ')}, not of ${command}`
  if (!rawName.startsWith('--')) return `${rawName}: unknown flag`
  const meant = closestName(name, [...known, 'help'])
  return `${rawName}: unknown flag${meant === undefined ? '' : `; did you mean --${meant}?`}`
}

function readConfigFile (file: string, problems: string[]): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    problems.push(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
    return {}
  }
  let parsed: unknown
  try {
    parsed = parseYaml(text)
  } catch (error) {
    problems.push(`${file}: invalid YAML: ${(error as Error).message.split('\n')[0] ?? ''}`)
    return {}
  }
  if (parsed === null || parsed === undefined) return {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`${file}: must be a YAML mapping of settings`)
    return {}
  }
  return parsed as Record<string, unknown>
}

/** Flags may repeat and each may hold a comma-separated list; files may use YAML lists. */
function toList (raw: unknown): unknown {
  const items = Array.isArray(raw) ? raw : [raw]
  return items.flatMap(item => typeof item === 'string' ? item.split(',').map(s => s.trim()).filter(s => s !== '') : [item])
}

function describeError (error: ErrorObject, origins: Record<string, string>): string {
  const key = error.instancePath.split('/')[1] ?? String(error.params.additionalProperty ?? '')
  const where = origins[key] ?? key
  const allowed = error.keyword === 'enum' ? ` (${(error.params.allowedValues as unknown[]).join(', ')})` : ''
  const detail = error.keyword === 'pattern' ? 'is not a valid name' : error.message ?? 'is invalid'
  return `${where}: ${detail}${allowed}`
}

function crossChecks (config: Config): string[] {
  const problems: string[] = []
  for (const problem of leaseTimingProblems(config)) problems.push(`leader election: ${problem}`)
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    problems.push(`${flagOf('tlsCert')} and ${flagOf('tlsKey')} must be given together`)
  }
  for (const pattern of config.alwaysPullExempt ?? []) {
    if (typeof pattern === 'string' && normaliseExemption(pattern) === undefined) {
      problems.push(`${flagOf('alwaysPullExempt')}: ${JSON.stringify(pattern)} is not a repository name`)
    }
  }
  return problems
}

/**
 * `nginx` → `docker.io/library/nginx`. A wildcard names a prefix, not an image, so no `library/`:
 * `registry.k8s.io/*` stays a whole registry and `bitnami/*` becomes `docker.io/bitnami/*`.
 */
function normaliseExemption (pattern: string): string | undefined {
  if (!pattern.endsWith('/*')) return parseImageName(pattern)?.name
  const [first = '', ...rest] = pattern.slice(0, -2).split('/')
  const isHost = first.includes('.') || first.includes(':') || first === 'localhost'
  const prefix = isHost ? [canonicalRegistry(first), ...rest].join('/') : `${DOCKER_HUB}/${[first, ...rest].join('/')}`
  // Valid when some image below the prefix is a valid reference.
  return parseImageName(`${prefix}/x`)?.name === `${prefix}/x` ? `${prefix}/*` : undefined
}
