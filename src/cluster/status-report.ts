// `pullguard status` as data: from one reading of the cluster (manifests, or one list of each resource
// through the API), what an admin checks first — tenants and their namespaces, each credential source
// and what is wrong with it, each tenant namespace's managed Secret against what it should hold, who
// leads, and when the webhook's certificate runs out — plus the list of what needs attention, which
// decides the exit code. Pure: the CLI reads, parses the certificate and keeps the clock.

import { safeKeyScope } from '../admission/credential-key.js'
import { UNUSABLE_SOURCE_REASONS } from '../admission/credential-problems.js'
import type { SecretObject } from '../admission/credentials.js'
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, type AdmissionOptions } from '../admission/options.js'
import { ClusterModel, type NamespaceObject } from './cluster-model.js'
import { planManagedSecret, storedSecret } from './managed-secret.js'
import { readSource } from './tokens/source-reading.js'

export type StatusOptions = Pick<AdmissionOptions,
  'tenantLabel' | 'sharedLabel' | 'credentialsNamespace' | 'managedSecretName' | 'publicRegistries'>

/** coordination.k8s.io/v1 Lease, the fields status reads (times as served: RFC 3339 strings, or Dates) */
export interface LeaseObject {
  metadata?: { name?: string, namespace?: string }
  spec?: {
    holderIdentity?: string | null
    leaseDurationSeconds?: number | null
    renewTime?: string | Date | null
    leaseTransitions?: number | null
  }
}

/** What the caller learnt of the serving certificate, or why it could not. */
export type CertificateReading =
  | { kind: 'read', source: string, subject: string, notAfter: Date }
  | { kind: 'unreadable', source: string, reason: string }
  | { kind: 'not-checked', reason: string }

/** How fresh one input is: when it was read (and the resourceVersion or file it came from). */
export interface InputReading {
  name: string
  /** where it came from: a file, or an API collection */
  from: string
  readAt: Date
  /** a file's mtime: the reading is only as fresh as the file */
  asOf?: Date
  resourceVersion?: string
}

export interface StatusInput {
  namespaces: readonly NamespaceObject[]
  /** Secrets of the credentials namespace and Secrets of the managed name anywhere; others are skipped */
  secrets: readonly SecretObject[]
  /** the leader election Lease; undefined: none exists; 'not-checked': the reading cannot say (offline without one) */
  lease: LeaseObject | undefined | { notChecked: string }
  leaseName: string
  certificate: CertificateReading
  inputs: readonly InputReading[]
  /** whatever the reading cannot tell (e.g. the replicas' own cache ages), said once */
  notes: readonly string[]
  now: Date
  /** a certificate expiring within this many days needs attention */
  certificateWarningDays: number
  options: StatusOptions
}

export type SourceHealth = 'ok' | 'degraded' | 'unusable'

export interface SourceStatus {
  name: string
  /** null: shared */
  tenant: string | null
  health: SourceHealth
  /** its usable keys by safeKeyScope */
  keys: string[]
  problems: Array<{ reason: string, scope?: string, message: string }>
}

export interface TenantStatus {
  tenant: string
  namespaces: string[]
  /** merged credentials' sources, in precedence order; empty: no credentials */
  sources: string[]
  /** a source meant for it is unusable and it is left with none */
  withoutCredentials: boolean
}

export type ManagedSecretState =
  | 'in-sync'
  /** it exists as ours but differs from what the tenant's credentials merge into, or should be gone */
  | 'out-of-sync'
  /** a Secret of the managed name without pullguard's managed-by label: never overwritten */
  | 'conflicting'
  | 'missing'
  /** the tenant has no credentials, and there is no copy: nothing to hold */
  | 'not-needed'
  | 'terminating'

export interface ManagedSecretStatus {
  namespace: string
  /** null: the namespace is no tenant (a left-over copy) */
  tenant: string | null
  state: ManagedSecretState
  detail: string
}

export type LeaderStatus =
  | { state: 'held', holder: string, renewTime: string, leaseDurationSeconds: number, expired: boolean, secondsSinceRenew: number }
  | { state: 'released' | 'absent' | 'not-checked', detail: string }

export type CertificateStatus =
  | { state: 'valid' | 'expiring' | 'expired', source: string, subject: string, notAfter: string, daysLeft: number }
  | { state: 'unreadable', source: string, detail: string }
  | { state: 'not-checked', detail: string }

export interface StatusReport {
  generatedAt: string
  tenants: TenantStatus[]
  sources: SourceStatus[]
  managedSecrets: ManagedSecretStatus[]
  leader: LeaderStatus
  certificate: CertificateStatus
  inputs: Array<{ name: string, from: string, readAt: string, ageSeconds: number, resourceVersion?: string }>
  notes: string[]
  /** every finding that makes `status` exit non-zero; empty: all is well */
  attention: string[]
}

