// The write path: keeps each namespace's managed Secret equal to what the caches say it should be.
// Key = namespace. Informer events and a periodic resync queue keys; workers plan from the caches and
// write with resourceVersion preconditions. A write that loses a race (409, or 404 on a replace)
// re-reads the Secret and plans again, so replicas running side by side converge on the same bytes
// without leader election. Admission-time ensures run the same reconcile, outside the queue but
// serialised with it per namespace.

import { hostname } from 'node:os'
import * as k8s from '@kubernetes/client-node'
import type { Logger } from '../../logging.js'
import type { ManagedSecretSpec } from '../../admission/cluster-snapshot.js'
import type { EnsureResult } from '../view.js'
import { apiFailure, callOptions, isStatus } from './kube-client.js'
import type { LiveMetrics, ReconcileResult } from './live-metrics.js'
import { reconcileStep, storedSecret, type ReconcileCaller, type StoredSecret } from '../managed-secret.js'
import { RateLimiter } from './rate-limiter.js'
import { WorkQueue } from './work-queue.js'

export interface ProjectorTuning {
  /** namespaces reconciled at once by the queue */
  workers: number
  /** token bucket for the queue's API calls (admission-time ensures bypass it) */
  callsPerSecond: number
  callBurst: number
  /** per-namespace retry backoff: first delay, doubling, capped */
  retryBaseDelayMs: number
  retryMaxDelayMs: number
  /** one API call from the queue */
  callTimeoutMs: number
  /**
   * A change seen on a managed Secret is rechecked only after this delay. Watches of different
   * resources are not ordered: another replica's write, made for a credential or namespace change,
   * can arrive before that change itself. Rechecking at once would revert it from stale sources.
   */
  settleDelayMs: number
  /**
   * While a write's inputs are stale (or not yet watching, just after the first list), look again this
   * often. The leader's other writers (token minter, credential Events) use the same period.
   */
  staleRecheckMs: number
  /** re-queue every tenant namespace this often (compares against the cache; writes only on drift) */
  resyncSeconds: number
}

// 4 workers × 50 calls/s (burst 100): a full fill or a shared-credential rotation over 10,000
// namespaces takes ~3.5 min and never puts more than 4 requests in flight; a real apiserver serves
// that easily (controller-manager's own clients run at 20–50 QPS). Pods admitted meanwhile do not
// wait: the admission-time ensure writes their namespace's Secret directly.
export const DEFAULT_PROJECTOR_TUNING: Omit<ProjectorTuning, 'resyncSeconds'> = {
  workers: 4,
  callsPerSecond: 50,
  callBurst: 100,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 5 * 60_000,
  callTimeoutMs: 10_000,
  // watch events of one change reach all watches within milliseconds on a healthy apiserver
  settleDelayMs: 2_000,
  staleRecheckMs: 1_000
}

// A write that keeps losing races is more likely a bug than contention: give up, the queue retries.
const MAX_ATTEMPTS = 4

/** the queue should look again after this long, instead of writing now */
interface Deferred {
  deferMs: number
}

export interface ProjectorDeps {
  core: k8s.CoreV1Api
  secretName: string
  tenantLabel: string
  /**
   * What the namespace's managed Secret should hold right now; null: it should not exist;
   * undefined: the caches do not know the namespace (or it is terminating), so leave it alone.
   */
  desired: (namespace: string) => ManagedSecretSpec | null | undefined
  /** the Secret with the managed name in that namespace, as the cache has it (trimmed by storedSecret()) */
  cached: (namespace: string) => StoredSecret | undefined
  /** the namespaces a resync re-checks */
  resyncKeys: () => Iterable<string>
  /** every cache this namespace's write is decided from is synced and fresh; no write is made otherwise */
  inputsFresh: (namespace: string) => boolean
  metrics: LiveMetrics
  logger: Logger
  tuning: ProjectorTuning
}

/** A write was due but the caches it would be decided from are stale: left to a healthy replica. */
class StaleInputsError extends Error {
  constructor () {
    super('caches not fresh: the write is left to a replica whose view is current')
    this.name = 'StaleInputsError'
  }
}

