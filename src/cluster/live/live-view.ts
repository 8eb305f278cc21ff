// Live mode: the cluster model fed by four informers (all Namespaces; the credentials namespace's
// Secrets labelled for a tenant, and those labelled shared; the managed-name Secrets across
// namespaces — never tenants' other Secrets), and the projector that writes what the model says.
// Admission reads only the model; the API is called per review only for a namespace created a moment
// ago and for the managed Secret's ensure.

import { hostname } from 'node:os'
import * as k8s from '@kubernetes/client-node'
import type { Registry } from 'prom-client'
import type { ClusterSnapshot, ManagedSecretSpec } from '../../admission/cluster-snapshot.js'
import { tenantFromLabels } from '../../admission/cluster-snapshot.js'
import { DOCKER_CFG_TYPE, DOCKER_CONFIG_JSON_TYPE, TOKEN_SOURCE_TYPE } from '../../admission/credentials.js'
import type { AdmissionOptions } from '../../admission/options.js'
import type { Logger } from '../../logging.js'
import { ClusterModel } from '../cluster-model.js'
import { storedSecret, type StoredSecret } from '../managed-secret.js'
import type { ClusterView, EnsureResult } from '../view.js'
import type { Clock } from './clock.js'
import { Informer, SECRET_PAGE_SIZE, type InformerTiming } from './informer.js'
import { LeaderElector } from './leader-elector.js'
import type { LeaseTiming } from './lease.js'
import { apiFailure, isStatus, withTimeout } from './kube-client.js'
import { registerLiveMetrics } from './live-metrics.js'
import { DEFAULT_PROJECTOR_TUNING, Projector, type ProjectorTuning } from './projector.js'
import { DEFAULT_PLUGIN_DIR } from './tokens/providers/provider.js'
import { TokenMinter, type TokenMinterOptions } from './tokens/token-minter.js'
import { registerCredentialHealthMetrics } from '../credential-metrics.js'
import { credentialEvents } from '../credential-events.js'
import { CredentialEventRecorder } from './credential-event-recorder.js'

export interface LiveClusterViewOptions {
  kubeConfig: k8s.KubeConfig
  options: AdmissionOptions
  logger: Logger
  /** the process registry; live mode's metrics are added to it */
  registry: Registry
  /** period of the full re-queue of tenant namespaces */
  resyncSeconds: number
  projector?: Partial<Omit<ProjectorTuning, 'resyncSeconds'>>
  informers?: Partial<InformerTiming>
  /** the caches' time (ages, staleness, restart pacing); tests drive it by hand */
  cacheClock?: Clock
  /**
   * One writer across replicas: only the holder of this Lease runs the reconciler. Absent: this
   * replica reconciles on its own as soon as its caches have synced (a single replica).
   */
  leaderElection?: LeaderElectionSettings
  /** the token minter's plugin directory, endpoints, timings and clocks (tests shrink or fake them) */
  tokens?: Partial<Pick<TokenMinterOptions, 'environment' | 'tuning' | 'clock' | 'epochMs' | 'random'>>
  /** the credential Events' clocks: the resync's pace and the wall time they carry (tests fake both) */
  credentialEvents?: { clock?: Clock, wallClock?: () => Date }
}

export interface LeaderElectionSettings extends LeaseTiming {
  /** where the Lease lives: pullguard's own namespace */
  namespace: string
  leaseName: string
  /** the Pod name */
  identity: string
}

export class LiveClusterView implements ClusterView {
  private readonly options: AdmissionOptions
  private readonly log: Logger
  private readonly core: k8s.CoreV1Api
  private readonly model: ClusterModel
  private readonly informers: ReadonlyArray<Informer<k8s.KubernetesObject, k8s.KubernetesObject>>
  private readonly projector: Projector
  private readonly credentialEvents: CredentialEventRecorder
  private readonly elector: LeaderElector | undefined
  private readonly tokens: TokenMinter
  private readonly lookups = new Map<string, Promise<void>>()
  private commitScheduled = false
  private synced = false
  private started = false

