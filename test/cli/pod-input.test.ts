// The manifest → Pod → CREATE review step that `review` (and later `explain`) runs on what an admin
// writes: every kind with a pod template, where the namespace comes from, and each refusal.

import t from 'tap'
import { parseAdmissionReview } from '../../src/admission/envelope.js'
import { createReviewOf, isAdmissionReviewManifest, parseManifest, podInputOf, POD_TEMPLATE_KINDS } from '../../src/cli/pod-input.js'

const spec = { containers: [{ name: 'app', image: 'registry.acme.example/app:1' }] }
const template = { metadata: { labels: { app: 'x' }, annotations: { note: 'kept' } }, spec }

/** namespace null: none in the manifest */
const workload = (apiVersion: string, kind: string, body: object, namespace: string | null = 'team-a'): object =>
  ({ apiVersion, kind, metadata: { name: 'x', ...(namespace !== null && { namespace }) }, ...body })

t.test('every kind with a pod template yields the Pod its controller would create', async t => {
  const expectedPod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'x-', labels: { app: 'x' }, annotations: { note: 'kept' }, namespace: 'team-a' },
    spec
  }
  const table: Array<[string, object]> = [
    ['Deployment', workload('apps/v1', 'Deployment', { spec: { replicas: 3, template } })],
    ['StatefulSet', workload('apps/v1', 'StatefulSet', { spec: { serviceName: 'x', template } })],
    ['DaemonSet', workload('apps/v1', 'DaemonSet', { spec: { template } })],
    ['ReplicaSet', workload('apps/v1', 'ReplicaSet', { spec: { template } })],
    ['Job', workload('batch/v1', 'Job', { spec: { template } })],
    ['CronJob', workload('batch/v1', 'CronJob', { spec: { schedule: '* * * * *', jobTemplate: { spec: { template } } } })],
    ['an older apiVersion of the same group', workload('batch/v1beta1', 'CronJob', { spec: { jobTemplate: { spec: { template } } } })]
  ]
  t.same(Object.keys(POD_TEMPLATE_KINDS).sort(), table.slice(0, 6).map(([kind]) => kind).sort(), 'the table covers every kind')
  for (const [name, manifest] of table) {
    const result = podInputOf(manifest)
    t.same(result, { ok: true, value: { pod: expectedPod, namespace: 'team-a', origin: `${(manifest as { kind: string }).kind} x` } }, name)
  }
})

t.test('a bare Pod is reviewed as written, its namespace filled in', async t => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'debug' }, spec }
  const result = podInputOf(pod, 'team-b')
  t.same(result, { ok: true, value: { pod: { ...pod, metadata: { name: 'debug', namespace: 'team-b' } }, namespace: 'team-b', origin: 'Pod debug' } })
  t.same(pod.metadata, { name: 'debug' }, 'the manifest itself is not changed')
})

t.test('the namespace: the manifest\'s own, else the flag; the two differing is refused', async t => {
  const table: Array<[string, object, string | undefined, string]> = [
    ['the manifest\'s', workload('apps/v1', 'Deployment', { spec: { template } }, 'team-a'), undefined, 'team-a'],
    ['the flag\'s', workload('apps/v1', 'Deployment', { spec: { template } }, null), 'team-b', 'team-b'],
    ['both, equal', workload('apps/v1', 'Deployment', { spec: { template } }, 'team-a'), 'team-a', 'team-a']
  ]
  for (const [name, manifest, flag, expected] of table) {
    const result = podInputOf(manifest, flag)
    t.equal(result.ok && result.value.namespace, expected, name)
    t.equal(result.ok && result.value.pod.metadata?.namespace, expected, `${name}: on the Pod too`)
  }
})

