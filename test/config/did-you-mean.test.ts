import t from 'tap'
import { closestName } from '../../src/config/did-you-mean.js'

const FLAGS = ['objects', 'port', 'metrics-port', 'tls-cert', 'tls-key', 'fail-on-deny', 'output', 'help']

t.test('the closest name, when close enough to be what was meant', async t => {
  const table: Array<[string, string | undefined]> = [
    ['objectz', 'objects'],
    ['prot', 'port'],
    ['metric-port', 'metrics-port'],
    ['tls-cert-file', 'tls-cert'],
    ['tls-crt', 'tls-cert'],
    ['fail', 'fail-on-deny'],
    ['hepl', 'help'],
    ['out', 'output'],
    ['frobnicate', undefined],
    ['x', undefined],
    ['ab', undefined]
  ]
  for (const [word, expected] of table) t.equal(closestName(word, FLAGS), expected, word)
})

t.test('ties go to the earlier candidate', async t => {
  t.equal(closestName('ab', ['ax', 'xb']), 'ax')
})
