// Live mode: the cluster view backed by three informers (all Namespaces; the Secrets of the
// credentials namespace; the managed-name Secrets across namespaces — never tenants' other Secrets)
// and the projector that writes the managed Secrets. Admission reads only these caches; the API is
// called per review only for a namespace created a moment ago and for the managed Secret's ensure.

import * as k8s from '@kubernetes/client-node'
import type { Registry } from 'prom-client'
import { DOCKER_CFG_TYPE, DOCKER_CONFIG_JSON_TYPE, type SecretObject } from '../../admission/credentials.js'
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, type AdmissionOptions } from '../../admission/options.js'
import { admissionOptionsOf, type Config } from '../../config/config.js'
import type { Logger } from '../../logging.js'
import type { Metrics } from '../../server/metrics.js'
import { CredentialState } from '../credential-state.js'
import type { ClusterSnapshot, ClusterView, EnsureResult, ManagedSecretSpec } from '../view.js'
import { Informer, SECRET_PAGE_SIZE, type InformerEvent, type InformerTiming } from './informer.js'
import { apiFailure, isStatus, loadKubeConfig, withTimeout } from './kube-client.js'
import { registerLiveMetrics } from './live-metrics.js'
import { storedSecret, type StoredSecret } from '../managed-secret.js'
import { DEFAULT_PROJECTOR_TUNING, Projector, type ProjectorTuning } from './projector.js'

export interface LiveClusterViewOptions {
  kubeConfig: k8s.KubeConfig
  options: AdmissionOptions
  logger: Logger
  /** the process registry (Metrics.registry); live mode's metrics are added to it */
  registry: Registry
  /** period of the full re-queue of tenant namespaces */
  resyncSeconds: number
  projector?: Partial<Omit<ProjectorTuning, 'resyncSeconds'>>
  informers?: Partial<InformerTiming>
}

// Namespaces answered by a live GET before the informer caught up; the informer replaces them within
// seconds, so this only fills under a flood of brand-new namespaces. Oldest dropped first.
const LOOKUP_CACHE_LIMIT = 10_000

export class LiveClusterView implements ClusterView {
  private readonly options: AdmissionOptions
  private readonly log: Logger
  private readonly core: k8s.CoreV1Api
  private readonly namespaces: Informer<k8s.V1Namespace>
  private readonly credentialSecrets: Informer<k8s.V1Secret>
  private readonly managedSecrets: Informer<StoredSecret, k8s.V1Secret>
  private readonly projector: Projector
  /** namespace → tenant (null: not a tenant), from the namespace informer */
  private readonly tenants = new Map<string, string | null>()
  private readonly terminating = new Set<string>()
  private readonly lookedUp = new Map<string, string | null>()
  private readonly lookups = new Map<string, Promise<void>>()
  private credentials: CredentialState
  private credentialsDirty = false
  private credentialProblems = '[]'
  private synced = false
  private started = false

  constructor (live: LiveClusterViewOptions) {
    const { kubeConfig, options, logger } = live
    this.options = options
    this.log = logger.child({ component: 'live-view' })
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api)
    this.credentials = CredentialState.empty(options)
    const core = this.core
    const common = { kubeConfig, logger: this.log, ...(live.informers !== undefined && { timing: live.informers }) }

    this.namespaces = new Informer<k8s.V1Namespace>({
      ...common,
      name: 'namespaces',
      path: '/api/v1/namespaces',
      keep: keptNamespace,
      onEvent: (event, namespace) => this.namespaceChanged(event, namespace)
    })
    this.credentialSecrets = new Informer<k8s.V1Secret>({
      ...common,
      name: 'credentials',
      path: `/api/v1/namespaces/${encodeURIComponent(options.credentialsNamespace)}/secrets`,
      timing: { pageSize: SECRET_PAGE_SIZE, ...live.informers },
      keep: keptCredentialSecret,
      onEvent: () => this.credentialsChanged()
    })
    // The field selector lets RBAC grant list/watch on this one resourceName only. Kept trimmed: the
    // projector compares data by digest, so no namespace's copy of the credentials stays in memory.
    this.managedSecrets = new Informer<StoredSecret, k8s.V1Secret>({
      ...common,
      name: 'managed-secrets',
      path: '/api/v1/secrets',
      fieldSelector: `metadata.name=${options.managedSecretName}`,
      timing: { pageSize: SECRET_PAGE_SIZE, ...live.informers },
      keep: storedSecret,
      onEvent: (event, secret) => {
        const namespace = secret.metadata?.namespace
        if (namespace !== undefined) this.projector.cacheChanged(namespace, event === 'delete' ? undefined : secret)
      }
    })

