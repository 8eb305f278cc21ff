// `pullguard explain` (in this process, test/support/cli.ts): one folder per case under test/fixtures/explain/
// (case.json: arguments and exit code; expected.txt: the table as printed; UPDATE_GOLDEN=1 rewrites),
// then the JSON output against `review`'s answer for the same manifest, stdin, and wrong calls.

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { Explanation } from '../../src/cluster/explain-report.js'
import { runCli } from '../support/cli.js'
import { matchGolden } from '../support/golden-text.js'

const CASES = fileURLToPath(new URL('../fixtures/explain/', import.meta.url))

for (const name of readdirSync(CASES)) {
  t.test(name, async t => {
    const { args, code } = JSON.parse(readFileSync(join(CASES, name, 'case.json'), 'utf8')) as { args: string[], code: number }
    const run = await runCli(['explain', ...args])
    t.equal(run.code, code, `exit ${code}; stderr: ${run.stderr}`)
    matchGolden(t, join(CASES, name, 'expected.txt'), run.stdout)
  })
}

t.test('-o json from stdin: per image the facts, and the verdict is decide()\'s', async t => {
  const manifest = readFileSync(fileURLToPath(new URL('../../examples/explain/deployment.yaml', import.meta.url)), 'utf8')
  const run = await runCli(['explain', '--objects', 'examples/standalone/cluster.yaml', '-o', 'json'], manifest)
  t.equal(run.code, 0, run.stderr)
  const explanation = JSON.parse(run.stdout) as Explanation
  t.equal(explanation.tenant, 'acme')
  t.same(explanation.images.map(i => [i.where, i.coveredBy.map(k => `${k.source}:${k.key}:${k.standing}`), i.foreign?.owner, i.policyBefore, i.policyAfter]), [
    ['initContainers/migrate', ['acme-registry:registry.acme.example:own'], undefined, 'Always', 'Always'],
    ['containers/web', ['acme-registry:registry.acme.example:own'], undefined, 'IfNotPresent', 'Always'],
    ['containers/proxy', ['platform-mirror:mirror.platform.example:shared'], undefined, '(unset)', 'Always'],
    ['containers/metrics', [], 'globex', 'IfNotPresent', 'Always']
  ])
  t.match(explanation.managedSecret, { namespace: 'team-a', state: 'missing' })
  t.match(explanation.verdict, { allowed: true, decision: 'patched' })
  t.notMatch(run.stdout, /YWNtZS1jaTph|acme-demo-password/, 'no credential in the explanation')
})

t.test('a denial explains itself and still exits 0: explain answered', async t => {
  const run = await runCli(['explain', '--objects', 'examples/standalone/cluster.yaml', '--foreign-registry-policy', 'deny', '-o', 'json', '-n', 'team-a',
    'test/fixtures/explain/foreign-deny/pod.yaml'])
  t.equal(run.code, 0)
  const explanation = JSON.parse(run.stdout) as Explanation
  t.match(explanation.verdict, { allowed: false, decision: 'denied', message: /belongs to another tenant/ })
  t.same(explanation.patch, [], 'a denial patches nothing')
  t.same(explanation.images[0]?.foreign, { owner: 'globex', scope: 'ghcr.io/globex' })
})

t.test('wrong calls exit 2 and say why', async t => {
  const cases = [
    { args: ['examples/explain/deployment.yaml'], stdin: '', error: /explain needs either --objects FILE \(offline\) or --kubeconfig FILE \(live\)/ },
    { args: ['--objects', 'examples/standalone/cluster.yaml'], stdin: 'kind: Service\napiVersion: v1\n', error: /stdin: Service: no pod template to review/ },
    { args: ['--objects', 'examples/standalone/cluster.yaml'], stdin: '{ not: [json', error: /stdin: not valid YAML or JSON/ },
    { args: ['--objects', 'examples/standalone/cluster.yaml', 'test/fixtures/explain/foreign-deny/pod.yaml'], stdin: '', error: /no metadata.namespace; pass --namespace/ }
  ]
  for (const { args, stdin, error } of cases) {
    const run = await runCli(['explain', ...args], stdin)
    t.equal(run.code, 2, args.join(' '))
    t.match(run.stderr, error)
  }
})
