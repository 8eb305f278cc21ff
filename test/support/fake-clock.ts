// A Clock that moves only when the test says so: `await clock.advance(ms)` fires every timer due in
// that window in due order (ties in the order they were set), timers set by those callbacks included
// when they fall inside the window, and lets promise callbacks settle after each one, so async work
// started by a timer (a WorkQueue's process) has run before the next fires and before advance returns.
//
// Written here rather than taken from @sinonjs/fake-timers, which is maintained and would fit (its
// createClock() patches no globals; tickAsync() is this advance()): production code takes our Clock
// interface anyway, so the fake would be an adapter to it either way, and all the tests need is
// now, one-shot and repeating timers and advance-with-settling, which is this file. sinon's real
// strength, replacing Date, process.hrtime and the timer globals, is what injected clocks make
// unnecessary; a devDependency for the rest did not earn its place.

import type { Clock, TimerHandle } from '../../src/cluster/live/clock.js'

interface Timer {
  due: number
  /** order of setting: breaks ties between timers due at the same instant */
  seq: number
  callback: () => void
  intervalMs?: number
}

/** lets every promise callback that is ready run (one macrotask: microtasks drain before it) */
export function settle (): Promise<void> {
  return new Promise(resolve => setImmediate(resolve))
}

export class FakeClock implements Clock {
  private current: number
  private seq = 0
  private readonly timers = new Set<Timer>()

  constructor (startMs = 0) {
    this.current = startMs
  }

  now (): number {
    return this.current
  }

  setTimeout (callback: () => void, delayMs: number): TimerHandle {
    return this.add({ due: this.current + Math.max(0, delayMs), seq: this.seq++, callback })
  }

  setInterval (callback: () => void, intervalMs: number): TimerHandle {
    // as Node: an interval under 1 ms runs every 1 ms, so advancing cannot loop forever
    const every = Math.max(1, intervalMs)
    return this.add({ due: this.current + every, seq: this.seq++, callback, intervalMs: every })
  }

  clearTimeout (handle: TimerHandle | undefined): void {
    this.timers.delete(handle as unknown as Timer)
  }

  /** timers set and neither fired (one-shot) nor cleared */
  get pending (): number {
    return this.timers.size
  }

  /** when the next timer is due, or undefined with none pending */
  get nextDue (): number | undefined {
    return this.next(Infinity)?.due
  }

  /** moves time forward by `ms`, firing what falls due on the way (see the header) */
  async advance (ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance by a non-negative number of ms, not ${ms}`)
    const target = this.current + ms
    await settle()
    for (let timer = this.next(target); timer !== undefined; timer = this.next(target)) {
      this.current = timer.due
      this.fire(timer)
      await settle()
    }
    this.current = target
    await settle()
  }

  /** fires pending timers, moving time to each, until none is left; intervals make that never, so it stops at `limit` */
  async runAll (limit = 1000): Promise<void> {
    await settle()
    for (let fired = 0; ; fired++) {
      const timer = this.next(Infinity)
      if (timer === undefined) return
      if (fired === limit) throw new Error(`runAll: still ${this.timers.size} timers pending after ${limit} (an interval?)`)
      this.current = timer.due
      this.fire(timer)
      await settle()
    }
  }

  private add (timer: Timer): TimerHandle {
    this.timers.add(timer)
    return timer as unknown as TimerHandle
  }

  private next (until: number): Timer | undefined {
    let earliest: Timer | undefined
    for (const timer of this.timers) {
      if (timer.due > until) continue
      if (earliest === undefined || timer.due < earliest.due || (timer.due === earliest.due && timer.seq < earliest.seq)) earliest = timer
    }
    return earliest
  }

  private fire (timer: Timer): void {
    if (timer.intervalMs === undefined) this.timers.delete(timer)
    else {
      timer.due += timer.intervalMs
      timer.seq = this.seq++
    }
    timer.callback()
  }
}
