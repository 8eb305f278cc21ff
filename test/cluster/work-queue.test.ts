import t from 'tap'
import { WorkQueue, type WorkQueueOptions } from '../../src/cluster/live/work-queue.js'
import { RateLimiter } from '../../src/cluster/live/rate-limiter.js'
import { sleep, waitFor } from './helper.js'

function queue (options: Partial<WorkQueueOptions> & Pick<WorkQueueOptions, 'process'>): WorkQueue {
  return new WorkQueue({ concurrency: 2, baseDelayMs: 10, maxDelayMs: 1000, ...options })
}

t.test('a key is queued once however often it is added', async t => {
  const seen: string[] = []
  const q = queue({ process: async key => { seen.push(key) } })
  for (const key of ['a', 'b', 'a', 'a', 'c', 'b']) q.add(key)
  t.equal(q.depth, 3, 'nothing runs before start()')
  q.start()
  await q.idle()
  t.same(seen, ['a', 'b', 'c'], 'oldest first, each once')
  t.equal(q.depth, 0)
})

t.test('a key added while processing runs again afterwards, never twice at once', async t => {
  let running = 0
  let overlapped = false
  let runs = 0
  const q = queue({
    process: async () => {
      running++
      if (running > 1) overlapped = true
      runs++
      await sleep(30)
      running--
    }
  })
  q.start()
  q.add('ns')
  await sleep(5)
  q.add('ns')
  q.add('ns')
  t.equal(q.depth, 1, 'one more run pending')
  await waitFor(() => runs === 2 && running === 0)
  await sleep(50)
  t.equal(runs, 2, 'two adds during a run: one more run')
  t.notOk(overlapped)
})

t.test('at most `concurrency` keys in flight', async t => {
  let inFlight = 0
  let peak = 0
  const q = queue({
    concurrency: 3,
    process: async () => {
      peak = Math.max(peak, ++inFlight)
      await sleep(10)
      inFlight--
    }
  })
  for (let i = 0; i < 20; i++) q.add(`ns-${i}`)
  q.start()
  await q.idle()
  t.equal(peak, 3)
})

t.test('failures retry with per-key exponential backoff; success resets it', async t => {
  const delays: number[] = []
  let attempts = 0
  const q = queue({
    baseDelayMs: 20,
    maxDelayMs: 80,
    process: async () => {
      if (++attempts <= 4) throw new Error('boom')
    },
    onFailure: (_key, _err, failures, retryInMs) => { delays.push(retryInMs) }
  })
  q.start()
  q.add('ns')
  await waitFor(() => attempts === 5, 'the fifth attempt', 2000)
  t.equal(delays.length, 4)
  for (const [i, base] of [20, 40, 80, 80].entries()) {
    t.ok(delays[i]! >= base * 0.9 && delays[i]! <= base * 1.1, `retry ${i + 1}: ${delays[i]} ms ≈ ${base} ms (±10 % jitter)`)
  }
  t.equal(q.failuresOf('ns'), 0, 'reset by the success')
})

t.test('a new add supersedes a pending retry; addAfter keeps the earliest due time', async t => {
  const runs: Array<[string, number]> = []
  const startedAt = performance.now()
  let fail = true
  const q = queue({
    baseDelayMs: 10_000,
    process: async key => {
      runs.push([key, performance.now() - startedAt])
      if (key === 'x' && fail) {
        fail = false
        throw new Error('once')
      }
    }
  })
  q.start()
  q.add('x')
  await waitFor(() => q.failuresOf('x') === 1)
  t.equal(q.depth, 1, 'the retry is pending')
  q.add('x')
  await waitFor(() => runs.length === 2, 'the retry, long before its 10 s backoff')

  q.addAfter('y', 500)
  q.addAfter('y', 30)
  q.addAfter('y', 400)
  await waitFor(() => runs.some(([key]) => key === 'y'))
  await sleep(600)
  t.same(runs.filter(([key]) => key === 'y').length, 1, 'one run of y')
  t.ok(runs.find(([key]) => key === 'y')![1] < 300, 'at the earliest time asked for')
})

t.test('stop() drops pending work and waits for what is in flight', async t => {
  let finished = 0
  const q = queue({ concurrency: 1, process: async () => { await sleep(30); finished++ } })
  q.start()
  for (const key of ['a', 'b', 'c']) q.add(key)
  q.addAfter('d', 10)
  await sleep(5)
  await q.stop()
  t.equal(finished, 1, 'the key in flight finished; the others were dropped')
  q.add('e')
  await sleep(50)
  t.equal(finished, 1, 'a stopped queue takes nothing')
  t.equal(q.depth, 0)
})

t.test('rate limiter: a burst at once, then the sustained rate; aborts release the waiter', async t => {
  const limiter = new RateLimiter(100, 5)
  const startedAt = performance.now()
  for (let i = 0; i < 5; i++) await limiter.take()
  t.ok(performance.now() - startedAt < 20, 'the burst does not wait')
  for (let i = 0; i < 10; i++) await limiter.take()
  const elapsed = performance.now() - startedAt
  t.ok(elapsed >= 85 && elapsed < 400, `10 more at 100/s took ${elapsed.toFixed(0)} ms`)

  const controller = new AbortController()
  const slow = new RateLimiter(1, 1)
  await slow.take()
  const waiting = slow.take(controller.signal)
  controller.abort(new Error('budget spent'))
  await t.rejects(waiting, { message: 'budget spent' })
  const released = slow.take()
  slow.releaseAll()
  await released
  t.pass('releaseAll lets waiters through at shutdown')
})
