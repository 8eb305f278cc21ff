import t from 'tap'
import { backoffDelayMs } from '../../src/cluster/live/backoff.js'

t.test('doubles per failure from the base, capped, then jittered by ±jitter', async t => {
  const table: Array<{ failures: number, jitter: number, random: number, delayMs: number }> = [
    { failures: 1, jitter: 0, random: 0.3, delayMs: 500 },
    { failures: 2, jitter: 0, random: 0.3, delayMs: 1000 },
    { failures: 4, jitter: 0, random: 0.3, delayMs: 4000 },
    { failures: 5, jitter: 0, random: 0.3, delayMs: 5000 }, // 8000 capped
    { failures: 1000, jitter: 0, random: 0.3, delayMs: 5000 }, // 2 ** 999 overflows nothing
    { failures: 0, jitter: 0, random: 0.3, delayMs: 500 }, // read as the first failure
    { failures: 1, jitter: 0.1, random: 0, delayMs: 450 },
    { failures: 1, jitter: 0.1, random: 0.5, delayMs: 500 },
    { failures: 1, jitter: 0.1, random: 0.999_999, delayMs: 550 },
    { failures: 5, jitter: 0.2, random: 0, delayMs: 4000 },
    { failures: 5, jitter: 0.2, random: 0.999_999, delayMs: 6000 } // the jitter applies after the cap
  ]
  for (const { failures, jitter, random, delayMs } of table) {
    t.equal(backoffDelayMs({ failures, baseDelayMs: 500, maxDelayMs: 5000, jitter }, () => random), delayMs,
      `failure ${failures}, ±${jitter * 100} %, random ${random}`)
  }
})

t.test('Math.random by default: within the jitter bounds', async t => {
  const delays = Array.from({ length: 200 }, () => backoffDelayMs({ failures: 3, baseDelayMs: 100, maxDelayMs: 10_000, jitter: 0.1 }))
  const [low, high] = [Math.min(...delays), Math.max(...delays)]
  t.ok(low >= 360 && high <= 440, `200 draws in ${low}–${high} ms, within 400 ms ± 10 %`)
  t.ok(high > low, 'and spread, not one value')
})
