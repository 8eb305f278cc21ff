// `pullguard review` (in this process, test/support/cli.ts) on manifests as admins write them:
// a bare Pod (YAML, and JSON on stdin), a Deployment, a CronJob, a Job outside any tenant, and the
// AdmissionReview sample; each --output; --fail-on-deny's exit codes. Each run is compared with its
// transcript in fixtures/review-golden/ (command, exit code, stderr, stdout); UPDATE_GOLDEN=1 rewrites
// them, and a stale, missing or orphaned transcript fails.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import jsonpatch from 'fast-json-patch'
import t from 'tap'
import { parseManifest, podInputOf } from '../../src/cli/pod-input.js'
import { runCli, type CliRun } from '../support/cli.js'
import { pool } from './run-pool.js'

const GOLDEN = fileURLToPath(new URL('./fixtures/review-golden/', import.meta.url))
const UPDATE = process.env.UPDATE_GOLDEN === '1'
const OBJECTS = 'examples/standalone/cluster.yaml'
const M = 'test/cli/fixtures/manifests'

interface Case {
  name: string
  args: string[]
  /** a file given on stdin instead of as an argument */
  stdin?: string
  code: number
}

const review = (...args: string[]): string[] => ['review', '--objects', OBJECTS, '--log-level', 'silent', ...args]

const CASES: Case[] = [
  { name: 'pod-yaml-answer', args: review(`${M}/pod.yaml`), code: 0 },
  { name: 'pod-yaml-patch', args: review(`${M}/pod.yaml`, '--output', 'patch'), code: 0 },
  { name: 'pod-yaml-patched', args: review(`${M}/pod.yaml`, '-o', 'patched'), code: 0 },
  { name: 'pod-json-stdin-answer', args: review('-n', 'team-b'), stdin: `${M}/pod-without-namespace.json`, code: 0 },
  { name: 'pod-json-stdin-patched', args: review('--namespace', 'team-b', '-o', 'patched', '-'), stdin: `${M}/pod-without-namespace.json`, code: 0 },
  { name: 'deployment-answer', args: review(`${M}/deployment.yaml`), code: 0 },
  { name: 'deployment-patch', args: review(`${M}/deployment.yaml`, '-o', 'patch', '--fail-on-deny'), code: 0 },
  { name: 'deployment-patched', args: review(`${M}/deployment.yaml`, '-o', 'patched'), code: 0 },
  { name: 'cronjob-foreign-warn', args: review(`${M}/cronjob.yaml`, '--fail-on-deny'), code: 0 },
  { name: 'cronjob-foreign-deny', args: review(`${M}/cronjob.yaml`, '--foreign-registry-policy', 'deny'), code: 0 },
  { name: 'cronjob-foreign-deny-fail', args: review(`${M}/cronjob.yaml`, '--foreign-registry-policy', 'deny', '--fail-on-deny'), code: 3 },
  { name: 'cronjob-foreign-deny-fail-patch', args: review(`${M}/cronjob.yaml`, '--foreign-registry-policy', 'deny', '--fail-on-deny', '-o', 'patch'), code: 3 },
  { name: 'job-outside-tenants-patch', args: review(`${M}/job-outside-tenants.json`, '-o', 'patch'), code: 0 },
  { name: 'job-outside-tenants-patched', args: review(`${M}/job-outside-tenants.json`, '-o', 'patched'), code: 0 },
  { name: 'admission-review-answer', args: review(), stdin: 'examples/pod-create-review.json', code: 0 },
  { name: 'admission-review-patched', args: review('examples/pod-create-review.json', '-o', 'patched'), code: 0 },
  // README's examples ("The command line"), on the files it names.
  { name: 'example-deployment-patch', args: review('examples/workloads/deployment.yaml', '-o', 'patch'), code: 0 },
  { name: 'example-cronjob-deny-fail-patch', args: review('examples/workloads/cronjob.yaml', '--foreign-registry-policy', 'deny', '--fail-on-deny', '-o', 'patch'), code: 3 },
  { name: 'error-configmap', args: review(`${M}/configmap.yaml`), code: 2 },
  { name: 'error-two-manifests', args: review(`${M}/two-pods.yaml`), code: 2 },
  { name: 'error-invalid-yaml', args: review(`${M}/invalid.yaml`), code: 2 },
  { name: 'error-no-namespace', args: review(), stdin: `${M}/pod-without-namespace.json`, code: 2 },
  { name: 'error-namespace-differs', args: review(`${M}/pod.yaml`, '-n', 'team-b'), code: 2 },
  { name: 'error-namespace-on-a-review', args: review('examples/pod-create-review.json', '-n', 'team-a'), code: 2 },
  { name: 'error-missing-manifest', args: review(`${M}/absent.yaml`), code: 2 }
]

