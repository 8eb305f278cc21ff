// The work queue on a fake clock: runs end when the test says, time moves when the test says, and
// the retry jitter is pinned, so every expectation is exact and nothing depends on the machine's pace.

import t from 'tap'
import { WorkQueue, type WorkQueueOptions } from '../../src/cluster/live/work-queue.js'
import { FakeClock, settle } from '../support/fake-clock.js'

/** a process() whose runs the test ends by hand */
class Runs {
  readonly started: string[] = []
  overlapped = false
  peak = 0
  private readonly open = new Map<string, { resolve: () => void, reject: (err: unknown) => void }>()

  readonly process = (key: string): Promise<void> => new Promise((resolve, reject) => {
    if (this.open.has(key)) this.overlapped = true
    this.started.push(key)
    this.open.set(key, { resolve, reject })
    this.peak = Math.max(this.peak, this.open.size)
  })

  get inFlight (): string[] {
    return [...this.open.keys()]
  }

  async finish (key: string): Promise<void> {
    this.take(key).resolve()
    await settle()
  }

  async fail (key: string, err: unknown = new Error('boom')): Promise<void> {
    this.take(key).reject(err)
    await settle()
  }

  private take (key: string) {
    const run = this.open.get(key)
    if (run === undefined) throw new Error(`${key} is not running`)
    this.open.delete(key)
    return run
  }
}

function queue (clock: FakeClock, options: Partial<WorkQueueOptions> & Pick<WorkQueueOptions, 'process'>): WorkQueue {
  return new WorkQueue({ concurrency: 2, baseDelayMs: 10, maxDelayMs: 1000, clock, random: () => 0.5, ...options })
}

/** whether the promise has settled yet, without waiting for it */
function watch (promise: Promise<unknown>): { done: boolean } {
  const state = { done: false }
  void promise.then(() => { state.done = true })
  return state
}

t.test('a key is queued once however often it is added, oldest first', async t => {
  const clock = new FakeClock()
  const seen: string[] = []
  const q = queue(clock, { process: async key => { seen.push(key) } })
  for (const key of ['a', 'b', 'a', 'a', 'c', 'b']) q.add(key)
  t.equal(q.depth, 3, 'nothing runs before start()')
  await settle()
  t.same(seen, [])
  q.start()
  await q.idle()
  t.same(seen, ['a', 'b', 'c'])
  t.equal(q.depth, 0)
})

t.test('a key added while processing runs once more afterwards, never twice at once', async t => {
  const clock = new FakeClock()
  const runs = new Runs()
  const q = queue(clock, { process: runs.process })
  q.start()
  q.add('ns')
  await settle()
  t.same(runs.inFlight, ['ns'])
  q.add('ns')
  q.add('ns')
  t.equal(q.depth, 1, 'two adds during the run: one more run pending')
  await settle()
  t.same(runs.started, ['ns'], 'not while the first is in flight')
  await runs.finish('ns')
  t.same(runs.started, ['ns', 'ns'], 'again right after')
  t.equal(q.depth, 0)
  await runs.finish('ns')
  await clock.advance(10_000)
  t.same(runs.started, ['ns', 'ns'])
  t.notOk(runs.overlapped)
})

for (const concurrency of [1, 3]) {
  t.test(`at most ${concurrency} key(s) in flight, started oldest first`, async t => {
    const clock = new FakeClock()
    const runs = new Runs()
    const q = queue(clock, { concurrency, process: runs.process })
    const keys = Array.from({ length: 10 }, (_, i) => `ns-${i}`)
    for (const key of keys) q.add(key)
    q.start()
    await settle()
    t.equal(runs.inFlight.length, concurrency)
    while (runs.inFlight.length > 0) await runs.finish(runs.inFlight[0]!)
    t.same(runs.started, keys)
    t.equal(runs.peak, concurrency)
    t.equal(q.depth, 0)
  })
}

// baseDelayMs 20, maxDelayMs 80: 20, 40, 80, then capped; the jitter is ±10 % around each.
const BACKOFF_CASES = [
  { name: 'middle of the jitter', random: 0.5, delays: [20, 40, 80, 80] },
  { name: 'low end of the jitter (-10 %)', random: 0, delays: [18, 36, 72, 72] },
  { name: 'high end of the jitter (+10 %)', random: 0.999_999, delays: [22, 44, 88, 88] }
]

for (const { name, random, delays } of BACKOFF_CASES) {
  t.test(`failures retry after a doubling, capped, jittered backoff; success resets it: ${name}`, async t => {
    const clock = new FakeClock()
    const runs = new Runs()
    const told: Array<[string, string, number, number]> = []
    const q = queue(clock, {
      baseDelayMs: 20,
      maxDelayMs: 80,
      random: () => random,
      process: runs.process,
      onFailure: (key, err, failures, retryInMs) => { told.push([key, (err as Error).message, failures, retryInMs]) }
    })
    q.start()
    q.add('ns')
    await settle()
    for (const [i, delay] of delays.entries()) {
      await runs.fail('ns', new Error(`failure ${i + 1}`))
      t.equal(q.failuresOf('ns'), i + 1)
      t.equal(q.depth, 1, 'the retry is pending')
      await clock.advance(delay - 1)
      t.equal(runs.started.length, i + 1, `retry ${i + 1} not before ${delay} ms`)
      await clock.advance(1)
      t.equal(runs.started.length, i + 2, `retry ${i + 1} at ${delay} ms`)
    }
    t.same(told, delays.map((delay, i) => ['ns', `failure ${i + 1}`, i + 1, delay]))
    await runs.finish('ns')
    t.equal(q.failuresOf('ns'), 0, 'reset by the success')
    t.equal(clock.pending, 0, 'no retry left behind')
  })
}