export class Projector {
  /** the reconciler's queue: exists only while this replica leads (see lead()) */
  private queue: WorkQueue | undefined
  private readonly limiter: RateLimiter
  private readonly log: Logger
  /**
   * What our own writes (and re-reads) left, per namespace, until the cache reports any change there:
   * fresher than the cache in the moment between a write and its watch event, which saves a
   * doomed write and its 409. Kept only if no cache event for that namespace arrived meanwhile
   * (`cacheTicks`), so it can never hide a later change made by someone else.
   */
  private readonly written = new Map<string, StoredSecret | null>()
  private readonly cacheTicks = new Map<string, number>()
  /**
   * Per namespace with a write in flight: the resourceVersions the cache reported meanwhile (null:
   * deleted). The watch often delivers our own write before its response; only the others count as
   * changes made by someone else (see settleWrite).
   */
  private readonly duringWrite = new Map<string, Array<string | null>>()
  /** when the cache last saw this namespace's managed Secret change */
  private readonly changedAt = new Map<string, number>()
  private readonly inFlight = new Map<string, Promise<void>>()
  /** resourceVersion of the foreign Secret last reported per namespace: report once, not per resync */
  private readonly reported = new Map<string, string>()
  private readonly stopping = new AbortController()
  private resyncTimer: NodeJS.Timeout | undefined

  constructor (private readonly deps: ProjectorDeps) {
    this.log = deps.logger.child({ component: 'projector' })
    this.limiter = new RateLimiter(deps.tuning.callsPerSecond, deps.tuning.callBurst)
  }

  get queueDepth (): number {
    return this.queue?.depth ?? 0
  }

  get leading (): boolean {
    return this.queue !== undefined
  }

  /** waits for a slot of the queue's API call budget: the leader's other calls (credential Events) share it */
  paceCall (signal: AbortSignal): Promise<void> {
    return this.limiter.take(signal)
  }

  /** queue a namespace for the reconciler; nothing to do on a replica that does not lead */
  enqueue (namespace: string): void {
    this.queue?.add(namespace)
  }

  /**
   * The cache saw this namespace's managed Secret change (`current` undefined: deleted). Trust the
   * cache again; unless this is our own write coming back, check the result once it has settled.
   */
  cacheChanged (namespace: string, current: StoredSecret | undefined): void {
    const mine = this.written.get(namespace)
    const echo = mine === null
      ? current === undefined
      : mine !== undefined && mine.metadata?.resourceVersion === current?.metadata?.resourceVersion
    this.written.delete(namespace)
    this.cacheTicks.set(namespace, (this.cacheTicks.get(namespace) ?? 0) + 1)
    if (echo) return
    const during = this.duringWrite.get(namespace)
    if (during !== undefined) {
      during.push(current === undefined ? null : current.metadata?.resourceVersion ?? '')
      return
    }
    this.changedAt.set(namespace, performance.now())
    this.queue?.addAfter(namespace, this.deps.tuning.settleDelayMs)
  }

  /** the namespace is gone: drop what is remembered about it */
  forget (namespace: string): void {
    this.written.delete(namespace)
    this.duringWrite.delete(namespace)
    this.cacheTicks.delete(namespace)
    this.changedAt.delete(namespace)
    this.reported.delete(namespace)
  }

  /**
   * This replica leads (call once every cache has synced): a fresh queue, a first full pass over
   * every namespace, then a resync every resyncSeconds. Only the leader runs the reconciler.
   */
  lead (): void {
    if (this.queue !== undefined || this.stopping.signal.aborted) return
    const { tuning } = this.deps
    const queue = this.queue = new WorkQueue({
      concurrency: tuning.workers,
      baseDelayMs: tuning.retryBaseDelayMs,
      maxDelayMs: tuning.retryMaxDelayMs,
      process: async namespace => {
        const result = await this.serialized(namespace, () => this.reconcile(namespace, this.stopping.signal, 'queue'))
        if (typeof result === 'object') queue.addAfter(namespace, result.deferMs)
        else this.deps.metrics.reconciles.inc({ result })
      },
      onFailure: (namespace, err, failures, retryInMs) => {
        this.deps.metrics.reconciles.inc({ result: 'error' })
        this.log.warn({ namespace, error: apiFailure(err), failures, retryInMs }, 'reconcile failed; will retry')
      }
    })
    queue.start()
    this.resync()
    this.resyncTimer = setInterval(() => this.resync(), tuning.resyncSeconds * 1000)
    this.resyncTimer.unref()
  }

  /** leadership ended: drop the queue's pending work; resolves once the reconciles in flight finish */
  async follow (): Promise<void> {
    clearInterval(this.resyncTimer)
    const queue = this.queue
    this.queue = undefined
    await queue?.stop()
  }

  resync (): void {
    const queue = this.queue
    if (queue === undefined) return
    let queued = 0
    for (const namespace of this.deps.resyncKeys()) {
      queue.add(namespace)
      queued++
    }
    this.log.debug({ namespaces: queued }, 'resync queued')
  }