  constructor (live: LiveClusterViewOptions) {
    const { kubeConfig, options, logger } = live
    this.options = options
    this.log = logger.child({ component: 'live-view' })
    const core = this.core = kubeConfig.makeApiClient(k8s.CoreV1Api)
    const model = this.model = new ClusterModel(options)
    const common = {
      kubeConfig,
      logger: this.log,
      ...(live.informers !== undefined && { timing: live.informers }),
      ...(live.cacheClock !== undefined && { clock: live.cacheClock })
    }

    const namespaces = new Informer<k8s.V1Namespace>({
      ...common,
      name: 'namespaces',
      path: '/api/v1/namespaces',
      keep: keptNamespace,
      onEvent: (event, namespace) => {
        const name = namespace.metadata?.name
        if (name === undefined) return
        if (event === 'delete') {
          model.namespaceDeleted(name)
          this.projector.forget(name)
        } else {
          const changed = model.namespaceChanged(namespace)
          this.reconcile(changed)
          // a namespace joining a tenant left without credentials gets its Event
          if (changed.length > 0 && this.synced) this.credentialEvents.healthChanged()
        }
      }
    })
    // Only Secrets that can be credential sources are listed: a label selector cannot say "tenant
    // label OR shared=true", so there is one informer for each. A Secret that loses its label leaves
    // that informer as a delete (the API server reports an object that stops matching a watch's
    // selector as DELETED; a relist drops it too); one carrying both labels is in both, and is gone
    // only when neither holds it. Every version the model sees is one the Secret really had.
    const credentialsPath = `/api/v1/namespaces/${encodeURIComponent(options.credentialsNamespace)}/secrets`
    const credentialInformer = (name: string, labelSelector: string, other: () => Informer<k8s.V1Secret>): Informer<k8s.V1Secret> =>
      new Informer<k8s.V1Secret>({
        ...common,
        name,
        path: credentialsPath,
        labelSelector,
        timing: { pageSize: SECRET_PAGE_SIZE, ...live.informers },
        keep: keptCredentialSecret,
        onEvent: (event, secret) => {
          const secretName = secret.metadata?.name ?? ''
          const stillHeld = event === 'delete' ? other().get(secretName, options.credentialsNamespace) : undefined
          if (event !== 'delete') model.credentialSecretChanged(secret)
          else if (stillHeld !== undefined) model.credentialSecretChanged(stillHeld)
          else model.credentialSecretDeleted(secretName)
          if (stillHeld === undefined) this.tokens.secretChanged(event, secret)
          else this.tokens.secretChanged('update', stillHeld)
          this.scheduleCredentialCommit()
        }
      })
    const tenantCredentials: Informer<k8s.V1Secret> = credentialInformer('credentials', options.tenantLabel, () => sharedCredentials)
    const sharedCredentials: Informer<k8s.V1Secret> = credentialInformer('shared-credentials', `${options.sharedLabel}=true`, () => tenantCredentials)
    // The field selector lets RBAC grant list/watch on this one resourceName only. Kept trimmed: the
    // plan compares data by digest, so no namespace's copy of the credentials stays in memory.
    const managedSecrets = new Informer<StoredSecret, k8s.V1Secret>({
      ...common,
      name: 'managed-secrets',
      path: '/api/v1/secrets',
      fieldSelector: `metadata.name=${options.managedSecretName}`,
      timing: { pageSize: SECRET_PAGE_SIZE, ...live.informers },
      keep: storedSecret,
      onEvent: (event, secret) => {
        const namespace = secret.metadata?.namespace
        if (namespace === undefined) return
        const current = event === 'delete' ? undefined : secret
        model.managedSecretChanged(namespace, current)
        this.projector.cacheChanged(namespace, current)
      }
    })
    this.informers = [namespaces, tenantCredentials, sharedCredentials, managedSecrets] as unknown as typeof this.informers

    const metrics = registerLiveMetrics(live.registry, {
      queueDepth: () => this.projector.queueDepth,
      managedSecrets: () => model.counts().managedSecrets,
      cacheAges: () => this.informers.map(informer => [informer.name, informer.ageSeconds()])
    })
    const tuning = { ...DEFAULT_PROJECTOR_TUNING, ...live.projector }
    this.projector = new Projector({
      core,
      secretName: options.managedSecretName,
      tenantLabel: options.tenantLabel,
      desired: namespace => model.desired(namespace),
      cached: namespace => model.managedSecret(namespace),
      resyncKeys: () => model.namespacesToResync(),
      inputsFresh: namespace => this.inputsFresh(namespace),
      metrics,
      logger: this.log,
      tuning: { ...tuning, resyncSeconds: live.resyncSeconds }
    })
    // Leader only, like the reconciler: one replica mints, every replica serves what it wrote.
    this.tokens = new TokenMinter({
      ...live.tokens,
      core,
      options,
      tenantOf: namespace => model.tenantOf(namespace),
      inputsFresh: () => this.inputsFresh(),
      staleRecheckMs: tuning.staleRecheckMs,
      environment: { ...live.tokens?.environment, pluginDir: live.tokens?.environment?.pluginDir ?? DEFAULT_PLUGIN_DIR },
      logger: this.log,
      registry: live.registry
    })
    registerCredentialHealthMetrics(live.registry, () => model.credentialHealth())
    this.credentialEvents = new CredentialEventRecorder({
      events: kubeConfig.makeApiClient(k8s.EventsV1Api),
      wanted: () => credentialEvents(model.credentialHealth(), options.credentialsNamespace),
      inputsFresh: () => this.inputsFresh(),
      pace: signal => this.projector.paceCall(signal),
      instance: live.leaderElection?.identity ?? hostname(),
      resyncSeconds: live.resyncSeconds,
      callTimeoutMs: tuning.callTimeoutMs,
      staleRecheckMs: tuning.staleRecheckMs,
      logger: this.log,
      ...live.credentialEvents
    })
    const election = live.leaderElection
    this.elector = election === undefined
      ? undefined
      : new LeaderElector({
        coordination: kubeConfig.makeApiClient(k8s.CoordinationV1Api),
        namespace: election.namespace,
        name: election.leaseName,
        identity: election.identity,
        timing: election,
        canLead: () => this.inputsFresh(),
        onStartedLeading: () => this.lead(),
        onStoppedLeading: () => this.follow(),
        logger: this.log,
        registry: live.registry
      })
  }

