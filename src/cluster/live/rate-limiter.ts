// A token bucket: `burst` calls at once, then `perSecond` sustained. Callers wait their turn in order.

import { SYSTEM_CLOCK, type Clock, type TimerHandle } from './clock.js'

export interface RateLimiterOptions {
  /** time for the refill and the wait; SYSTEM_CLOCK unless a test drives it. Its timers are unref'd:
   *  a waiting call does not hold the process open by itself (the server does; stop() aborts waiters) */
  clock?: Clock
}

export class RateLimiter {
  private tokens: number
  private last: number
  private readonly waiters: Array<{ resolve: () => void, reject: (err: unknown) => void, signal?: AbortSignal, onAbort?: () => void }> = []
  private timer: TimerHandle | undefined
  private readonly clock: Clock

  constructor (private readonly perSecond: number, private readonly burst: number, options: RateLimiterOptions = {}) {
    this.clock = options.clock ?? SYSTEM_CLOCK
    this.tokens = burst
    this.last = this.clock.now()
  }

  /** resolves when the call may go; rejects with the signal's reason if it aborts first */
  take (signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    this.refill()
    if (this.waiters.length === 0 && this.tokens >= 1) {
      this.tokens -= 1
      return Promise.resolve()
    }
    return new Promise((resolve, reject) => {
      const waiter: (typeof this.waiters)[number] = { resolve, reject }
      if (signal !== undefined) {
        waiter.signal = signal
        waiter.onAbort = () => {
          const at = this.waiters.indexOf(waiter)
          if (at >= 0) this.waiters.splice(at, 1)
          reject(signal.reason)
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      this.waiters.push(waiter)
      this.schedule()
    })
  }

  /** wakes every waiter at once (shutdown): they proceed and their calls fail or finish quickly */
  releaseAll (): void {
    this.clock.clearTimeout(this.timer)
    this.timer = undefined
    for (const waiter of this.waiters.splice(0)) this.grant(waiter)
  }

  private refill (): void {
    const now = this.clock.now()
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) / 1000 * this.perSecond)
    this.last = now
  }

  private schedule (): void {
    if (this.timer !== undefined) return
    const wait = Math.max(1, Math.ceil((1 - this.tokens) / this.perSecond * 1000))
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined
      this.refill()
      while (this.tokens >= 1) {
        const waiter = this.waiters.shift()
        if (waiter === undefined) break
        this.tokens -= 1
        this.grant(waiter)
      }
      if (this.waiters.length > 0) this.schedule()
    }, wait)
  }

  private grant (waiter: (typeof this.waiters)[number]): void {
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort)
    waiter.resolve()
  }
}