const DAY_MS = 24 * 3600 * 1000

/** The model of one reading: what serve's caches would hold after listing the same objects. */
export function modelOf (namespaces: readonly NamespaceObject[], secrets: readonly SecretObject[], options: StatusOptions): ClusterModel {
  const model = new ClusterModel(options)
  for (const namespace of namespaces) model.namespaceChanged(namespace)
  for (const secret of secrets) {
    const namespace = secret.metadata?.namespace
    if (namespace === options.credentialsNamespace) model.credentialSecretChanged(secret)
    if (namespace !== undefined && secret.metadata?.name === options.managedSecretName) model.managedSecretChanged(namespace, storedSecret(secret))
  }
  model.commitCredentials()
  return model
}

export function statusReport (input: StatusInput): StatusReport {
  const { options, now } = input
  const model = modelOf(input.namespaces, input.secrets, options)
  const health = model.credentialHealth()
  const attention: string[] = []

  const sources = sourceStatuses(input.secrets, options, health.problems)
  for (const source of sources) {
    for (const problem of source.problems) {
      attention.push(`source ${source.name}: ${problem.reason}${problem.scope !== undefined ? ` ${JSON.stringify(problem.scope)}` : ''}`)
    }
  }

  const without = new Set(health.tenantsWithoutCredentials.map(t => t.tenant))
  const byTenant = new Map<string, string[]>()
  const managedSecrets: ManagedSecretStatus[] = []
  const seen = new Set<string>()
  for (const namespace of [...input.namespaces].sort(byName)) {
    const name = namespace.metadata?.name
    if (name === undefined || seen.has(name)) continue
    seen.add(name)
    const tenant = model.tenantOf(name) ?? null
    if (tenant !== null) byTenant.set(tenant, [...byTenant.get(tenant) ?? [], name])
    const status = managedSecretStatus(model, name, tenant, options)
    if (status === undefined) continue
    managedSecrets.push(status)
    if (status.state === 'out-of-sync' || status.state === 'conflicting' || status.state === 'missing') {
      attention.push(`managed Secret ${name}/${options.managedSecretName}: ${status.state}`)
    }
  }
  const tenants: TenantStatus[] = [...byTenant].sort(([a], [b]) => compare(a, b)).map(([tenant, namespaces]) => ({
    tenant,
    namespaces,
    sources: model.credentialsOf(tenant)?.sources ?? [],
    withoutCredentials: without.has(tenant)
  }))
  for (const tenant of tenants) if (tenant.withoutCredentials) attention.push(`tenant ${tenant.tenant}: TenantWithoutCredentials`)

  const leader = leaderStatus(input.lease, input.leaseName, now)
  if (leader.state === 'absent' || leader.state === 'released') attention.push(`leader: none (${leader.detail})`)
  if (leader.state === 'held' && leader.expired) attention.push(`leader: lease of ${leader.holder} expired ${leader.secondsSinceRenew - leader.leaseDurationSeconds} s ago`)

  const certificate = certificateStatus(input.certificate, now, input.certificateWarningDays)
  if (certificate.state === 'expired') attention.push(`certificate: expired ${certificate.notAfter}`)
  if (certificate.state === 'expiring') attention.push(`certificate: expires in ${certificate.daysLeft} days (${certificate.notAfter}), within ${input.certificateWarningDays}`)
  if (certificate.state === 'unreadable') attention.push(`certificate: unreadable (${certificate.detail})`)

  return {
    generatedAt: now.toISOString(),
    tenants,
    sources,
    managedSecrets,
    leader,
    certificate,
    inputs: input.inputs.map(reading => ({
      name: reading.name,
      from: reading.from,
      readAt: (reading.asOf ?? reading.readAt).toISOString(),
      ageSeconds: Math.max(0, Math.floor((now.getTime() - (reading.asOf ?? reading.readAt).getTime()) / 1000)),
      ...(reading.resourceVersion !== undefined && { resourceVersion: reading.resourceVersion })
    })),
    notes: [...input.notes],
    attention
  }
}