  /** starts the informers; the projector begins once every cache has synced */
  start (): void {
    if (this.started) return
    this.started = true
    for (const informer of this.informers) informer.start()
    void this.whenSynced().then(() => {
      this.synced = true
      this.commitCredentials()
      // Leading begins with a full pass: every tenant namespace, and every managed copy left over.
      if (this.elector !== undefined) this.elector.start()
      else this.lead()
      const { namespaces, tenantNamespaces } = this.model.counts()
      this.log.info({ namespaces, tenantNamespaces }, 'live cluster view synced')
    })
  }

  /** resolves once every cache has completed its first list */
  async whenSynced (): Promise<void> {
    await Promise.all(this.informers.map(informer => informer.whenSynced()))
  }

  /** this replica runs the reconciler */
  get isLeader (): boolean {
    return this.projector.leading
  }

  /** stops writes first (in-flight ones finish, the Lease is released), then the informers */
  async stop (): Promise<void> {
    await this.elector?.stop()
    await this.credentialEvents.follow()
    await this.tokens.stop()
    await this.projector.stop()
    await Promise.all(this.informers.map(informer => informer.stop()))
  }

  isReady (): boolean {
    // Stays true through later outages: the last good cache is served, and metrics say how old it is.
    return this.informers.every(informer => informer.hasSynced)
  }

  snapshot (): ClusterSnapshot {
    return this.model
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
      tenant = tenantFromLabels(found.metadata?.labels, this.options.tenantLabel)
    } catch (err) {
      if (!isStatus(err, 404)) {
        this.log.warn({ namespace, error: apiFailure(err), timeoutMs }, 'namespace lookup failed; deciding without it')
        return
      }
      tenant = null
    }
    this.model.namespaceLookedUp(namespace, tenant)
  }

  /**
   * Every cache a write would be decided from has synced and heard from the API server lately. For
   * one namespace, a live lookup of it stands in for the namespace cache: it is newer still.
   */
  inputsFresh (namespace?: string): boolean {
    if (!this.synced) return false
    const [namespaces, ...secrets] = this.informers
    return secrets.every(informer => informer.isFresh()) &&
      (namespaces?.isFresh() === true || (namespace !== undefined && this.model.isLookedUp(namespace)))
  }

  /** Everything only the leader does: the reconciler's queue, token minting and the credential Events. */
  private lead (): void {
    this.projector.lead()
    this.tokens.lead()
    this.credentialEvents.lead()
  }

  private async follow (): Promise<void> {
    await Promise.all([this.tokens.follow(), this.projector.follow(), this.credentialEvents.follow()])
  }

  /** Before sync the first full pass covers every namespace; after it, what the model says changed. */
  private reconcile (namespaces: readonly string[]): void {
    if (!this.synced) return
    for (const namespace of namespaces) this.projector.enqueue(namespace)
  }

  private scheduleCredentialCommit (): void {
    if (this.commitScheduled) return
    this.commitScheduled = true
    // A relist delivers a whole batch of events synchronously: fold them in once, after the batch.
    queueMicrotask(() => this.commitCredentials())
  }

  private commitCredentials (): void {
    this.commitScheduled = false
    const commit = this.model.commitCredentials()
    if (commit === undefined) return
    if (commit.issues !== undefined) {
      const { conflicts, problems } = commit.issues
      if (conflicts.length === 0 && problems.length === 0) this.log.info('credential sources: no conflicts or problems left')
      else this.log.warn({ conflicts, problems }, 'credential sources: problems or registry key conflicts (see the reasons in problems)')
    }
    if (!this.synced) return
    this.credentialEvents.healthChanged()
    this.reconcile(commit.namespaces)
    this.log.info({ sources: commit.sources, tenantsChanged: commit.tenantsChanged, namespacesQueued: commit.namespaces.length }, 'credentials changed')
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
 * What the credentials caches keep: the Secret without managedFields, and without its data unless
 * its type is one a credential source (or a token source) can have. Only labelled Secrets are
 * listed; nothing reads the data of one labelled by mistake (a TLS Secret, say), whose labels and
 * type still reach the credential problems log.
 */
export function keptCredentialSecret (secret: k8s.V1Secret): k8s.V1Secret {
  const kept = withoutManagedFields(secret)
  if (kept.data == null || kept.type === DOCKER_CONFIG_JSON_TYPE || kept.type === DOCKER_CFG_TYPE || kept.type === TOKEN_SOURCE_TYPE) return kept
  const { data: _dropped, ...rest } = kept
  return rest
}