    const informers = [this.namespaces, this.credentialSecrets, this.managedSecrets]
    const metrics = registerLiveMetrics(live.registry, {
      queueDepth: () => this.projector.queueDepth,
      managedSecrets: () => this.managedSecrets.list().filter(s => s.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE).length,
      cacheAges: () => informers.map(informer => [informer.name, informer.ageSeconds()])
    })
    this.projector = new Projector({
      core,
      secretName: options.managedSecretName,
      tenantLabel: options.tenantLabel,
      desired: namespace => this.desired(namespace),
      cached: namespace => this.managedSecrets.get(options.managedSecretName, namespace),
      resyncKeys: () => this.resyncKeys(),
      metrics,
      logger: this.log,
      tuning: { ...DEFAULT_PROJECTOR_TUNING, ...live.projector, resyncSeconds: live.resyncSeconds }
    })
  }

  /** starts the informers; the projector begins once every cache has synced */
  start (): void {
    if (this.started) return
    this.started = true
    for (const informer of this.informers()) informer.start()
    this.whenSynced().then(() => {
      this.synced = true
      this.credentialsDirty = true
      this.refreshCredentials()
      this.projector.start()
      // The first pass: every tenant namespace, and every managed Secret that may be left over.
      this.projector.resync()
      this.log.info({ namespaces: this.tenants.size, tenantNamespaces: this.tenantNamespaceCount() }, 'live cluster view synced')
    }, () => {})
  }

  /** resolves once every cache has completed its first list */
  async whenSynced (): Promise<void> {
    await Promise.all(this.informers().map(informer => informer.whenSynced()))
  }

  /** stops writes first (in-flight ones finish), then the informers */
  async stop (): Promise<void> {
    await this.projector.stop()
    await Promise.all(this.informers().map(informer => informer.stop()))
  }

  isReady (): boolean {
    // Stays true through later outages: the last good cache is served, and metrics say how old it is.
    return this.informers().every(informer => informer.hasSynced)
  }

  snapshot (): ClusterSnapshot {
    this.refreshCredentials()
    const credentials = this.credentials
    return {
      tenantOf: namespace => this.tenantOf(namespace),
      credentialsOf: tenant => credentials.credentialsOf(tenant),
      registries: credentials.registries
    }
  }

  /** concurrent reviews in one brand-new namespace (a Deployment's Pods) share one GET */
  lookupNamespace (namespace: string, timeoutMs: number): Promise<void> {
    const pending = this.lookups.get(namespace)
    if (pending !== undefined) return pending
    const lookup = this.fetchNamespace(namespace, timeoutMs).finally(() => this.lookups.delete(namespace))
    this.lookups.set(namespace, lookup)
    return lookup
  }

  async ensureManagedSecret (spec: ManagedSecretSpec, timeoutMs: number): Promise<EnsureResult> {
    if (!this.synced) {
      // Without the managed-secret cache every write would be a guess; the queue does it after sync.
      this.projector.enqueue(spec.namespace)
      return { outcome: 'failed', message: 'caches not synced yet' }
    }
    return this.projector.ensure(spec.namespace, timeoutMs)
  }

  private async fetchNamespace (namespace: string, timeoutMs: number): Promise<void> {
    let tenant: string | null
    try {
      const found = await this.core.readNamespace({ name: namespace }, withTimeout(timeoutMs))
      tenant = this.tenantLabelOf(found)
    } catch (err) {
      if (!isStatus(err, 404)) {
        this.log.warn({ namespace, error: apiFailure(err), timeoutMs }, 'namespace lookup failed; deciding without it')
        return
      }
      tenant = null
    }
    // The informer's word wins: it may already hold a newer state than this GET saw.
    if (this.tenants.has(namespace)) return
    if (this.lookedUp.size >= LOOKUP_CACHE_LIMIT) this.lookedUp.delete(this.lookedUp.keys().next().value as string)
    this.lookedUp.set(namespace, tenant)
  }

  private informers (): Array<Informer<k8s.V1Namespace> | Informer<k8s.V1Secret> | Informer<StoredSecret, k8s.V1Secret>> {
    return [this.namespaces, this.credentialSecrets, this.managedSecrets]
  }

  private tenantOf (namespace: string): string | null | undefined {
    return this.tenants.has(namespace) ? this.tenants.get(namespace) : this.lookedUp.get(namespace)
  }

  private tenantLabelOf (namespace: k8s.V1Namespace): string | null {
    const tenant = namespace.metadata?.labels?.[this.options.tenantLabel]
    return tenant === undefined || tenant === '' ? null : tenant
  }

  private namespaceChanged (event: InformerEvent, namespace: k8s.V1Namespace): void {
    const name = namespace.metadata?.name
    if (name === undefined) return
    this.lookedUp.delete(name)
    if (event === 'delete') {
      // Its Secrets go with it (the namespace controller deletes them): nothing to reconcile.
      this.tenants.delete(name)
      this.terminating.delete(name)
      this.projector.forget(name)
      return
    }
    if (namespace.status?.phase === 'Terminating') this.terminating.add(name)
    else this.terminating.delete(name)
    const tenant = this.tenantLabelOf(namespace)
    const before = this.tenants.get(name)
    this.tenants.set(name, tenant)
    // Before sync the first full pass covers every namespace; after it, only a change of tenant matters.
    if (this.synced && before !== tenant) this.projector.enqueue(name)
  }

  private credentialsChanged (): void {
    if (this.credentialsDirty) return
    this.credentialsDirty = true
    // A relist delivers a whole batch of events synchronously: rebuild once, after the batch.
    queueMicrotask(() => this.refreshCredentials())
  }

  /** rebuilds merged credentials if sources changed, and queues the namespaces whose content changed */
  private refreshCredentials (): void {
    if (!this.credentialsDirty) return
    this.credentialsDirty = false
    const previous = this.credentials
    const next = CredentialState.build(this.credentialSecrets.list() as SecretObject[], this.options)
    this.credentials = next
    this.reportCredentialProblems(next)
    if (!this.synced) return

    // Only namespaces whose merged content changed; a tenant's answer is computed once, not per namespace.
    const changedByTenant = new Map<string, boolean>()
    let queued = 0
    for (const [namespace, tenant] of [...this.tenants, ...this.lookedUp]) {
      if (tenant === null) continue
      let changed = changedByTenant.get(tenant)
      if (changed === undefined) {
        changed = previous.credentialsOf(tenant)?.contentHash !== next.credentialsOf(tenant)?.contentHash
        changedByTenant.set(tenant, changed)
      }
      if (changed) {
        this.projector.enqueue(namespace)
        queued++
      }
    }
    const tenantsChanged = [...changedByTenant.values()].filter(Boolean).length
    this.log.info({ sources: this.credentialSecrets.list().length, tenantsChanged, namespacesQueued: queued }, 'credentials changed')
  }

  /** conflicts and unusable sources, logged once per change of the set (names and keys, never data) */
  private reportCredentialProblems (state: CredentialState): void {
    const { conflicts, problems } = state.issues()
    const signature = JSON.stringify([conflicts, problems])
    if (signature === this.credentialProblems) return
    this.credentialProblems = signature
    if (conflicts.length === 0 && problems.length === 0) this.log.info('credential sources: no conflicts or problems left')
    else this.log.warn({ conflicts, problems }, 'credential sources: registry key conflicts or unusable Secrets')
  }

  private desired (namespace: string): ManagedSecretSpec | null | undefined {
    const tenant = this.tenantOf(namespace)
    if (tenant === undefined || this.terminating.has(namespace)) return undefined
    if (tenant === null) return null
    this.refreshCredentials()
    const credentials = this.credentials.credentialsOf(tenant)
    if (credentials === undefined) return null
    return {
      namespace,
      name: this.options.managedSecretName,
      tenant,
      dockerConfigJson: credentials.dockerConfigJson,
      contentHash: credentials.contentHash
    }
  }

  private * resyncKeys (): Iterable<string> {
    const seen = new Set<string>()
    for (const [namespace, tenant] of [...this.tenants, ...this.lookedUp]) {
      if (tenant !== null) seen.add(namespace)
    }
    // A copy in a namespace that stopped being a tenant is removed even if that event was missed.
    for (const secret of this.managedSecrets.list()) {
      if (secret.metadata?.namespace !== undefined) seen.add(secret.metadata.namespace)
    }
    yield * seen
  }

  private tenantNamespaceCount (): number {
    let count = 0
    for (const tenant of this.tenants.values()) if (tenant !== null) count++
    return count
  }
}

