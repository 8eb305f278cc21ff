import t from 'tap'
import jsonpatch from 'fast-json-patch'
const { applyPatch, deepClone } = jsonpatch
import { decide, type Decision } from '../../src/admission/decide.js'
import { DEFAULT_ADMISSION_OPTIONS, type AdmissionOptions } from '../../src/admission/options.js'
import type { AdmissionRequest, Pod } from '../../src/admission/types.js'
import { StaticClusterView } from '../../src/cluster/static-view.js'
import {
  auth,
  credentialSecret,
  debugReview,
  decodePatch,
  namespace,
  podCreateReview,
  standardCluster
} from '../support/cluster.js'

interface Case {
  name: string
  /** changes the Pod CREATE fixture (team-a, tenant acme) before deciding */
  request?: (request: AdmissionRequest, pod: Pod) => void
  cluster?: object[]
  options?: Partial<AdmissionOptions>
  expect: {
    allowed?: boolean
    patch: unknown[]
    warnings?: RegExp[]
    audit?: Record<string, string | RegExp>
    ensureSecret?: boolean
    status?: { code: number, message: RegExp }
  }
}

const always = (path: string): object => ({ op: 'add', path, value: 'Always' })
const FIXTURE_POLICY_OPS = [
  always('/spec/initContainers/0/imagePullPolicy'),
  always('/spec/initContainers/1/imagePullPolicy'),
  always('/spec/containers/0/imagePullPolicy')
]
const APPEND_SECRET = { op: 'add', path: '/spec/imagePullSecrets/-', value: { name: 'pullguard-registry-credentials' } }
const spec = (pod: Pod): NonNullable<Pod['spec']> => pod.spec as NonNullable<Pod['spec']>
const containerAt = (pod: Pod, i: number) => (spec(pod).containers ?? [])[i] as { image: string, imagePullPolicy?: string }

