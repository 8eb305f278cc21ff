// `pullguard review` in this process (runCli); the first two cases through the built CLI (spawnCli), as an
// admin's script runs it: the answer on a real stdout, and a large one through a pipe.

import t from 'tap'
import { fileURLToPath } from 'node:url'
import { CLI as cli, runCli, spawnCli } from '../support/cli.js'
import { decodePatch, podCreateReview } from '../support/cluster.js'

const objects = fileURLToPath(new URL('../../examples/standalone/cluster.yaml', import.meta.url))
const pullguard = runCli

t.test('review answers the fixture on stdout', async t => {
  const run = await spawnCli(['review', '--objects', objects, '--log-level', 'silent'], JSON.stringify(podCreateReview()))
  t.equal(run.code, 0, run.stderr)
  const answer = JSON.parse(run.stdout)
  t.equal(answer.apiVersion, 'admission.k8s.io/v1')
  t.equal(answer.response.uid, 'c5a0d3b2-8e51-4b0c-a9f3-2f6c1d9e7b44')
  t.match(decodePatch(answer.response.patch), [{ path: '/spec/initContainers/0/imagePullPolicy' }])
  t.equal(run.stderr, '')
})

t.test('review logs one line per review to stderr, without credentials', async t => {
  const run = await pullguard(['review', '--objects', objects], JSON.stringify(podCreateReview()))
  t.equal(run.code, 0)
  const lines = run.stderr.trim().split('\n').map(line => JSON.parse(line))
  t.match(lines.at(-1), { msg: 'review', decision: 'patched', uid: 'c5a0d3b2-8e51-4b0c-a9f3-2f6c1d9e7b44' })
  t.notMatch(run.stderr, /acme-demo-password|YWNtZS1jaTphY21lLWRlbW8tcGFzc3dvcmQ/)
})

t.test('a large answer reaches a pipe whole', async t => {
  const review = podCreateReview()
  const pod = review.request?.object as { spec: { containers: object[] } }
  pod.spec.containers = Array.from({ length: 3000 }, (_, i) => ({ name: `c${i}`, image: `registry.acme.example/app-${i}:1`, imagePullPolicy: 'IfNotPresent' }))
  const run = await spawnCli(['review', '--objects', objects, '--log-level', 'silent'], JSON.stringify(review))
  t.equal(run.code, 0)
  const patch = decodePatch(JSON.parse(run.stdout).response.patch)
  t.equal(patch.length, 2 + 3000 + 1, 'every operation arrived')
})

t.test('malformed input: exit 2 with a clear message', async t => {
  const table: Array<[string, string, RegExp]> = [
    ['not JSON', '{"apiVersion": ', /^pullguard: stdin: not valid YAML or JSON: line 1, column \d+: /],
    ['empty', '', /^pullguard: stdin: no manifest\n$/],
    ['not a review', '{"kind":"AdmissionReview"}', /^pullguard: stdin: not an AdmissionReview: apiVersion must be/],
    ['a Pod without apiVersion', '{"kind":"Pod"}', /^pullguard: stdin: Pod: apiVersion must be v1, got none\n$/],
    ['no uid', JSON.stringify({ ...podCreateReview(), request: { ...podCreateReview().request, uid: undefined } }), /request\.uid is missing/]
  ]
  for (const [name, stdin, message] of table) {
    // silent: the startup summary would come first on stderr; the message is all there is then.
    const run = await pullguard(['review', '--objects', objects, '--log-level', 'silent'], stdin)
    t.equal(run.code, 2, name)
    t.match(run.stderr, message, name)
    t.equal(run.stdout, '', `${name}: nothing on stdout`)
  }
})

t.test('objects file problems name the file and exit non-zero', async t => {
  const missing = await pullguard(['review', '--objects', '/nonexistent/cluster.yaml'], JSON.stringify(podCreateReview()))
  t.not(missing.code, 0)
  t.equal(missing.stderr, 'pullguard: --objects /nonexistent/cluster.yaml: no such file (ENOENT)\n')
  const invalid = await pullguard(['review', '--objects', cli], JSON.stringify(podCreateReview()))
  t.not(invalid.code, 0)
  t.match(invalid.stderr, new RegExp(`${cli.replace(/[/.]/g, '\\$&')}: `))
})

t.test('an objects file with no Namespace, or no Secret, is an error, not live-mode wording', async t => {
  const dir = t.testdir({
    'secrets-only.yaml': 'apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: pullguard-system}\ntype: Opaque\n',
    'namespaces-only.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a, labels: {pullguard.dev/tenant: acme}}\n'
  })
  for (const [file, reason] of [['secrets-only.yaml', /holds no Namespace/], ['namespaces-only.yaml', /holds no Secret/]] as const) {
    const run = await pullguard(['review', '--objects', `${dir}/${file}`], JSON.stringify(podCreateReview()))
    t.equal(run.code, 1, file)
    t.match(run.stderr, new RegExp(`^pullguard: --objects ${dir}/${file}: ${reason.source}`), file)
    t.notMatch(run.stderr, /not known yet/, `${file}: no review ran`)
    t.equal(run.stdout, '', `${file}: no answer`)
  }
})

t.test('the startup summary goes to stderr with the answer on stdout', async t => {
  const run = await pullguard(['review', '--objects', objects], JSON.stringify(podCreateReview()))
  t.equal(run.code, 0)
  const lines = run.stderr.trim().split('\n').map(line => JSON.parse(line) as { msg: string })
  t.equal(lines[0]?.msg, 'loaded 5 namespaces, 3 tenants, 3 credential Secrets; 1 ignored: Secret outside pullguard-system (1)')
})

t.test('configuration problems are all reported at once, exit 2', async t => {
  const run = await pullguard(['review', '--objects', objects, '--foreign-registry-policy', 'block', '--managed-secret-name', 'Bad_Name'],
    JSON.stringify(podCreateReview()), { PULLGUARD_TENANT_LABEL: 'not a label' })
  t.equal(run.code, 2)
  t.match(run.stderr, /--foreign-registry-policy: must be equal to one of the allowed values \(warn, deny, ignore\)/)
  t.match(run.stderr, /--managed-secret-name: is not a valid name/)
  t.match(run.stderr, /PULLGUARD_TENANT_LABEL: is not a valid name/)
})

t.test('review without --objects, unknown flags and unknown commands are usage errors', async t => {
  t.match(await pullguard(['review'], '{}'), { code: 2, stderr: /review needs --objects/ })
  t.match(await pullguard(['review', '--objects', objects, '--port', '1'], '{}'), { code: 2, stderr: /--port: a flag of serve, not of review/ })
  t.match(await pullguard(['frobnicate']), { code: 2, stderr: /unknown command "frobnicate"/ })
  t.match(await pullguard(['review', '--help']), { code: 0, stdout: /--always-pull-exempt/ })
})
