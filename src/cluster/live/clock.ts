// Time as a dependency. Code that waits, retries or paces takes a Clock instead of calling the
// globals, so its tests drive time by hand (test/support/fake-clock.ts) rather than sleep and hope
// that a loaded machine keeps up. Production passes nothing and gets SYSTEM_CLOCK.

declare const timerHandle: unique symbol
/** what setTimeout/setInterval return; only good for handing back to clearTimeout */
export type TimerHandle = { readonly [timerHandle]: true }

export interface Clock {
  /** milliseconds on a monotonic scale (not wall time): only differences mean anything */
  now (): number
  /** runs `callback` once after `delayMs`; a pending timer never keeps the process alive */
  setTimeout (callback: () => void, delayMs: number): TimerHandle
  /** runs `callback` every `intervalMs` until cleared; never keeps the process alive either */
  setInterval (callback: () => void, intervalMs: number): TimerHandle
  /** cancels a timeout or an interval (as in Node and browsers, one call clears either); undefined is a no-op */
  clearTimeout (handle: TimerHandle | undefined): void
}

export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  // unref: shutdown is decided by the server and the signal handlers, not by a retry still pending
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs).unref() as unknown as TimerHandle,
  setInterval: (callback, intervalMs) => setInterval(callback, intervalMs).unref() as unknown as TimerHandle,
  clearTimeout: handle => clearTimeout(handle as unknown as NodeJS.Timeout | undefined)
}
