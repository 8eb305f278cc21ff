// The token bucket on a fake clock: the burst, the sustained rate and the order of waiters are
// checked to the millisecond, with no wall-clock time involved.

import t from 'tap'
import { RateLimiter } from '../../src/cluster/live/rate-limiter.js'
import { FakeClock, settle } from '../support/fake-clock.js'

/** takes `count` tokens at once and records, for each in call order, the fake time it was granted */
function takeMany (limiter: RateLimiter, clock: FakeClock, count: number): Array<number | undefined> {
  const grantedAt: Array<number | undefined> = Array.from({ length: count }, () => undefined)
  for (let i = 0; i < count; i++) void limiter.take().then(() => { grantedAt[i] = clock.now() })
  return grantedAt
}

/** advances from timer to timer until none is pending */
async function runTimers (clock: FakeClock): Promise<void> {
  for (let due = clock.nextDue; due !== undefined; due = clock.nextDue) await clock.advance(due - clock.now())
}

const RATES = [
  { perSecond: 100, burst: 5 },
  { perSecond: 10, burst: 1 },
  { perSecond: 3, burst: 2 } // a period that is not a whole number of ms
]

for (const { perSecond, burst } of RATES) {
  t.test(`${perSecond}/s with a burst of ${burst}: the burst at once, then one call per period, in order`, async t => {
    const clock = new FakeClock()
    const limiter = new RateLimiter(perSecond, burst, { clock })
    const extra = 10
    const grantedAt = takeMany(limiter, clock, burst + extra)
    await settle()
    t.same(grantedAt.slice(0, burst), Array(burst).fill(0), 'the burst does not wait')
    t.same(grantedAt.slice(burst), Array(extra).fill(undefined), 'the rest wait')
    await runTimers(clock)
    const periodMs = 1000 / perSecond
    for (let k = 1; k <= extra; k++) {
      const at = grantedAt[burst + k - 1]!
      // the limiter's timer rounds each wait up to a whole ms; the bucket keeps the fraction
      t.ok(at >= k * periodMs - 1e-9 && at <= k * periodMs + 1, `call ${burst + k} at ${at} ms, due ${(k * periodMs).toFixed(1)} ms`)
    }
    t.same(grantedAt, [...grantedAt].sort((a, b) => a! - b!), 'granted in the order asked')
    t.equal(clock.pending, 0)
  })
}

t.test('tokens refill while idle, up to the burst and no further', async t => {
  const clock = new FakeClock()
  const limiter = new RateLimiter(10, 3, { clock })
  takeMany(limiter, clock, 3)
  await settle()
  await clock.advance(60_000)
  const grantedAt = takeMany(limiter, clock, 4)
  await settle()
  t.same(grantedAt, [60_000, 60_000, 60_000, undefined], 'a minute idle buys the burst back, not 600 calls')
  await clock.advance(100)
  t.same(grantedAt, [60_000, 60_000, 60_000, 60_100])
})

t.test('a waiter whose signal aborts is rejected with the reason and leaves the line', async t => {
  const clock = new FakeClock()
  const limiter = new RateLimiter(1, 1, { clock })
  await limiter.take()
  const controller = new AbortController()
  const aborted = limiter.take(controller.signal)
  const next = takeMany(limiter, clock, 1)
  controller.abort(new Error('budget spent'))
  await t.rejects(aborted, { message: 'budget spent' })
  await clock.advance(1000)
  t.same(next, [1000], 'the token the aborted waiter would have had goes to the next')

  const alreadyAborted = AbortSignal.abort(new Error('too late'))
  await t.rejects((async () => limiter.take(alreadyAborted))(), { message: 'too late' }, 'an aborted signal fails at once')
})

t.test('a granted waiter is not affected by its signal aborting afterwards', async t => {
  const clock = new FakeClock()
  const limiter = new RateLimiter(1, 1, { clock })
  const controller = new AbortController()
  await limiter.take()
  const granted = limiter.take(controller.signal)
  await clock.advance(1000)
  controller.abort(new Error('after the fact'))
  await t.resolves(granted)
})

t.test('releaseAll lets every waiter through at once (shutdown) and leaves no timer', async t => {
  const clock = new FakeClock()
  const limiter = new RateLimiter(1, 1, { clock })
  const grantedAt = takeMany(limiter, clock, 4)
  await settle()
  t.same(grantedAt, [0, undefined, undefined, undefined])
  t.equal(clock.pending, 1)
  limiter.releaseAll()
  await settle()
  t.same(grantedAt, [0, 0, 0, 0])
  t.equal(clock.pending, 0)
})
