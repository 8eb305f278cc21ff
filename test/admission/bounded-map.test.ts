import t from 'tap'
import { BoundedMap } from '../../src/admission/bounded-map.js'

type Step = ['set', string, number] | ['delete', string]

// each case: the steps on a map of limit 3, then what it holds, oldest insertion first
const CASES: Array<{ name: string, steps: Step[], holds: Array<[string, number]> }> = [
  {
    name: 'under the limit: everything stays',
    steps: [['set', 'a', 1], ['set', 'b', 2]],
    holds: [['a', 1], ['b', 2]]
  },
  {
    name: 'at the limit: a new key drops the oldest insertion',
    steps: [['set', 'a', 1], ['set', 'b', 2], ['set', 'c', 3], ['set', 'd', 4]],
    holds: [['b', 2], ['c', 3], ['d', 4]]
  },
  {
    name: 'far past the limit: only the last three',
    steps: Array.from({ length: 100 }, (_, i): Step => ['set', `k${i}`, i]),
    holds: [['k97', 97], ['k98', 98], ['k99', 99]]
  },
  {
    name: 'updating a key when full drops nothing and keeps its place',
    steps: [['set', 'a', 1], ['set', 'b', 2], ['set', 'c', 3], ['set', 'a', 10]],
    holds: [['a', 10], ['b', 2], ['c', 3]]
  },
  {
    name: 'updating does not make a key younger: it is still dropped first',
    steps: [['set', 'a', 1], ['set', 'b', 2], ['set', 'c', 3], ['set', 'a', 10], ['set', 'd', 4]],
    holds: [['b', 2], ['c', 3], ['d', 4]]
  },
  {
    name: 'a deleted key frees its room',
    steps: [['set', 'a', 1], ['set', 'b', 2], ['set', 'c', 3], ['delete', 'b'], ['set', 'd', 4]],
    holds: [['a', 1], ['c', 3], ['d', 4]]
  },
  {
    name: 'a key dropped and added again comes back as the youngest',
    steps: [['set', 'a', 1], ['set', 'b', 2], ['set', 'c', 3], ['set', 'd', 4], ['set', 'a', 5], ['set', 'e', 6]],
    holds: [['d', 4], ['a', 5], ['e', 6]]
  }
]

for (const { name, steps, holds } of CASES) {
  t.test(name, async t => {
    const map = new BoundedMap<string, number>(3)
    for (const step of steps) {
      if (step[0] === 'set') map.set(step[1], step[2])
      else map.delete(step[1])
    }
    t.same([...map], holds)
    t.equal(map.size, holds.length)
  })
}

t.test('an undefined value is an entry like any other (a cached "no such name")', async t => {
  const map = new BoundedMap<string, string | undefined>(2)
  map.set('bad', undefined)
  t.ok(map.has('bad'))
  t.equal(map.get('bad'), undefined)
  map.set('x', 'y')
  map.set('z', 'w')
  t.notOk(map.has('bad'), 'and dropped in its turn')
})

t.test('is a Map: set chains, and it passes where a Map is expected', async t => {
  const map: Map<string, number> = new BoundedMap<string, number>(1)
  t.equal(map.set('a', 1).set('b', 2), map)
  t.same([...map.entries()], [['b', 2]])
  t.ok(map instanceof Map)
})

t.test('a limit of at least one whole entry', async t => {
  for (const limit of [0, -1, 1.5, Number.NaN]) t.throws(() => new BoundedMap(limit), RangeError, `limit ${limit}`)
  t.equal(new BoundedMap(1).limit, 1)
})