/**
 * What the namespace cache keeps: name, uid, resourceVersion, labels, deletion time and phase. Nothing
 * else is read, and annotations (kubectl's last-applied-configuration) and managedFields are often
 * the bulk of a Namespace on a real cluster.
 */
export function keptNamespace (namespace: k8s.V1Namespace): k8s.V1Namespace {
  const meta = namespace.metadata ?? {}
  const metadata: k8s.V1ObjectMeta = {}
  if (meta.name !== undefined) metadata.name = meta.name
  if (meta.uid !== undefined) metadata.uid = meta.uid
  if (meta.resourceVersion !== undefined) metadata.resourceVersion = meta.resourceVersion
  if (meta.labels != null) metadata.labels = meta.labels
  if (meta.deletionTimestamp != null) metadata.deletionTimestamp = meta.deletionTimestamp
  const kept: k8s.V1Namespace = { metadata }
  if (namespace.status?.phase !== undefined) kept.status = { phase: namespace.status.phase }
  return kept
}

/** The object without metadata.managedFields (server-side apply bookkeeping, never read here). */
export function withoutManagedFields<T extends k8s.KubernetesObject> (object: T): T {
  if (object.metadata?.managedFields == null) return object
  const { managedFields: _dropped, ...metadata } = object.metadata
  return { ...object, metadata }
}

