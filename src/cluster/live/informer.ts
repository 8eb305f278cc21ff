// One list+watch cache that keeps itself alive. client-node 2.0.1's ListWatch relists by itself after
// a 410 and reconnects after a clean end, but after any other failure (dropped connection, refused,
// non-200 watch, failed list) it emits 'error' once and stops for good: this supervisor restarts it
// with backoff, bounds the list with a timeout, and records when the API server was last heard from.
//
// Staleness, as reported by `ageSeconds()` (pullguard_cache_age_seconds): the time since the last
// contact with the API server for this cache: a successful list, a watch stream opened (HTTP 200),
// or any watch event including bookmarks. A healthy watch makes contact at least every ~30 s (the
// client's inactivity timeout reconnects a quiet watch), so an age beyond `staleAfterMs` means the
// cache may be missing changes; it keeps serving its last good state meanwhile.

import * as k8s from '@kubernetes/client-node'
import type { Logger } from '../../logging.js'
import { apiFailure, listPageAsJson, withTimeout, type ListPage, type ListRequest } from './kube-client.js'
import { backoffDelayMs } from './backoff.js'
import { SYSTEM_CLOCK, type Clock, type TimerHandle } from './clock.js'

export type InformerEvent = 'add' | 'update' | 'delete'

export interface InformerTiming {
  /** per list page: a hung API server must not stall the relist forever */
  listTimeoutMs: number
  /** items per list page, as client-go's reflector (keeps each response small on big clusters) */
  pageSize: number
  /** restart after a failure: first delay, doubling per consecutive failure, capped */
  restartBaseDelayMs: number
  restartMaxDelayMs: number
  /**
   * No contact for this long: the cache is stale. Logged, and no write is made from it (nor may
   * this replica lead) until it is fresh again.
   */
  staleAfterMs: number
}

/**
 * Items per list page for Secrets. A page is held several times over while it is read (the body's
 * chunks, its text, the parsed JSON) and lives across young-generation GCs, so much of it is
 * promoted to the old generation until the next full GC. A managed Secret carries a tenant's merged
 * credentials (~4 KB in the bench's cluster): 500 make a 2 MB page, 100 about 0.4 MB. In the live
 * bench at 10,000 namespaces (image flags, JSON lists) the peak was 176-196 MB with 100, 181-201 MB
 * with 250 and 191-211 MB with 500; 100 costs ~0.8 s more CPU to ready (136 list requests, not 47).
 */
export const SECRET_PAGE_SIZE = 100

export const DEFAULT_INFORMER_TIMING: InformerTiming = {
  listTimeoutMs: 60_000,
  pageSize: 500,
  restartBaseDelayMs: 500,
  restartMaxDelayMs: 30_000,
  // twice the client's 30 s watch inactivity timeout: a healthy watch (bookmarks, or the client's
  // reconnect of a quiet one) never gets here
  staleAfterMs: 60_000
}

/** `Raw`: the objects as the API serves them; `T`: what the cache keeps of each (see `keep`) */
export interface InformerOptions<T extends k8s.KubernetesObject, Raw extends k8s.KubernetesObject = T> {
  /** names the cache in logs and in the cache-age metric */
  name: string
  kubeConfig: k8s.KubeConfig
  /** the collection URL the watch opens, e.g. /api/v1/namespaces */
  path: string
  /**
   * One page of the same collection; must honour the request's selectors (ListWatch only gives them
   * to the watch). Default: `path` as plain JSON through the client's transport (listPageAsJson).
   */
  listPage?: ListPage<Raw>
  /**
   * What the cache keeps of each object, applied alike to the list's items and the watch's events
   * (never to bookmarks or errors); must keep metadata.name, namespace and resourceVersion.
   * Default: the object as served.
   */
  keep?: (object: Raw) => T
  labelSelector?: string
  fieldSelector?: string
  /** every change to the cache, including those a relist discovers; must not throw */
  onEvent: (event: InformerEvent, object: T) => void
  logger: Logger
  timing?: Partial<InformerTiming>
  /** the cache's time: its age, staleness checks and restart pacing (tests drive it by hand) */
  clock?: Clock
}

