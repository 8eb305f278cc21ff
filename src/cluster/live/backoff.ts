// Retry pacing for everything in live mode that retries (the work queue, the informers): exponential
// from a base, capped, with jitter so that keys or caches that failed together (an API outage) do not
// all come back in the same instant.

export interface Backoff {
  /** delay after the first failure; doubles with each further consecutive failure */
  baseDelayMs: number
  /** cap on the doubling (the jitter applies after it, so a delay may exceed the cap by `jitter`) */
  maxDelayMs: number
  /** spread as a fraction of the delay: 0.1 means ±10 % */
  jitter: number
}

/** the delay before the next try after `failures` consecutive failures (1 for the first) */
export function backoffDelayMs ({ failures, baseDelayMs, maxDelayMs, jitter }: Backoff & { failures: number },
  random: () => number = Math.random): number {
  const exponential = Math.min(baseDelayMs * 2 ** (Math.max(1, failures) - 1), maxDelayMs)
  return Math.round(exponential * (1 - jitter + random() * 2 * jitter))
}