  async stop (): Promise<void> {
    clearInterval(this.resyncTimer)
    this.stopping.abort(new Error('pullguard is stopping'))
    this.limiter.releaseAll()
    await this.follow()
  }

  /**
   * The admission-time ensure: reconcile this namespace now, within the budget, bypassing the queue
   * but never running alongside its reconcile of the same namespace. Never throws; on failure the
   * queue takes over with its backoff.
   */
  async ensure (namespace: string, timeoutMs: number): Promise<EnsureResult> {
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(timeoutMs)])
    try {
      const outcome = await untilAborted(this.serialized(namespace, () => this.reconcile(namespace, signal, 'admission')), signal)
      const result = typeof outcome === 'object' ? 'unchanged' : outcome // only the queue defers
      this.deps.metrics.reconciles.inc({ result })
      if (result === 'conflict') {
        return { outcome: 'conflict', message: `Secret ${namespace}/${this.deps.secretName} exists and is not managed by pullguard` }
      }
      return { outcome: result === 'created' || result === 'updated' ? result : 'unchanged' }
    } catch (err) {
      this.deps.metrics.reconciles.inc({ result: 'error' })
      const error = apiFailure(err)
      if (err instanceof StaleInputsError) this.log.warn({ namespace }, 'admission-time ensure skipped: caches not fresh')
      else this.log.warn({ namespace, error, timeoutMs }, 'admission-time ensure failed; queued for retry')
      this.queue?.add(namespace)
      return { outcome: 'failed', message: error.message }
    }
  }

  /** one namespace's reconcile at a time, whoever asks (queue worker or admission) */
  private serialized<R> (namespace: string, work: () => Promise<R>): Promise<R> {
    const previous = this.inFlight.get(namespace)
    const run = previous === undefined ? work() : previous.then(work)
    const settled = run.then(() => {}, () => {})
    this.inFlight.set(namespace, settled)
    void settled.then(() => {
      if (this.inFlight.get(namespace) === settled) this.inFlight.delete(namespace)
    })
    return run
  }

  private async reconcile (namespace: string, signal: AbortSignal, from: ReconcileCaller): Promise<ReconcileResult | Deferred> {
    const { core, secretName: name, tenantLabel } = this.deps
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted()
      if (attempt > 2 * MAX_ATTEMPTS) throw new Error('reconcile did not settle')
      const tick = this.cacheTicks.get(namespace) ?? 0
      const remember = (secret: StoredSecret | null): void => {
        if ((this.cacheTicks.get(namespace) ?? 0) === tick) this.written.set(namespace, secret)
        else this.written.delete(namespace)
      }
      const desired = this.deps.desired(namespace)
      const next = reconcileStep({
        desired,
        stored: this.written.has(namespace) ? this.written.get(namespace) ?? undefined : this.deps.cached(namespace),
        caller: from,
        msSinceChange: performance.now() - (this.changedAt.get(namespace) ?? -Infinity),
        settleDelayMs: this.deps.tuning.settleDelayMs,
        tenantLabel
      })
      if (next.step === 'leave') return 'unchanged'
      if (next.step === 'defer') return { deferMs: next.deferMs }
      const { plan } = next
      if (plan.action !== 'conflict') this.reported.delete(namespace)
      // Never write from a view that may be behind the API server: another replica's may not be.
      if (plan.action !== 'none' && plan.action !== 'conflict' && !this.deps.inputsFresh(namespace)) {
        if (from === 'queue') return { deferMs: this.deps.tuning.staleRecheckMs }
        throw new StaleInputsError()
      }
      try {
        switch (plan.action) {
          case 'none':
            return 'unchanged'
          case 'conflict':
            await this.reportConflict(namespace, plan.existing, signal, from)
            return 'conflict'
          case 'create': {
            const options = await this.options(signal, from)
            const created = await this.write(namespace, () => core.createNamespacedSecret({ namespace, body: plan.body as k8s.V1Secret }, options),
              secret => secret.metadata?.resourceVersion ?? '')
            remember(storedSecret(created))
            this.log.info({ namespace, secret: name, tenant: desired?.tenant, contentHash: desired?.contentHash }, 'managed secret created')
            return 'created'
          }
          case 'replace': {
            const options = await this.options(signal, from)
            const replaced = await this.write(namespace, () => core.replaceNamespacedSecret({ name, namespace, body: plan.body as k8s.V1Secret }, options),
              secret => secret.metadata?.resourceVersion ?? '')
            remember(storedSecret(replaced))
            this.log.info({ namespace, secret: name, tenant: desired?.tenant, contentHash: desired?.contentHash }, 'managed secret updated')
            return 'updated'
          }
          case 'delete': {
            const options = await this.options(signal, from)
            await this.write(namespace, () => core.deleteNamespacedSecret({ name, namespace, body: { preconditions: { resourceVersion: plan.resourceVersion } } },
              options), () => null)
            remember(null)
            this.log.info({ namespace, secret: name, recreate: plan.recreate }, 'managed secret deleted')
            if (plan.recreate) continue
            return 'deleted'
          }
        }
      } catch (err) {
        if (plan.action === 'create' && isStatus(err, 404)) {
          // the namespace itself is gone (or going): nothing left to reconcile
          this.log.debug({ namespace }, 'namespace gone before its managed secret was created')
          return 'unchanged'
        }
        if (plan.action === 'delete' && isStatus(err, 404)) {
          remember(null)
          if (plan.recreate) continue
          return 'unchanged'
        }
        const lostRace = isStatus(err, 409) || (plan.action === 'replace' && isStatus(err, 404))
        if (!lostRace || attempt >= MAX_ATTEMPTS) throw err
        // Someone else (another replica, an admin) changed it first: read what is there, plan again.
        this.log.debug({ namespace, action: plan.action, error: apiFailure(err) }, 'write lost a race; re-reading')
        remember(await this.read(namespace, signal, from) ?? null)
      }
    }
  }

  /** one write, with the cache events that arrive while it is in flight held for settleWrite */
  private async write<T> (namespace: string, call: () => Promise<T>, versionOf: (result: T) => string | null): Promise<T> {
    this.duringWrite.set(namespace, [])
    try {
      const result = await call()
      this.settleWrite(namespace, versionOf(result))
      return result
    } catch (err) {
      this.settleWrite(namespace, undefined)
      throw err
    }
  }

  /** what the cache reported during a write, other than the write itself (`mine`), is someone else's change */
  private settleWrite (namespace: string, mine: string | null | undefined): void {
    const seen = this.duringWrite.get(namespace) ?? []
    this.duringWrite.delete(namespace)
    if (seen.every(version => version === mine)) return
    this.changedAt.set(namespace, performance.now())
    this.queue?.addAfter(namespace, this.deps.tuning.settleDelayMs)
  }

  private async read (namespace: string, signal: AbortSignal, from: ReconcileCaller): Promise<StoredSecret | undefined> {
    try {
      return storedSecret(await this.deps.core.readNamespacedSecret({ name: this.deps.secretName, namespace }, await this.options(signal, from)))
    } catch (err) {
      if (isStatus(err, 404)) return undefined
      throw err
    }
  }

  private async reportConflict (namespace: string, existing: StoredSecret, signal: AbortSignal, from: ReconcileCaller): Promise<void> {
    // Reported by the reconciler, which runs on the leader only: one report, not one per replica.
    if (from !== 'queue') return
    const version = existing.metadata?.resourceVersion ?? ''
    if (this.reported.get(namespace) === version) return
    this.reported.set(namespace, version)
    this.deps.metrics.conflicts.inc()
    const name = this.deps.secretName
    this.log.warn({ namespace, secret: name },
      'a Secret with the managed name exists without the managed-by label; pullguard leaves it untouched')
    // Tell the namespace's users where they look (kubectl get events); best effort.
    const now = new Date()
    try {
      await this.deps.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${name}.`, namespace },
          involvedObject: { apiVersion: 'v1', kind: 'Secret', name, namespace, uid: existing.metadata?.uid },
          reason: 'ManagedSecretConflict',
          message: `Secret ${name} is not labelled app.kubernetes.io/managed-by=pullguard, so pullguard leaves it untouched ` +
            'and cannot install registry credentials here; delete or rename it to let pullguard manage it',
          type: 'Warning',
          source: { component: 'pullguard' },
          reportingComponent: 'pullguard',
          reportingInstance: hostname(),
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1
        }
      }, await this.options(signal, from))
    } catch (err) {
      this.log.debug({ namespace, error: apiFailure(err) }, 'could not record the conflict event')
    }
  }

  private async options (signal: AbortSignal, from: ReconcileCaller): Promise<k8s.ConfigurationOptions> {
    if (from === 'queue') await this.limiter.take(signal)
    return callOptions(AbortSignal.any([signal, AbortSignal.timeout(this.deps.tuning.callTimeoutMs)]))
  }
}

/** the promise, or the signal's reason once it aborts (the work itself stops at its next API call) */
function untilAborted<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