export class Informer<T extends k8s.KubernetesObject, Raw extends k8s.KubernetesObject = T> {
  private readonly timing: InformerTiming
  private readonly listWatch: k8s.ListWatch<T>
  private readonly log: Logger
  private synced = false
  private readonly syncWaiters: Array<() => void> = []
  private stopped = true
  private readonly clock: Clock
  private lastContact: number
  private stale = false
  /** a watch stream is open (since the last failure); a failed list/watch makes the cache suspect at once */
  private watching = false
  private failures = 0
  private restartTimer: TimerHandle | undefined
  private staleTimer: TimerHandle | undefined
  private readonly delays = new Set<TimerHandle>()
  private readonly keep: (object: Raw) => T
  private readonly listPage: ListPage<Raw>

  constructor (private readonly options: InformerOptions<T, Raw>) {
    this.timing = { ...DEFAULT_INFORMER_TIMING, ...options.timing }
    this.clock = options.clock ?? SYSTEM_CLOCK
    this.lastContact = this.clock.now()
    this.log = options.logger.child({ cache: options.name })
    this.keep = options.keep ?? (object => object as unknown as T)
    this.listPage = options.listPage ?? listPageAsJson<Raw>(options.kubeConfig, options.path)
    const keep = this.keep
    const watch = new ContactWatch(options.kubeConfig, opened => this.contact(opened), () => this.stopped,
      object => keep(object as Raw))
    this.listWatch = new k8s.ListWatch<T>(options.path, watch, () => this.listAll(), false,
      options.labelSelector, options.fieldSelector, { delayFn: ms => this.delay(ms) })
    for (const event of ['add', 'update', 'delete'] as const) {
      this.listWatch.on(event, object => this.deliver(event, object))
    }
    this.listWatch.on('error', err => this.failed(err))
  }

  get name (): string {
    return this.options.name
  }

  /** the first list has been applied; stays true through later outages */
  get hasSynced (): boolean {
    return this.synced
  }

  whenSynced (): Promise<void> {
    return this.synced ? Promise.resolve() : new Promise(resolve => this.syncWaiters.push(resolve))
  }

  get (name: string, namespace?: string): T | undefined {
    return this.listWatch.get(name, namespace)
  }

  list (): readonly T[] {
    return this.listWatch.list()
  }

  /** synced, watching, and heard from within staleAfterMs: safe to write from */
  isFresh (): boolean {
    return this.synced && this.watching && this.ageSeconds() * 1000 < this.timing.staleAfterMs
  }

  /** seconds since the API server was last heard from for this cache (see the header) */
  ageSeconds (): number {
    return (this.clock.now() - this.lastContact) / 1000
  }

  start (): void {
    if (!this.stopped) return
    this.stopped = false
    this.lastContact = this.clock.now()
    const interval = Math.min(this.timing.staleAfterMs / 3, 10_000)
    this.staleTimer = this.clock.setInterval(() => this.checkStale(), interval)
    this.restart()
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.clock.clearTimeout(this.restartTimer)
    this.clock.clearTimeout(this.staleTimer)
    // ListWatch.stop() does not cancel a reconnect delay in progress: those delays now never end.
    for (const timer of this.delays) this.clock.clearTimeout(timer)
    this.delays.clear()
    await this.listWatch.stop()
  }

  private restart (): void {
    // start() resolves after the list and the watch request; failures arrive as 'error' events.
    this.listWatch.start().catch((err: unknown) => this.failed(err))
  }

  private async listAll (): Promise<k8s.KubernetesListObject<T>> {
    const { labelSelector, fieldSelector } = this.options
    const items: T[] = []
    let resourceVersion: string | undefined
    let next: string | undefined
    do {
      const page = await this.keptPage({
        ...(labelSelector !== undefined && { labelSelector }),
        ...(fieldSelector !== undefined && { fieldSelector }),
        limit: this.timing.pageSize,
        ...(next !== undefined && { _continue: next })
      })
      items.push(...page.items)
      // every page of one list is served at the first page's resourceVersion
      resourceVersion ??= page.resourceVersion
      next = page.next
    } while (next !== undefined)
    this.contact()
    if (!this.synced) {
      // ListWatch applies the items right after this promise resolves, synchronously: by the next
      // macrotask the cache holds them all.
      setImmediate(() => this.markSynced(items.length))
    } else {
      this.log.info({ items: items.length }, 'cache relisted')
    }
    return { metadata: { ...(resourceVersion !== undefined && { resourceVersion }) }, items }
  }

