// Properties over random Pods: whatever the Pod, the patch applies with fast-json-patch's strict
// validation, a second review of the patched Pod yields no patch, and only pull fields change.

import t from 'tap'
import fc from 'fast-check'
import jsonpatch from 'fast-json-patch'
const { applyPatch, compare, deepClone } = jsonpatch
import { decide } from '../../src/admission/decide.js'
import { DEFAULT_ADMISSION_OPTIONS, type AdmissionOptions } from '../../src/admission/options.js'
import type { AdmissionRequest } from '../../src/admission/types.js'
import { StaticClusterView } from '../../src/cluster/static-view.js'
import { decodePatch, standardCluster } from '../support/cluster.js'

const images = fc.constantFrom(
  'nginx', 'nginx:1.27', 'registry.acme.example/web/server:2', 'ghcr.io/globex/billing@sha256:' + 'b'.repeat(64),
  'mirror.platform.example/fluent-bit:3.1', 'registry.k8s.io/pause:3.10', 'quay.io/infra/agent:1', 'localhost:5000/x',
  'Not Valid', ''
)
const policy = fc.option(fc.constantFrom('Always', 'IfNotPresent', 'Never'), { nil: undefined })
const container = fc.record({
  name: fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/),
  image: fc.option(images, { nil: undefined }),
  imagePullPolicy: policy,
  restartPolicy: fc.option(fc.constant('Always'), { nil: undefined })
}, { requiredKeys: ['name'] })
const containers = fc.option(fc.array(container, { maxLength: 5 }), { nil: undefined })
const volume = fc.oneof(
  fc.record({ name: fc.constant('cfg'), configMap: fc.constant({ name: 'c' }) }),
  fc.record({ name: fc.constant('img'), image: fc.record({ reference: images, pullPolicy: policy }, { requiredKeys: ['reference'] }) })
)
const pullSecrets = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.array(fc.record({ name: fc.constantFrom('a', 'b', 'pullguard-registry-credentials') }), { maxLength: 3 })
)
const pod = fc.record({
  initContainers: containers,
  containers: fc.array(container, { minLength: 1, maxLength: 5 }),
  ephemeralContainers: containers,
  volumes: fc.option(fc.array(volume, { maxLength: 3 }), { nil: undefined }),
  imagePullSecrets: pullSecrets,
  nodeName: fc.option(fc.string(), { nil: undefined })
}).map(spec => {
  // Absent keys must really be absent, as in JSON from the API server.
  const clean = Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined))
  return { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'p-', namespace: 'team-a', labels: { app: 'x' } }, spec: clean }
})
const namespaces = fc.constantFrom('team-a', 'team-b', 'sandbox', 'default', 'not-in-the-view')
const options = fc.record({
  foreignRegistryPolicy: fc.constantFrom('warn', 'deny', 'ignore'),
  alwaysPullExempt: fc.constantFrom([], ['registry.k8s.io/pause'], ['quay.io/infra/*'])
}) as fc.Arbitrary<Pick<AdmissionOptions, 'foreignRegistryPolicy' | 'alwaysPullExempt'>>

const ALLOWED_PATHS = [
  /^\/spec\/imagePullSecrets(\/\d+|\/-)?$/,
  /^\/spec\/(initContainers|containers|ephemeralContainers)\/\d+\/imagePullPolicy$/,
  /^\/spec\/volumes\/\d+\/image\/pullPolicy$/
]

function review (object: unknown, namespace: string): AdmissionRequest {
  return { uid: 'u', operation: 'CREATE', namespace, resource: { group: '', version: 'v1', resource: 'pods' }, object }
}

t.test('random pods: strict apply, idempotent, only pull fields touched', async t => {
  const cluster = standardCluster()
  fc.assert(fc.property(pod, namespaces, options, (object, ns, override) => {
    const opts = { ...DEFAULT_ADMISSION_OPTIONS, ...override }
    const view = new StaticClusterView(cluster, opts)
    const { response } = decide(review(object, ns), view.snapshot(), opts)
    if (response.patch === undefined) return true
    const original = deepClone(object)
    // validate=true: fast-json-patch rejects operations on missing parents, like the API server does.
    const patched = applyPatch(deepClone(object), decodePatch(response.patch) as never, true, false).newDocument
    for (const op of compare(original, patched)) {
      if (!ALLOWED_PATHS.some(pattern => pattern.test(op.path))) throw new Error(`touched ${op.path}`)
    }
    const second = decide(review(patched, ns), view.snapshot(), opts)
    if (second.response.patch !== undefined) throw new Error('second review still patches')
    return true
  }), { numRuns: 500 })
  t.pass('500 random pods')
})

t.test('random pods: every non-exempt container ends Always in tenant namespaces, none change elsewhere', async t => {
  const view = new StaticClusterView(standardCluster(), DEFAULT_ADMISSION_OPTIONS)
  fc.assert(fc.property(pod, namespaces, (object, ns) => {
    const { response } = decide(review(object, ns), view.snapshot(), { ...DEFAULT_ADMISSION_OPTIONS, foreignRegistryPolicy: 'ignore' })
    const patched = response.patch === undefined
      ? object
      : applyPatch(deepClone(object), decodePatch(response.patch) as never, true, false).newDocument
    const spec = patched.spec as Record<string, Array<{ imagePullPolicy?: string }> | undefined>
    const policies = ['initContainers', 'containers', 'ephemeralContainers'].flatMap(list => (spec[list] ?? []).map(c => c.imagePullPolicy))
    if (ns === 'default') return response.patch === undefined
    return policies.every(p => p === 'Always')
  }), { numRuns: 300 })
  t.pass('300 random pods')
})