t.test('each key has its own backoff', async t => {
  const clock = new FakeClock()
  const runs = new Runs()
  const q = queue(clock, { baseDelayMs: 20, process: runs.process })
  q.start()
  q.add('a')
  q.add('b')
  await settle()
  await runs.fail('a')
  await clock.advance(20)
  await runs.fail('a') // a: second failure, 40 ms
  await runs.fail('b') // b: first failure, 20 ms
  t.same([q.failuresOf('a'), q.failuresOf('b')], [2, 1])
  await clock.advance(20)
  t.same(runs.inFlight, ['b'])
  await clock.advance(20)
  t.same(runs.inFlight, ['b', 'a'])
})

t.test('a new add supersedes a pending retry: new information, try at once', async t => {
  const clock = new FakeClock()
  const runs = new Runs()
  const q = queue(clock, { baseDelayMs: 10_000, process: runs.process })
  q.start()
  q.add('x')
  await settle()
  await runs.fail('x')
  t.equal(q.depth, 1, 'the retry is pending')
  t.equal(clock.pending, 1)
  q.add('x')
  await settle()
  t.same(runs.started, ['x', 'x'], 'no clock time passed: long before the 10 s backoff')
  t.equal(clock.pending, 0, 'the retry timer is gone')
  t.equal(q.failuresOf('x'), 1, 'the failure count stays until a success')
  await runs.finish('x')
  await clock.advance(20_000)
  t.same(runs.started, ['x', 'x'])
})

// addAfter: the key runs once, at the earliest of the delays asked for.
const ADD_AFTER_CASES = [
  { delays: [100], due: 100 },
  { delays: [500, 30, 400], due: 30 },
  { delays: [30, 500], due: 30 },
  { delays: [0], due: 0 }
]

for (const { delays, due } of ADD_AFTER_CASES) {
  t.test(`addAfter ${delays.join(', ')} ms: one run at ${due} ms`, async t => {
    const clock = new FakeClock()
    const seen: Array<[string, number]> = []
    const q = queue(clock, { process: async key => { seen.push([key, clock.now()]) } })
    q.start()
    for (const delay of delays) q.addAfter('y', delay)
    t.equal(q.depth, 1)
    if (due > 0) {
      await clock.advance(due - 1)
      t.same(seen, [], 'not before')
    }
    await clock.advance(due === 0 ? 0 : 1)
    t.same(seen, [['y', due]])
    await clock.advance(1000)
    t.same(seen, [['y', due]], 'once')
    t.equal(clock.pending, 0)
  })
}

t.test('addAfter leaves a waiting key alone; add() of a delayed key runs it now', async t => {
  const clock = new FakeClock()
  const seen: Array<[string, number]> = []
  const q = queue(clock, { process: async key => { seen.push([key, clock.now()]) } })
  q.add('w')
  q.addAfter('w', 50)
  t.equal(clock.pending, 0, 'already waiting: no timer')
  q.addAfter('d', 50)
  q.add('d')
  t.equal(clock.pending, 0, 'the delay is superseded')
  t.equal(q.depth, 2)
  q.start()
  await q.idle()
  await clock.advance(100)
  t.same(seen, [['w', 0], ['d', 0]])
})

for (const end of ['finish', 'fail'] as const) {
  t.test(`stop() drops pending work and waits for what is in flight (which ends: ${end})`, async t => {
    const clock = new FakeClock()
    const runs = new Runs()
    const q = queue(clock, { concurrency: 1, process: runs.process })
    q.start()
    for (const key of ['a', 'b', 'c']) q.add(key)
    q.addAfter('d', 10)
    await settle()
    t.same(runs.inFlight, ['a'])
    const stopped = watch(q.stop())
    await settle()
    t.notOk(stopped.done, 'waits for a')
    t.equal(q.depth, 0, 'b, c and d dropped')
    t.equal(clock.pending, 0, 'the timer for d cleared')
    await runs[end]('a')
    t.ok(stopped.done)
    t.equal(clock.pending, 0, 'no retry scheduled by a stopped queue')
    q.add('e')
    q.addAfter('f', 1)
    q.start()
    await clock.advance(1000)
    t.same(runs.started, ['a'], 'a stopped queue takes nothing, and does not start again')
    t.equal(q.depth, 0)
  })
}

t.test('idle(): nothing waiting or processing; a retry waiting out its backoff does not count', async t => {
  const clock = new FakeClock()
  const runs = new Runs()
  const q = queue(clock, { baseDelayMs: 1000, process: runs.process })
  q.add('a')
  const beforeStart = watch(q.idle())
  await settle()
  t.ok(beforeStart.done, 'not started: idle at once, whatever is waiting')
  q.start()
  await settle()
  const idle = watch(q.idle())
  await settle()
  t.notOk(idle.done, 'a is processing')
  await runs.fail('a')
  t.ok(idle.done, 'idle with the retry pending')
  t.equal(q.depth, 1)
  await clock.advance(1000)
  t.same(runs.inFlight, ['a'])
  const again = watch(q.idle())
  await runs.finish('a')
  t.ok(again.done)
})
