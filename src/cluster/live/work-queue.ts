// A keyed work queue in the manner of client-go's: a key is queued at most once however often it is
// added; a key added while it is being processed runs again right after; failures come back after
// a per-key exponential backoff; at most `concurrency` keys are processed at once. Memory is bounded
// by the number of distinct keys (namespaces), whatever the event rate.

import { backoffDelayMs } from './backoff.js'
import { SYSTEM_CLOCK, type Clock, type TimerHandle } from './clock.js'

/** ±10 %: keys that failed together (an API outage) do not all come back in the same instant */
const RETRY_JITTER = 0.1

export interface WorkQueueOptions {
  /** workers: how many keys are processed at once */
  concurrency: number
  /** does the work; a rejection schedules a retry after the key's backoff */
  process: (key: string) => Promise<void>
  /** first retry delay; doubles per consecutive failure of that key */
  baseDelayMs: number
  maxDelayMs: number
  /** told about every failure, with the delay before its retry */
  onFailure?: (key: string, err: unknown, failures: number, retryInMs: number) => void
  /** time for delays and retries; SYSTEM_CLOCK unless a test drives it */
  clock?: Clock
  /** uniform in [0, 1) for the retry jitter; Math.random unless a test pins it */
  random?: () => number
}

export class WorkQueue {
  /** insertion-ordered: the oldest key is processed first */
  private readonly waiting = new Set<string>()
  private readonly processing = new Set<string>()
  /** added while processing: goes back in once its current run ends */
  private readonly again = new Set<string>()
  /** keys due later: a retry after a failure, or a deliberately delayed add */
  private readonly later = new Map<string, { timer: TimerHandle, due: number }>()
  private readonly failures = new Map<string, number>()
  private readonly idleWaiters: Array<() => void> = []
  private running = false
  private stopped = false
  private readonly clock: Clock

  constructor (private readonly options: WorkQueueOptions) {
    this.clock = options.clock ?? SYSTEM_CLOCK
  }

  /** queue the key now (a pending retry of it is superseded: new information, try at once) */
  add (key: string): void {
    if (this.stopped) return
    if (this.processing.has(key)) {
      this.again.add(key)
      return
    }
    this.cancelLater(key)
    this.waiting.add(key)
    this.pump()
  }

  /** queue the key after a delay, unless it is already waiting or due sooner */
  addAfter (key: string, delayMs: number): void {
    if (this.stopped || this.waiting.has(key)) return
    this.schedule(key, delayMs)
  }

  /** keys waiting, waiting out a backoff, or due to run again: the work not yet done */
  get depth (): number {
    return this.waiting.size + this.later.size + this.again.size
  }

  /** consecutive failures of a key (0 once it succeeds) */
  failuresOf (key: string): number {
    return this.failures.get(key) ?? 0
  }

  /** keys added before start() wait; lets callers fill the queue before the caches are complete */
  start (): void {
    if (this.stopped) return
    this.running = true
    this.pump()
  }

  /** drops all pending work and resolves once the keys in progress have finished */
  async stop (): Promise<void> {
    this.stopped = true
    this.running = false
    this.waiting.clear()
    this.again.clear()
    for (const { timer } of this.later.values()) this.clock.clearTimeout(timer)
    this.later.clear()
    await this.idle()
  }

  /** resolves when nothing is waiting or processing (retries pending in backoff do not count) */
  idle (): Promise<void> {
    if (this.processing.size === 0 && (this.waiting.size === 0 || !this.running)) return Promise.resolve()
    return new Promise(resolve => this.idleWaiters.push(resolve))
  }

  private pump (): void {
    while (this.running && this.processing.size < this.options.concurrency) {
      const key = this.waiting.values().next().value
      if (key === undefined) break
      this.waiting.delete(key)
      this.processing.add(key)
      void this.run(key)
    }
    if (this.processing.size === 0 && (this.waiting.size === 0 || !this.running)) {
      for (const resolve of this.idleWaiters.splice(0)) resolve()
    }
  }

  private async run (key: string): Promise<void> {
    try {
      await this.options.process(key)
      this.failures.delete(key)
    } catch (err) {
      if (!this.stopped) this.scheduleRetry(key, err)
    } finally {
      this.processing.delete(key)
      if (this.again.delete(key)) this.add(key)
      this.pump()
    }
  }

  private scheduleRetry (key: string, err: unknown): void {
    const failures = (this.failures.get(key) ?? 0) + 1
    this.failures.set(key, failures)
    const { baseDelayMs, maxDelayMs, random } = this.options
    const delay = backoffDelayMs({ failures, baseDelayMs, maxDelayMs, jitter: RETRY_JITTER }, random)
    this.options.onFailure?.(key, err, failures, delay)
    this.cancelLater(key)
    this.schedule(key, delay)
  }

  private schedule (key: string, delayMs: number): void {
    const due = this.clock.now() + delayMs
    const pending = this.later.get(key)
    if (pending !== undefined && pending.due <= due) return
    if (pending !== undefined) this.clock.clearTimeout(pending.timer)
    const timer = this.clock.setTimeout(() => {
      this.later.delete(key)
      this.add(key)
    }, delayMs)
    this.later.set(key, { timer, due })
  }

  private cancelLater (key: string): void {
    const pending = this.later.get(key)
    if (pending === undefined) return
    this.clock.clearTimeout(pending.timer)
    this.later.delete(key)
  }
}
