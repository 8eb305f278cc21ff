import t from 'tap'
import { FakeClock } from './fake-clock.js'

t.test('advance fires what falls due, in due order, ties in the order set', async t => {
  const clock = new FakeClock()
  const fired: Array<[string, number]> = []
  const at = (name: string) => () => { fired.push([name, clock.now()]) }
  clock.setTimeout(at('c'), 30)
  clock.setTimeout(at('a'), 10)
  clock.setTimeout(at('b1'), 20)
  clock.setTimeout(at('b2'), 20)
  clock.setTimeout(at('late'), 31)
  await clock.advance(30)
  t.same(fired, [['a', 10], ['b1', 20], ['b2', 20], ['c', 30]])
  t.equal(clock.now(), 30)
  t.equal(clock.pending, 1)
  t.equal(clock.nextDue, 31)
})

t.test('a timer set by a callback fires in the same advance when it falls inside the window', async t => {
  const clock = new FakeClock(1000)
  const fired: number[] = []
  clock.setTimeout(() => {
    fired.push(clock.now())
    clock.setTimeout(() => fired.push(clock.now()), 5) // due 1015: inside
    clock.setTimeout(() => fired.push(clock.now()), 50) // due 1060: outside
  }, 10)
  await clock.advance(20)
  t.same(fired, [1010, 1015])
  t.equal(clock.now(), 1020)
  await clock.advance(40)
  t.same(fired, [1010, 1015, 1060])
})

t.test('promise callbacks settle after each timer and before advance returns', async t => {
  const clock = new FakeClock()
  const log: string[] = []
  clock.setTimeout(() => { void Promise.resolve().then(() => log.push('after first')) }, 1)
  clock.setTimeout(() => log.push('second'), 2)
  await clock.advance(2)
  t.same(log, ['after first', 'second'])
})

t.test('clearTimeout cancels a timeout or an interval; undefined is a no-op', async t => {
  const clock = new FakeClock()
  let runs = 0
  const timeout = clock.setTimeout(() => runs++, 5)
  const interval = clock.setInterval(() => runs++, 10)
  clock.clearTimeout(undefined)
  t.equal(clock.pending, 2)
  clock.clearTimeout(timeout)
  await clock.advance(35)
  t.equal(runs, 3, 'the interval at 10, 20, 30')
  clock.clearTimeout(interval)
  await clock.advance(100)
  t.equal(runs, 3)
  t.equal(clock.pending, 0)
})

t.test('runAll moves time to each pending timer until none is left, and refuses an endless interval', async t => {
  const clock = new FakeClock()
  const fired: number[] = []
  clock.setTimeout(() => {
    fired.push(clock.now())
    clock.setTimeout(() => fired.push(clock.now()), 1000)
  }, 500)
  await clock.runAll()
  t.same(fired, [500, 1500])
  t.equal(clock.pending, 0)

  clock.setInterval(() => {}, 1)
  await t.rejects(clock.runAll(10), /still 1 timers pending after 10/)
  await t.rejects(clock.advance(-1), RangeError)
})