function sourceStatuses (secrets: readonly SecretObject[], options: StatusOptions, problems: ReturnType<ClusterModel['credentialHealth']>['problems']): SourceStatus[] {
  const statuses: SourceStatus[] = []
  for (const secret of secrets) {
    const reading = readSource(secret, options)
    if (reading.kind === 'ignored') continue
    const name = reading.kind === 'source' ? reading.source.name : reading.name
    const tenant = reading.kind === 'source' ? reading.source.tenant : reading.tenant
    const own = problems.filter(problem => problem.secret === name)
    const unusable = reading.kind === 'invalid' || own.some(problem => UNUSABLE_SOURCE_REASONS.has(problem.reason))
    statuses.push({
      name,
      tenant,
      health: unusable ? 'unusable' : own.length > 0 ? 'degraded' : 'ok',
      keys: reading.kind === 'source' ? Object.keys(reading.source.auths).map(safeKeyScope).sort(compare) : [],
      problems: own.map(({ reason, scope, message }) => ({ reason, ...(scope !== undefined && { scope }), message }))
    })
  }
  return statuses.sort((a, b) => compare(a.name, b.name))
}

/** the plan the reconciler would make for this namespace, read as a state; undefined: nothing to say */
export function managedSecretStatus (model: ClusterModel, namespace: string, tenant: string | null, options: StatusOptions): ManagedSecretStatus | undefined {
  const desired = model.desired(namespace)
  const stored = model.managedSecret(namespace)
  if (desired === undefined) {
    return tenant === null ? undefined : { namespace, tenant, state: 'terminating', detail: 'the namespace is being deleted' }
  }
  const ours = stored?.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE
  if (desired === null) {
    // a tenant without credentials, or no tenant: a copy of ours there is a left-over to delete
    if (stored === undefined) return tenant === null ? undefined : { namespace, tenant, state: 'not-needed', detail: `tenant ${tenant} has no credentials` }
    if (!ours) return tenant === null ? undefined : { namespace, tenant, state: 'conflicting', detail: `a Secret without ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE} holds the name` }
    return { namespace, tenant, state: 'out-of-sync', detail: tenant === null ? 'left over in a namespace that is no tenant: to be deleted' : `tenant ${tenant} has no credentials: to be deleted` }
  }
  const plan = planManagedSecret(desired, stored, options.tenantLabel)
  switch (plan.action) {
    case 'none': return { namespace, tenant, state: 'in-sync', detail: `holds ${desired.tenant}'s merged credentials` }
    case 'create': return { namespace, tenant, state: 'missing', detail: 'to be created' }
    case 'conflict': return { namespace, tenant, state: 'conflicting', detail: `a Secret without ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE} holds the name; pullguard never overwrites it` }
    case 'replace': return { namespace, tenant, state: 'out-of-sync', detail: 'content differs from the merged credentials: to be rewritten' }
    case 'delete': return { namespace, tenant, state: 'out-of-sync', detail: 'wrong type or immutable: to be recreated' }
  }
}

function leaderStatus (lease: StatusInput['lease'], leaseName: string, now: Date): LeaderStatus {
  if (lease !== undefined && 'notChecked' in lease) return { state: 'not-checked', detail: lease.notChecked }
  if (lease === undefined) return { state: 'absent', detail: `no Lease ${leaseName}: no replica has led yet, or leader election is off` }
  const spec = lease.spec ?? {}
  const holder = spec.holderIdentity ?? ''
  if (holder === '') return { state: 'released', detail: `Lease ${leaseName} released by its last holder, not taken since` }
  const renewed = spec.renewTime == null ? undefined : new Date(spec.renewTime)
  const duration = spec.leaseDurationSeconds ?? 0
  if (renewed === undefined || Number.isNaN(renewed.getTime())) {
    return { state: 'held', holder, renewTime: '', leaseDurationSeconds: duration, expired: true, secondsSinceRenew: Infinity }
  }
  // Our clock against the holder's: a few seconds of skew can make a live lease look a moment late.
  const secondsSinceRenew = Math.max(0, Math.floor((now.getTime() - renewed.getTime()) / 1000))
  return { state: 'held', holder, renewTime: renewed.toISOString(), leaseDurationSeconds: duration, expired: secondsSinceRenew > duration, secondsSinceRenew }
}

function certificateStatus (reading: CertificateReading, now: Date, warningDays: number): CertificateStatus {
  if (reading.kind === 'not-checked') return { state: 'not-checked', detail: reading.reason }
  if (reading.kind === 'unreadable') return { state: 'unreadable', source: reading.source, detail: reading.reason }
  const leftMs = reading.notAfter.getTime() - now.getTime()
  const daysLeft = Math.floor(leftMs / DAY_MS)
  const state = leftMs < 0 ? 'expired' : leftMs < warningDays * DAY_MS ? 'expiring' : 'valid'
  return { state, source: reading.source, subject: reading.subject, notAfter: reading.notAfter.toISOString(), daysLeft }
}

const byName = (a: NamespaceObject, b: NamespaceObject): number => compare(a.metadata?.name ?? '', b.metadata?.name ?? '')

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