t.test('what cannot be reviewed, each with the reason', async t => {
  const table: Array<[string, unknown, string | undefined, string]> = [
    ['not an object', ['a'], undefined, 'not a manifest (an object); expected an AdmissionReview, a Pod, or a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob'],
    ['no kind', { apiVersion: 'v1' }, undefined, 'no kind; expected an AdmissionReview, a Pod, or a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob'],
    ['a kind without a template', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }, undefined,
      'ConfigMap c: no pod template to review; expected an AdmissionReview, a Pod, or a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob'],
    ['a Deployment in the wrong group', workload('extensions/v1beta1', 'Deployment', { spec: { template } }), undefined,
      'Deployment x: apiVersion must be apps/v1, got "extensions/v1beta1"'],
    ['a Pod without apiVersion', { kind: 'Pod', spec }, undefined, 'Pod: apiVersion must be v1, got none'],
    ['no namespace anywhere', workload('apps/v1', 'Deployment', { spec: { template } }, null), undefined, 'Deployment x: no metadata.namespace; pass --namespace'],
    ['namespaces differing', workload('apps/v1', 'Deployment', { spec: { template } }, 'team-a'), 'team-b',
      'Deployment x: metadata.namespace team-a differs from --namespace team-b'],
    ['a Pod without spec', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'a' } }, undefined, 'Pod p: spec is missing'],
    ['a template without spec', workload('apps/v1', 'Deployment', { spec: { template: { metadata: {} } } }), undefined, 'Deployment x: spec.template.spec is missing'],
    ['a CronJob without its job template', workload('batch/v1', 'CronJob', { spec: { template } }), undefined, 'CronJob x: spec.jobTemplate.spec.template.spec is missing']
  ]
  for (const [name, manifest, flag, error] of table) t.same(podInputOf(manifest, flag), { ok: false, error }, name)
})

t.test('parseManifest: one manifest, JSON or YAML', async t => {
  const table: Array<[string, string, ReturnType<typeof parseManifest>]> = [
    ['JSON', '{"kind":"Pod"}', { ok: true, value: { kind: 'Pod' } }],
    ['YAML', 'kind: Pod\nmetadata:\n  name: p\n', { ok: true, value: { kind: 'Pod', metadata: { name: 'p' } } }],
    ['YAML with a leading separator and a trailing empty document', '---\nkind: Pod\n---\n', { ok: true, value: { kind: 'Pod' } }],
    ['nothing', '', { ok: false, error: 'no manifest' }],
    ['only comments', '# nothing here\n', { ok: false, error: 'no manifest' }],
    ['two documents', 'kind: Pod\n---\nkind: Pod\n', { ok: false, error: '2 manifests; give one at a time' }]
  ]
  for (const [name, text, expected] of table) t.same(parseManifest(text), expected, name)
  const broken = parseManifest('kind: Pod\nmetadata: {name: x\n')
  t.match(broken, { ok: false, error: /^not valid YAML or JSON: line \d+, column \d+: Flow map/ }, 'a syntax error names its line')
})

t.test('an AdmissionReview is recognised by its kind or its group', async t => {
  t.ok(isAdmissionReviewManifest({ kind: 'AdmissionReview' }))
  t.ok(isAdmissionReviewManifest({ apiVersion: 'admission.k8s.io/v1', kind: 'Wrong' }), 'so the envelope parser names the wrong kind')
  t.notOk(isAdmissionReviewManifest({ apiVersion: 'v1', kind: 'Pod' }))
  t.notOk(isAdmissionReviewManifest('AdmissionReview'))
})

t.test('createReviewOf: a valid CREATE review whose uid depends only on the Pod and namespace', async t => {
  const input = podInputOf(workload('apps/v1', 'Deployment', { spec: { template } }))
  if (!input.ok) throw new Error(input.error)
  const review = createReviewOf(input.value)
  const parsed = parseAdmissionReview(review)
  t.ok(parsed.ok, 'the envelope parser accepts it')
  t.match(review.request, {
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'team-a',
    operation: 'CREATE',
    object: input.value.pod,
    dryRun: false
  })
  t.notOk('name' in (review.request ?? {}), 'a Pod with generateName has no name yet')
  t.match(review.request?.uid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  t.equal(createReviewOf(input.value).request?.uid, review.request?.uid, 'same input, same uid')
  t.not(createReviewOf({ ...input.value, namespace: 'team-b' }).request?.uid, review.request?.uid, 'another namespace, another uid')
  const named = podInputOf({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'a' }, spec })
  t.equal(named.ok && createReviewOf(named.value).request?.name, 'p', 'a named Pod\'s name is the request\'s')
})
