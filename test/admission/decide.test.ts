// Rules of decide() that read best as tables. Whole reviews and their answers (patch, warnings, audit
// annotations, the Secret to ensure) are golden cases in test/fixtures/golden/, run by golden.test.ts.

import t from 'tap'
import jsonpatch from 'fast-json-patch'
const { applyPatch, deepClone } = jsonpatch
import { decide } from '../../src/admission/decide.js'
import { DEFAULT_ADMISSION_OPTIONS } from '../../src/admission/options.js'
import type { AdmissionRequest, Pod } from '../../src/admission/types.js'
import { StaticClusterView } from '../../src/cluster/static-view.js'
import { auth, credentialSecret, decodePatch, podCreateReview, standardCluster } from '../support/cluster.js'

const always = (path: string): object => ({ op: 'add', path, value: 'Always' })
const spec = (pod: Pod): NonNullable<Pod['spec']> => pod.spec as NonNullable<Pod['spec']>

t.test('requests that are neither a Pod creation, a Pod UPDATE nor a debug container are allowed untouched', async t => {
  const view = new StaticClusterView(standardCluster(), DEFAULT_ADMISSION_OPTIONS)
  const requests: Array<[string, (request: AdmissionRequest) => void]> = [
    // Pod UPDATE itself is judged in pod-update.test.ts; its subresources other than debug are not.
    ['pods/status UPDATE', request => { request.operation = 'UPDATE'; request.subResource = 'status'; request.oldObject = request.object }],
    ['pod DELETE', request => { request.operation = 'DELETE' }],
    ['CREATE on pods/eviction', request => { request.subResource = 'eviction' }],
    ['another resource', request => { request.resource = { group: 'apps', version: 'v1', resource: 'deployments' } }],
    ['a pods resource of another API group', request => { request.resource = { group: 'example.com', version: 'v1', resource: 'pods' } }]
  ]
  for (const [name, edit] of requests) {
    const request = podCreateReview().request as AdmissionRequest
    edit(request)
    const decision = decide(request, view.snapshot(), DEFAULT_ADMISSION_OPTIONS)
    t.same(decision.response, { uid: request.uid, allowed: true }, name)
    t.equal(decision.ensureSecret, undefined, `${name}: nothing to ensure`)
  }
})

t.test('which images count as another tenant\'s registry (policy deny)', async t => {
  const options = { ...DEFAULT_ADMISSION_OPTIONS, foreignRegistryPolicy: 'deny' as const }
  const rows: Array<{ name: string, namespace: string, image: string, foreign: boolean, extra?: object[] }> = [
    { name: 'globex\'s organisation, from acme', namespace: 'team-a', image: 'ghcr.io/globex/billing:1.0', foreign: true },
    { name: 'the same by digest', namespace: 'team-a', image: `ghcr.io/globex/billing@sha256:${'a'.repeat(64)}`, foreign: true },
    { name: 'acme\'s registry, from globex', namespace: 'team-b', image: 'registry.acme.example/web/server:2', foreign: true },
    { name: 'acme\'s registry, from initech (shared credentials only)', namespace: 'sandbox', image: 'registry.acme.example/web/server:2', foreign: true },
    { name: 'the owner itself', namespace: 'team-b', image: 'ghcr.io/globex/billing:1.0', foreign: false },
    { name: 'acme\'s own registry', namespace: 'team-a', image: 'registry.acme.example/web/server:2', foreign: false },
    { name: 'the shared mirror', namespace: 'team-a', image: 'mirror.platform.example/fluent-bit:3.1', foreign: false },
    // globex holds a host-only Docker Hub key: on a public registry that makes nothing globex's.
    { name: 'Docker Hub, where globex holds a host-only key', namespace: 'team-a', image: 'nginx:1.27', foreign: false },
    { name: 'another organisation on the same public registry', namespace: 'team-a', image: 'ghcr.io/acme/tool:1', foreign: false },
    {
      name: 'a registry both tenants hold credentials for',
      namespace: 'team-a',
      image: 'ghcr.io/globex/public/x:1',
      foreign: false,
      extra: [credentialSecret({ name: 'acme-ghcr', tenant: 'acme', auths: { 'ghcr.io/globex/public': auth('a', 'b') } })]
    }
  ]
  for (const row of rows) {
    const view = new StaticClusterView([...standardCluster(), ...row.extra ?? []], options)
    const request = podCreateReview().request as AdmissionRequest
    request.namespace = row.namespace
    const pod = request.object as Pod
    pod.metadata = { ...pod.metadata, namespace: row.namespace }
    spec(pod).initContainers = []
    spec(pod).containers = [{ name: 'app', image: row.image, imagePullPolicy: 'Always' }]
    const { response } = decide(request, view.snapshot(), options)
    t.equal(response.allowed, !row.foreign, `${row.name}: ${row.foreign ? 'denied' : 'allowed'}`)
    if (row.foreign) t.match(response.status, { code: 403, message: /belongs to another tenant/ }, `${row.name}: 403 naming the registry`)
  }
})

t.test('a review without object or spec is allowed untouched', async t => {
  const view = new StaticClusterView(standardCluster(), DEFAULT_ADMISSION_OPTIONS)
  for (const object of [undefined, null, {}, { spec: 'nonsense' }]) {
    const request = podCreateReview().request as AdmissionRequest
    request.object = object
    const decision = decide(request, view.snapshot(), DEFAULT_ADMISSION_OPTIONS)
    t.same(decision.response, { uid: request.uid, allowed: true })
  }
})

t.test('garbage inside containers never throws and never yields a bad patch', async t => {
  const request = podCreateReview().request as AdmissionRequest
  const pod = request.object as Pod
  spec(pod).containers = [null, 42, 'x', { name: 'ok', image: 'registry.acme.example/a:1' }, { name: 'noimage' }, { name: { toString: 1 }, image: 'x' }] as never
  spec(pod).volumes = [null, { name: 'v', image: 'not-an-object' }, { name: { toString: 1 }, image: { reference: 'x' } }] as never
  const view = new StaticClusterView(standardCluster(), DEFAULT_ADMISSION_OPTIONS)
  const decision = decide(request, view.snapshot(), DEFAULT_ADMISSION_OPTIONS)
  const patch = decodePatch(decision.response.patch)
  t.same(patch.slice(2, 6), [always('/spec/containers/3/imagePullPolicy'), always('/spec/containers/4/imagePullPolicy'),
    always('/spec/containers/5/imagePullPolicy'), always('/spec/volumes/2/image/pullPolicy')])
  t.match(decision.response.auditAnnotations?.['always-pull-enforced'], /containers\/#5,volumes\/#2$/, 'a name that is not a string is named by its index')
  t.doesNotThrow(() => applyPatch(deepClone(pod), patch as never, true, false))
})