const cases: Case[] = [
  {
    name: 'pod create in a tenant namespace: Always everywhere, managed secret appended after existing ones',
    expect: {
      patch: [...FIXTURE_POLICY_OPS, APPEND_SECRET],
      audit: { 'pull-secret-injected': 'pullguard-registry-credentials', 'always-pull-enforced': 'initContainers/migrate,initContainers/log-shipper,containers/web' },
      ensureSecret: true
    }
  },
  {
    name: 'absent imagePullSecrets: the array is created',
    request: (_, pod) => { delete spec(pod).imagePullSecrets },
    expect: { patch: [...FIXTURE_POLICY_OPS, { op: 'add', path: '/spec/imagePullSecrets', value: [{ name: 'pullguard-registry-credentials' }] }], ensureSecret: true }
  },
  {
    name: 'null imagePullSecrets: the array is created',
    request: (_, pod) => { spec(pod).imagePullSecrets = null },
    expect: { patch: [...FIXTURE_POLICY_OPS, { op: 'add', path: '/spec/imagePullSecrets', value: [{ name: 'pullguard-registry-credentials' }] }], ensureSecret: true }
  },
  {
    name: 'managed secret already referenced: not added twice, still ensured',
    request: (_, pod) => { spec(pod).imagePullSecrets = [{ name: 'pullguard-registry-credentials' }, { name: 'team-own-registry' }] },
    expect: { patch: FIXTURE_POLICY_OPS, ensureSecret: true }
  },
  {
    name: 'already compliant: no patch at all',
    request: (_, pod) => {
      for (const list of [spec(pod).initContainers, spec(pod).containers]) for (const c of list ?? []) c.imagePullPolicy = 'Always'
      spec(pod).imagePullSecrets?.push({ name: 'pullguard-registry-credentials' })
    },
    expect: { patch: [], ensureSecret: true }
  },
  {
    name: 'absent imagePullPolicy and Never are both forced to Always',
    request: (_, pod) => { delete containerAt(pod, 0).imagePullPolicy; containerAt(pod, 1).imagePullPolicy = 'Never' },
    expect: { patch: [...FIXTURE_POLICY_OPS, always('/spec/containers/1/imagePullPolicy'), APPEND_SECRET], ensureSecret: true }
  },
  {
    name: 'ephemeral containers present at create are forced too',
    request: (_, pod) => { spec(pod).ephemeralContainers = [{ name: 'dbg', image: 'busybox', imagePullPolicy: 'IfNotPresent' }] },
    expect: { patch: [...FIXTURE_POLICY_OPS, always('/spec/ephemeralContainers/0/imagePullPolicy'), APPEND_SECRET], ensureSecret: true }
  },
  {
    name: 'image volumes get pullPolicy Always, created when absent; other volumes untouched',
    request: (_, pod) => {
      spec(pod).volumes?.push({ name: 'models', image: { reference: 'registry.acme.example/models:1' } })
      spec(pod).volumes?.push({ name: 'tools', image: { reference: 'registry.acme.example/tools:1', pullPolicy: 'Always' } })
    },
    expect: { patch: [...FIXTURE_POLICY_OPS, always('/spec/volumes/1/image/pullPolicy'), APPEND_SECRET], audit: { 'always-pull-enforced': /volumes\/models$/ }, ensureSecret: true }
  },
  {
    name: 'tenant without any credentials: Always enforced, no secret, a warning naming the tenant',
    cluster: [namespace('team-a', 'acme')],
    expect: { patch: FIXTURE_POLICY_OPS, warnings: [/tenant "acme" has no registry credentials/], ensureSecret: false }
  },
  {
    name: 'tenant with only shared credentials still gets the managed secret',
    request: request => { request.namespace = 'sandbox' },
    expect: { patch: [...FIXTURE_POLICY_OPS, APPEND_SECRET], ensureSecret: true }
  },
  {
    name: 'namespace without the tenant label: untouched',
    request: request => { request.namespace = 'default' },
    expect: { patch: [] }
  },
  {
    name: 'namespace the view cannot resolve (only tenant namespaces reach the webhook): pull policy enforced, no credentials',
    request: request => { request.namespace = 'brand-new' },
    expect: { patch: FIXTURE_POLICY_OPS, warnings: [/the tenant of namespace "brand-new" is not known yet; pull policy enforced, no pull secret added/], ensureSecret: false }
  },
  {
    name: 'a custom tenant label key is honoured',
    cluster: [namespace('team-a', 'acme', 'example.com/team'), credentialSecret({ name: 'a', tenant: 'acme', auths: { 'registry.acme.example': auth('a', 'b') } }, { ...DEFAULT_ADMISSION_OPTIONS, tenantLabel: 'example.com/team' })],
    options: { tenantLabel: 'example.com/team' },
    expect: { patch: [...FIXTURE_POLICY_OPS, APPEND_SECRET], ensureSecret: true }
  },
  {
    name: 'pod UPDATE is left alone (the API server forbids changing these fields)',
    request: request => { request.operation = 'UPDATE'; request.oldObject = request.object },
    expect: { patch: [] }
  },
  { name: 'DELETE is left alone', request: request => { request.operation = 'DELETE' }, expect: { patch: [] } },
  { name: 'CREATE on pods/binding is not a pod creation', request: request => { request.subResource = 'binding' }, expect: { patch: [] } },
  { name: 'CREATE on pods/eviction is not a pod creation', request: request => { request.subResource = 'eviction' }, expect: { patch: [] } },
  {
    name: 'other resources are left alone',
    request: request => { request.resource = { group: 'apps', version: 'v1', resource: 'deployments' } },
    expect: { patch: [] }
  },
  {
    name: 'mirror pods created by a kubelet are left alone',
    request: (request, pod) => {
      pod.metadata = { ...pod.metadata, annotations: { 'kubernetes.io/config.mirror': 'abc' } }
      request.userInfo = { username: 'system:node:worker-1', groups: ['system:nodes'] }
    },
    expect: { patch: [] }
  },
  {
    name: 'the mirror annotation on a Pod a tenant creates exempts nothing',
    request: (_, pod) => { pod.metadata = { ...pod.metadata, annotations: { 'kubernetes.io/config.mirror': 'abc' } } },
    expect: { patch: [...FIXTURE_POLICY_OPS, APPEND_SECRET], ensureSecret: true }
  },
  {
    name: 'dryRun: same answer, nothing to ensure',
    request: request => { request.dryRun = true },
    expect: { patch: [...FIXTURE_POLICY_OPS, APPEND_SECRET], ensureSecret: false }
  },
  {
    name: 'exempt repositories keep their policy (exact and wildcard), others do not',
    request: (_, pod) => {
      containerAt(pod, 0).image = 'registry.k8s.io/pause:3.10'
      containerAt(pod, 1).image = 'quay.io/infra/agent@sha256:' + 'c'.repeat(64)
      containerAt(pod, 1).imagePullPolicy = 'IfNotPresent'
      spec(pod).containers?.push({ name: 'other', image: 'quay.io/infrastructure/x:1', imagePullPolicy: 'IfNotPresent' })
    },
    options: { alwaysPullExempt: ['registry.k8s.io/pause', 'quay.io/infra/*'] },
    expect: { patch: [FIXTURE_POLICY_OPS[0], FIXTURE_POLICY_OPS[1], always('/spec/containers/2/imagePullPolicy'), APPEND_SECRET], ensureSecret: true }
  },
  {
    name: 'foreign registry, policy warn: a warning naming the registry, not the owner',
    request: (_, pod) => { containerAt(pod, 1).image = 'ghcr.io/globex/billing:1.0' },
    expect: {
      patch: [...FIXTURE_POLICY_OPS, APPEND_SECRET],
      warnings: [/image "ghcr\.io\/globex\/billing:1\.0" is in registry ghcr\.io\/globex, which belongs to another tenant$/],
      audit: { 'foreign-registry': 'ghcr.io/globex/billing:1.0=ghcr.io/globex(globex)' },
      ensureSecret: true
    }
  },
  {
    name: 'foreign registry by digest, policy deny: 403 naming image and registry, no patch',
    request: (_, pod) => { containerAt(pod, 1).image = 'ghcr.io/globex/billing@sha256:' + 'a'.repeat(64) },
    options: { foreignRegistryPolicy: 'deny' },
    expect: { allowed: false, patch: [], status: { code: 403, message: /image "ghcr\.io\/globex\/billing@sha256:a+" is in registry ghcr\.io\/globex/ }, ensureSecret: false }
  },
  {
    name: 'foreign registry, policy ignore: nothing said',
    request: (_, pod) => { containerAt(pod, 1).image = 'ghcr.io/globex/billing:1.0' },
    options: { foreignRegistryPolicy: 'ignore' },
    expect: { patch: [...FIXTURE_POLICY_OPS, APPEND_SECRET], warnings: [], ensureSecret: true }
  },
  {
    name: 'a host-only key on a public registry confers no ownership: nginx is nobody\'s',
    request: (_, pod) => { containerAt(pod, 1).image = 'nginx:1.27' },
    options: { foreignRegistryPolicy: 'deny' },
    expect: { patch: [...FIXTURE_POLICY_OPS, APPEND_SECRET], warnings: [], ensureSecret: true }
  },
  {
    name: 'another org on the same public registry is not foreign',
    request: (_, pod) => { containerAt(pod, 1).image = 'ghcr.io/acme/tool:1' },
    options: { foreignRegistryPolicy: 'deny' },
    expect: { patch: [...FIXTURE_POLICY_OPS, APPEND_SECRET], warnings: [], ensureSecret: true }
  },
  {
    name: 'the owner itself is covered, not foreign',
    request: (request, pod) => {
      request.namespace = 'team-b'
      for (const list of [spec(pod).initContainers, spec(pod).containers]) for (const c of list ?? []) c.image = 'ghcr.io/globex/billing:1.0'
    },
    options: { foreignRegistryPolicy: 'deny' },
    expect: { patch: [...FIXTURE_POLICY_OPS, APPEND_SECRET], warnings: [], ensureSecret: true }
  },
  {
    name: 'a registry both tenants hold credentials for is not foreign to either',
    cluster: [...standardCluster(), credentialSecret({ name: 'acme-ghcr', tenant: 'acme', auths: { 'ghcr.io/globex/public': auth('a', 'b') } })],
    request: (_, pod) => { containerAt(pod, 1).image = 'ghcr.io/globex/public/x:1' },
    options: { foreignRegistryPolicy: 'deny' },
    expect: { patch: [...FIXTURE_POLICY_OPS, APPEND_SECRET], warnings: [], ensureSecret: true }
  },
  {
    name: 'a secret planted outside the credentials namespace confers nothing',
    cluster: [namespace('team-a', 'acme'), namespace('team-b', 'globex'), credentialSecret({ name: 'planted', namespace: 'team-b', tenant: 'globex', auths: { 'registry.acme.example': auth('x', 'y') } })],
    options: { foreignRegistryPolicy: 'deny' },
    expect: { patch: FIXTURE_POLICY_OPS, warnings: [/tenant "acme" has no registry credentials/], ensureSecret: false }
  },
  {
    name: 'an unlabelled secret in the credentials namespace is not a credential',
    cluster: [namespace('team-a', 'acme'), credentialSecret({ name: 'stray', tenant: 'acme', labels: {}, auths: { 'registry.acme.example': auth('x', 'y') } })],
    expect: { patch: FIXTURE_POLICY_OPS, warnings: [/has no registry credentials/], ensureSecret: false }
  },
  {
    name: 'an invalid image reference is still forced to Always, with a warning',
    request: (_, pod) => { containerAt(pod, 1).image = 'Not A Valid Ref'; containerAt(pod, 1).imagePullPolicy = 'IfNotPresent' },
    expect: { patch: [...FIXTURE_POLICY_OPS, always('/spec/containers/1/imagePullPolicy'), APPEND_SECRET], warnings: [/"Not A Valid Ref" is not a valid image reference/], ensureSecret: true }
  },
  {
    name: 'warnings stay within the 256 characters the API server keeps',
    request: (_, pod) => { containerAt(pod, 1).image = `ghcr.io/globex/${'x'.repeat(300)}:1` },
    expect: { patch: [...FIXTURE_POLICY_OPS, APPEND_SECRET], warnings: [/^pullguard: image "ghcr\.io\/globex\/x+…$/], ensureSecret: true }
  }
]

function run (c: Case): { decision: Decision, object: unknown } {
  const review = podCreateReview()
  const request = review.request as AdmissionRequest
  c.request?.(request, request.object as Pod)
  const options = { ...DEFAULT_ADMISSION_OPTIONS, ...c.options }
  const view = new StaticClusterView(c.cluster ?? standardCluster(), options)
  return { decision: decide(request, view.snapshot(), options), object: request.object }
}

for (const c of cases) {
  t.test(c.name, async t => {
    const { decision, object } = run(c)
    const { response } = decision
    t.equal(response.uid, 'c5a0d3b2-8e51-4b0c-a9f3-2f6c1d9e7b44', 'uid echoed')
    t.equal(response.allowed, c.expect.allowed ?? true, 'allowed')
    t.same(decodePatch(response.patch), c.expect.patch, 'patch operations')
    t.equal(response.patchType, c.expect.patch.length > 0 ? 'JSONPatch' : undefined, 'patchType only with a patch')
    if (response.patch !== undefined) t.match(response.patch, /^[A-Za-z0-9+/]*={0,2}$/, 'padded base64')
    if (c.expect.warnings !== undefined) {
      t.equal(response.warnings?.length ?? 0, c.expect.warnings.length, 'warning count')
      c.expect.warnings.forEach((pattern, i) => t.match(response.warnings?.[i], pattern))
    }
    for (const warning of response.warnings ?? []) t.ok(warning.length <= 256, 'warning fits 256 chars')
    for (const key of Object.keys(response.auditAnnotations ?? {})) t.notMatch(key, /\//, 'audit key is a single segment')
    for (const [key, value] of Object.entries(c.expect.audit ?? {})) t.match(response.auditAnnotations?.[key], value, `audit ${key}`)
    if (c.expect.status !== undefined) {
      t.equal(response.status?.code, c.expect.status.code)
      t.match(response.status?.message, c.expect.status.message)
    }
    if (c.expect.ensureSecret !== undefined) t.equal(decision.ensureSecret !== undefined, c.expect.ensureSecret, 'secret to ensure')

    // Whatever the case: the patch applies strictly and a second review of the result changes nothing.
    if (response.patch !== undefined) {
      const patched = applyPatch(deepClone(object), decodePatch(response.patch) as never, true, false).newDocument
      const again = podCreateReview()
      const request = again.request as AdmissionRequest
      c.request?.(request, request.object as Pod)
      request.object = patched
      const options = { ...DEFAULT_ADMISSION_OPTIONS, ...c.options }
      const view = new StaticClusterView(c.cluster ?? standardCluster(), options)
      t.equal(decide(request, view.snapshot(), options).response.patch, undefined, 'idempotent')
    }
  })
}

t.test('the managed secret to ensure carries the tenant\'s merged credentials', async t => {
  const { decision } = run({ name: '', expect: { patch: [] } })
  const secret = decision.ensureSecret
  t.ok(secret)
  t.equal(secret?.namespace, 'team-a')
  t.equal(secret?.tenant, 'acme')
  t.equal(secret?.name, 'pullguard-registry-credentials')
  t.same(Object.keys(JSON.parse(secret?.dockerConfigJson ?? '{}').auths), ['mirror.platform.example', 'registry.acme.example'])
  t.match(secret?.contentHash, /^[0-9a-f]{64}$/)
})

t.test('kubectl debug: only newly added ephemeral containers change', async t => {
  const review = debugReview()
  const request = review.request as AdmissionRequest
  const view = new StaticClusterView(standardCluster(), DEFAULT_ADMISSION_OPTIONS)
  const first = decide(request, view.snapshot(), DEFAULT_ADMISSION_OPTIONS)
  t.same(decodePatch(first.response.patch), [always('/spec/ephemeralContainers/0/imagePullPolicy')])
  t.equal(first.ensureSecret, undefined, 'no secret work on the subresource')

  // A second debug container: the first (already stored) must not be touched, even if not Always.
  const pod = request.object as Pod
  const stored = deepClone(pod) as Pod
  spec(pod).ephemeralContainers?.push({ name: 'debugger-2', image: 'ghcr.io/globex/tool:1', imagePullPolicy: 'IfNotPresent' })
  request.oldObject = stored
  const second = decide(request, view.snapshot(), DEFAULT_ADMISSION_OPTIONS)
  t.same(decodePatch(second.response.patch), [always('/spec/ephemeralContainers/1/imagePullPolicy')])
  t.match(second.response.warnings?.[0], /ghcr\.io\/globex/, 'foreign check applies to the new container')

  const denied = decide(request, view.snapshot(), { ...DEFAULT_ADMISSION_OPTIONS, foreignRegistryPolicy: 'deny' })
  t.equal(denied.response.allowed, false)
  t.equal(denied.response.status?.code, 403)
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