  /** one page, trimmed: the page as served is garbage once this returns, before the next is fetched */
  private async keptPage (request: ListRequest): Promise<{ items: T[], resourceVersion?: string, next?: string }> {
    const page = await this.listPage(request, withTimeout(this.timing.listTimeoutMs))
    const resourceVersion = page.metadata?.resourceVersion
    const next = page.metadata?._continue || undefined
    return {
      items: page.items.map(item => this.keep(item)),
      ...(resourceVersion !== undefined && { resourceVersion }),
      ...(next !== undefined && { next })
    }
  }

  private markSynced (items: number): void {
    if (this.synced || this.stopped) return
    this.synced = true
    this.log.info({ items }, 'cache synced')
    for (const resolve of this.syncWaiters.splice(0)) resolve()
  }

  private deliver (event: InformerEvent, object: T): void {
    try {
      this.options.onEvent(event, object)
    } catch (err) {
      // a consumer bug must not break the ListWatch mid-list
      this.log.error({ err, event, object: object.metadata?.name }, 'cache event handler failed')
    }
  }

  private failed (err: unknown): void {
    if (this.stopped) return // stop() aborts the watch, which reports an AbortError
    this.watching = false
    this.failures++
    const { restartBaseDelayMs: baseDelayMs, restartMaxDelayMs: maxDelayMs } = this.timing
    const retryInMs = backoffDelayMs({ failures: this.failures, baseDelayMs, maxDelayMs, jitter: 0.2 })
    this.log.warn({ error: apiFailure(err), failures: this.failures, retryInMs }, 'list/watch failed; restarting')
    this.clock.clearTimeout(this.restartTimer)
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined
      if (!this.stopped) this.restart()
    }, retryInMs)
  }

  private contact (watchOpened = false): void {
    if (watchOpened) this.watching = true
    this.lastContact = this.clock.now()
    this.failures = 0
    if (this.stale) {
      this.stale = false
      this.log.info('cache fresh again: API server reachable')
    }
  }

  private checkStale (): void {
    if (this.stale || this.ageSeconds() * 1000 < this.timing.staleAfterMs) return
    this.stale = true
    this.log.warn({ ageSeconds: Math.round(this.ageSeconds()) },
      'cache stale: API server not heard from; admission keeps serving the last good state')
  }

  /** ListWatch's reconnect pacing; never resolves once stopped, so a stopped informer stays stopped */
  private delay (ms: number): Promise<void> {
    return new Promise(resolve => {
      if (this.stopped) return
      const timer = this.clock.setTimeout(() => {
        this.delays.delete(timer)
        resolve()
      }, ms)
      this.delays.add(timer)
    })
  }
}

/** watch events that carry an object of the watched kind (not BOOKMARK, not ERROR's Status) */
const OBJECT_PHASES = new Set(['ADDED', 'MODIFIED', 'DELETED'])

/**
 * A Watch that reports each sign of life: the stream opening, and every event (bookmarks asked for).
 * It also closes a stream that opens after stop(): ListWatch.stop() cannot abort a watch whose
 * request is still connecting, and that stream would otherwise stay open for good. And it hands
 * ListWatch each object already trimmed by the informer's `keep`.
 */
class ContactWatch extends k8s.Watch {
  constructor (
    config: k8s.KubeConfig,
    /** `opened`: a watch stream has just opened (HTTP 200) */
    private readonly onContact: (opened?: boolean) => void,
    private readonly isStopped: () => boolean,
    /** the informer's `keep`, for the objects of ADDED, MODIFIED and DELETED events */
    private readonly keep: (object: unknown) => unknown
  ) {
    super(config)
  }

  override async watch (
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void
  ): Promise<AbortController> {
    let ended = false
    const controller = await super.watch(path, { ...queryParams, allowWatchBookmarks: true }, (phase, object, raw) => {
      this.onContact()
      callback(phase, OBJECT_PHASES.has(phase) ? this.keep(object) : object, raw)
    }, err => {
      ended = true
      done(err)
    })
    // watch() resolves once the response headers are in; not ended means a 200 stream is open
    if (this.isStopped()) controller.abort()
    else if (!ended) this.onContact(true)
    return controller
  }
}
