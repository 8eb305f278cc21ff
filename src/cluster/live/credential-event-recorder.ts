// Writes the credential Events (credential-events.ts decides which, and how far each series is) with
// events.k8s.io/v1, on the leader only: lead() starts it, follow() stops it, as the projector's queue.
// An observation runs when the credential health may have changed (only Events not written yet are
// written) and every resync period (every Event's series grows by one). Best effort, like every
// Event: a failed write is logged and tried again at the next observation.

import * as k8s from '@kubernetes/client-node'
import type { Logger } from '../../logging.js'
import { CREDENTIAL_EVENTS_ACTION, CREDENTIAL_EVENTS_CONTROLLER, EventSeriesBook, type CredentialEvent, type EventWrite } from '../credential-events.js'
import { SYSTEM_CLOCK, type Clock, type TimerHandle } from './clock.js'
import { apiFailure, callOptions, isStatus } from './kube-client.js'

export interface CredentialEventRecorderDeps {
  events: k8s.EventsV1Api
  /** the Events the cluster model's credential health calls for now */
  wanted: () => CredentialEvent[]
  /** the caches the health is read from are fresh: never report from a view that may be behind */
  inputsFresh: () => boolean
  /** waits for a slot of the leader's API call budget (the projector's rate limiter) */
  pace: (signal: AbortSignal) => Promise<void>
  /** the replica's identity (the Pod name): reportingInstance */
  instance: string
  /** every Event's series grows by one this often */
  resyncSeconds: number
  callTimeoutMs: number
  /** while the caches are stale, look again this often */
  staleRecheckMs: number
  logger: Logger
  /** paces the resync; SYSTEM_CLOCK unless a test drives it */
  clock?: Clock
  /** wall time written into eventTime and lastObservedTime */
  wallClock?: () => Date
}

export class CredentialEventRecorder {
  private readonly book = new EventSeriesBook()
  private readonly clock: Clock
  private readonly wallClock: () => Date
  private readonly log: Logger
  /** set while leading; aborted when leadership ends */
  private session: AbortController | undefined
  private timer: TimerHandle | undefined
  private recheck: TimerHandle | undefined
  private running: Promise<void> | undefined
  private pending: { again: boolean } | undefined

  constructor (private readonly deps: CredentialEventRecorderDeps) {
    this.clock = deps.clock ?? SYSTEM_CLOCK
    this.wallClock = deps.wallClock ?? (() => new Date())
    this.log = deps.logger.child({ component: 'credential-events' })
  }

  lead (): void {
    if (this.session !== undefined) return
    this.session = new AbortController()
    this.timer = this.clock.setInterval(() => this.observe(true), this.deps.resyncSeconds * 1000)
    this.observe(false)
  }

  /** leadership ended: no more writes; resolves once the one in flight is done */
  async follow (): Promise<void> {
    this.clock.clearTimeout(this.timer)
    this.clock.clearTimeout(this.recheck)
    this.session?.abort(new Error('no longer leading'))
    this.session = undefined
    this.pending = undefined
    await this.running
    this.book.clear()
  }

  /** the credential sources or the tenant namespaces changed: write Events for new problems */
  healthChanged (): void {
    this.observe(false)
  }

  /** folds observations asked for while one runs into one more, after it */
  private observe (again: boolean): void {
    if (this.session === undefined) return
    this.pending = { again: again || this.pending?.again === true }
    if (this.running !== undefined) return
    this.running = this.drain().finally(() => { this.running = undefined })
  }

  private async drain (): Promise<void> {
    // one microtask: the events of one batch (a relist, a commit) ask once
    await Promise.resolve()
    for (let next = this.pending; next !== undefined && this.session !== undefined; next = this.pending) {
      this.pending = undefined
      await this.pass(next.again, this.session.signal)
    }
  }

  private async pass (again: boolean, signal: AbortSignal): Promise<void> {
    if (!this.deps.inputsFresh()) {
      this.log.debug('credential events deferred: caches not fresh')
      this.clock.clearTimeout(this.recheck)
      this.recheck = this.clock.setTimeout(() => this.observe(again), this.deps.staleRecheckMs)
      return
    }
    const writes = this.book.observe(this.deps.wanted(), again)
    for (const write of writes) {
      if (signal.aborted) return
      try {
        await this.perform(write, signal)
      } catch (err) {
        this.book.forget(write.event)
        if (signal.aborted) return
        const { name, namespace, reason } = write.event
        this.log.warn({ event: name, namespace, reason, error: apiFailure(err) }, 'could not record a credential event; trying again at the next resync')
      }
    }
  }

  private async perform (write: EventWrite, signal: AbortSignal): Promise<void> {
    if (write.write === 'series') {
      try {
        await this.patchSeries(write.event, write.count, signal)
        this.book.recorded(write.event, write.count)
      } catch (err) {
        // expired (Events live about an hour) or deleted: start again
        if (!isStatus(err, 404)) throw err
        await this.create(write.event, signal)
      }
      return
    }
    try {
      await this.create(write.event, signal)
    } catch (err) {
      if (!isStatus(err, 409)) throw err
      // written before, by an earlier leader or run: continue its series
      await this.deps.pace(signal)
      const existing = await this.deps.events.readNamespacedEvent({ name: write.event.name, namespace: write.event.namespace }, this.options(signal))
      const next = this.book.continueSeries(write.event, existing.series?.count ?? 1)
      await this.patchSeries(write.event, next.count, signal)
      this.book.recorded(write.event, next.count)
    }
  }

  private async create (event: CredentialEvent, signal: AbortSignal): Promise<void> {
    await this.deps.pace(signal)
    await this.deps.events.createNamespacedEvent({
      namespace: event.namespace,
      body: {
        metadata: { name: event.name, namespace: event.namespace },
        // six fractional digits: the API refuses Date#toISOString's three in a MicroTime
        eventTime: new k8s.V1MicroTime(this.wallClock()),
        type: 'Warning',
        reason: event.reason,
        note: event.note,
        action: CREDENTIAL_EVENTS_ACTION,
        regarding: event.regarding,
        reportingController: CREDENTIAL_EVENTS_CONTROLLER,
        reportingInstance: this.deps.instance
      }
    }, this.options(signal))
    this.book.recorded(event, 1)
    this.log.info({ event: event.name, namespace: event.namespace, reason: event.reason, regarding: `${event.regarding.kind}/${event.regarding.name}` }, 'credential problem recorded as an event')
  }

  private async patchSeries (event: CredentialEvent, count: number, signal: AbortSignal): Promise<void> {
    await this.deps.pace(signal)
    await this.deps.events.patchNamespacedEvent({
      name: event.name,
      namespace: event.namespace,
      body: { series: { count, lastObservedTime: new k8s.V1MicroTime(this.wallClock()) } }
    }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch, this.options(signal)))
  }

  private options (signal: AbortSignal): k8s.ConfigurationOptions {
    return callOptions(AbortSignal.any([signal, AbortSignal.timeout(this.deps.callTimeoutMs)]))
  }
}