function transcript (c: Case, run: CliRun): string {
  const command = ['pullguard', ...c.args].join(' ') + (c.stdin === undefined ? '' : ` < ${c.stdin}`)
  return `$ ${command}\nexit ${run.code}\n--- stderr\n${run.stderr}--- stdout\n${run.stdout}`
}

const runs = new Map<string, CliRun>()

t.before(async () => {
  const results = await pool(CASES, 3, c => runCli(c.args, c.stdin === undefined ? '' : readFileSync(c.stdin, 'utf8')))
  CASES.forEach((c, i) => { runs.set(c.name, results[i] as CliRun) })
})

t.test('each run: its exit code and its transcript', async t => {
  if (UPDATE) mkdirSync(GOLDEN, { recursive: true })
  for (const c of CASES) {
    const run = runs.get(c.name) as CliRun
    t.equal(run.code, c.code, `${c.name}: exit code\n${run.stderr}`)
    const file = join(GOLDEN, `${c.name}.txt`)
    const actual = transcript(c, run)
    if (UPDATE) writeFileSync(file, actual)
    if (!existsSync(file)) {
      t.fail(`${c.name}: no transcript ${file} (UPDATE_GOLDEN=1 writes it)`)
      continue
    }
    t.equal(actual, readFileSync(file, 'utf8'), `${c.name}: matches its transcript (UPDATE_GOLDEN=1 rewrites it)`)
  }
  const orphans = readdirSync(GOLDEN).filter(file => !CASES.some(c => `${c.name}.txt` === file))
  t.same(orphans, [], 'no transcript without a case')
})

t.test('the outputs agree: patched is the Pod with patch applied; answer holds the patch both ways', async t => {
  const table: Array<[string, string | undefined, string | undefined]> = [
    ['pod-yaml', `${M}/pod.yaml`, undefined],
    ['deployment', `${M}/deployment.yaml`, undefined],
    ['job-outside-tenants', `${M}/job-outside-tenants.json`, undefined]
  ]
  for (const [name, file, namespace] of table) {
    const manifest = parseManifest(readFileSync(file as string, 'utf8'))
    const input = manifest.ok ? podInputOf(manifest.value, namespace) : manifest
    if (!input.ok) throw new Error(input.error)
    const operations = JSON.parse((runs.get(`${name}-patch`) as CliRun).stdout) as jsonpatch.Operation[]
    const expected = jsonpatch.applyPatch(structuredClone(input.value.pod), operations, true, false).newDocument
    t.same(JSON.parse((runs.get(`${name}-patched`) as CliRun).stdout), expected, `${name}: patched = the Pod with patch applied`)
  }
  // The Pod inside an AdmissionReview is reviewed as it is.
  const sample = JSON.parse(readFileSync('examples/pod-create-review.json', 'utf8')) as { request: { object: object } }
  const answer = JSON.parse((runs.get('admission-review-answer') as CliRun).stdout) as { response: { patch: string, patchDecoded: jsonpatch.Operation[] } }
  t.same(answer.response.patchDecoded, JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8')), 'patchDecoded is the base64 patch, decoded')
  const expected = jsonpatch.applyPatch(sample.request.object, answer.response.patchDecoded, true, false).newDocument
  t.same(JSON.parse((runs.get('admission-review-patched') as CliRun).stdout), expected, 'the sample: patched = its Pod with the patch applied')
  t.same(JSON.parse((runs.get('job-outside-tenants-patch') as CliRun).stdout), [], 'outside tenant namespaces: no operations')
})

t.test('--fail-on-deny: exit 3 on a deny only, and the answer still printed', async t => {
  t.equal(runs.get('cronjob-foreign-deny')?.code, 0, 'a deny without the flag exits 0')
  t.equal(runs.get('cronjob-foreign-warn')?.code, 0, 'a warning is not a deny')
  t.equal(runs.get('deployment-patch')?.code, 0, 'an allowed patch is not a deny')
  const denied = runs.get('cronjob-foreign-deny-fail') as CliRun
  t.equal(denied.code, 3)
  t.match(JSON.parse(denied.stdout), { response: { allowed: false, status: { code: 403 } } })
  t.match(denied.stderr, /^pullguard: denied: image "ghcr\.io\/globex\/reporter:1\.4" is in registry ghcr\.io\/globex/)
  t.equal(runs.get('cronjob-foreign-deny-fail-patch')?.stdout, '', 'no patch printed for a denied Pod')
})