/**
 * What the credentials cache keeps: the Secret without managedFields, and without its data unless
 * its type is one a credential source can have. Nothing reads the data of the others (a Helm
 * release, the webhook's TLS Secret) when they share the credentials namespace; their labels and
 * type still reach the credential problems log.
 */
export function keptCredentialSecret (secret: k8s.V1Secret): k8s.V1Secret {
  const kept = withoutManagedFields(secret)
  if (kept.data == null || kept.type === DOCKER_CONFIG_JSON_TYPE || kept.type === DOCKER_CFG_TYPE) return kept
  const { data: _dropped, ...rest } = kept
  return rest
}

export interface LiveModeDeps {
  logger: Logger
  metrics: Metrics
}

/**
 * `pullguard serve` without --objects: the kubeconfig as kubectl finds it, the view started (not yet
 * synced: /readyz turns 200 once it is). Throws only for an unusable kubeconfig. Stop with `stop()`.
 */
export function startLiveClusterView (config: Config, { logger, metrics }: LiveModeDeps): LiveClusterView {
  const { kubeConfig, source, server } = loadKubeConfig({ ...(config.kubeconfig !== undefined && { file: config.kubeconfig }) })
  logger.info({ kubeconfig: source, server, resyncSeconds: config.resyncSeconds }, 'live mode: watching the cluster')
  const view = new LiveClusterView({
    kubeConfig,
    options: admissionOptionsOf(config),
    logger,
    registry: metrics.registry,
    resyncSeconds: config.resyncSeconds
  })
  view.start()
  return view
}
