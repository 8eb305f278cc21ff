// The always-pull policy and the webhook must agree: on random Pods and exemption lists, the policy
// rejects the Pod as the tenant wrote it exactly when pullguard's decision forces a pull policy, and
// always admits the Pod once pullguard's patch is applied. This ties the CEL normalisation and
// exemption matching to the code's (src/admission) rather than to a copy of its rules.
//
// Limited to valid image references: for a reference the runtime would refuse, the webhook exempts
// nothing while CEL, which cannot check the full grammar, normalises it heuristically; it would only
// be exempt if that heuristic name were on the list (the chart's schema admits valid names only),
// and the kubelet cannot pull such an image anyway.

import fc from 'fast-check'
import jsonpatch from 'fast-json-patch'
import t from 'tap'
import { decide } from '../../src/admission/decide.js'
import { parseImageName } from '../../src/admission/image-reference.js'
import { DEFAULT_ADMISSION_OPTIONS, type AdmissionOptions } from '../../src/admission/options.js'
import type { AdmissionRequest, Operation } from '../../src/admission/types.js'
import { StaticClusterView } from '../../src/cluster/static-view.js'
import { fixture } from '../support/fixtures.js'
import { clone, deployManifests, only } from './support/repo.js'
import { evaluatePolicy, type AdmissionAttributes } from './support/vap.js'

const manifests = deployManifests()
const policy = only(manifests, 'ValidatingAdmissionPolicy', 'pullguard-always-pull')
const binding = only(manifests, 'ValidatingAdmissionPolicyBinding', 'pullguard-always-pull')
const TENANT_NAMESPACE = {
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name: 'team-a', labels: { 'kubernetes.io/metadata.name': 'team-a', [DEFAULT_ADMISSION_OPTIONS.tenantLabel]: 'acme' } }
}

interface Container { name: string, image: string, imagePullPolicy?: string }
interface ImageVolume { name: string, image: { reference: string, pullPolicy?: string } }
interface Pod { metadata: object, spec: { initContainers?: Container[], containers: Container[], ephemeralContainers?: Container[], volumes?: ImageVolume[] } }
interface Review { request: AdmissionRequest & { object: Pod, oldObject: Pod | null } }

// Valid references in the forms people write: short Docker Hub names, explicit registries with
// ports, tags, digests, both, and the legacy index.docker.io host.
const fixtureRefs = fixture<{ cases: Array<{ ref: string, name: string | null }> }>('image-references.json')
  .cases.filter(c => c.name !== null).map(c => c.ref)
const reference = fc.oneof(
  fc.constantFrom(...fixtureRefs),
  fc.tuple(
    fc.constantFrom('', 'docker.io/', 'index.docker.io/', 'library/', 'registry.acme.example/', 'localhost:5000/', 'quay.io/', 'registry.k8s.io/', 'LOCAL/'),
    fc.array(fc.constantFrom('app', 'acme', 'tools', 'nginx', 'pause', 'web-server', 'a_b', 'x.y'), { minLength: 1, maxLength: 3 }),
    fc.constantFrom('', ':1', ':v1.2.3', ':latest'),
    fc.constantFrom('', `@sha256:${'ab'.repeat(32)}`)
  ).map(([registry, path, tag, digest]) => `${registry}${path.join('/')}${tag}${digest}`)
).filter(ref => parseImageName(ref) !== undefined)

const pullPolicy = fc.constantFrom('Always', 'IfNotPresent', 'Never', undefined)
const containers = (prefix: string, min: number, max: number): fc.Arbitrary<Container[]> =>
  fc.array(fc.record({ image: reference, imagePullPolicy: pullPolicy }), { minLength: min, maxLength: max })
    .map(list => list.map((c, i) => {
      const container: Container = { name: `${prefix}-${i}`, image: c.image }
      if (c.imagePullPolicy !== undefined) container.imagePullPolicy = c.imagePullPolicy
      return container
    }))
const imageVolumes = fc.array(fc.record({ reference, pullPolicy }), { maxLength: 2 })
  .map(list => list.map((v, i) => ({ name: `vol-${i}`, image: { reference: v.reference, ...(v.pullPolicy !== undefined && { pullPolicy: v.pullPolicy }) } })))

/** Exemptions drawn from the names the Pod uses (exact, and every parent with /*) plus unrelated ones. */
const exemptionsFor = (refs: string[]): fc.Arbitrary<string[]> => {
  const names = refs.map(ref => parseImageName(ref)?.name).filter((n): n is string => n !== undefined)
  const parents = names.flatMap(name => {
    const parts = name.split('/')
    return parts.slice(2).map((_, i) => `${parts.slice(0, i + 2).join('/')}/*`)
  })
  return fc.subarray([...new Set([...names, ...parents, 'docker.io/library/unrelated', 'quay.io/nobody/*'])])
}

function decideAndCheck (review: Review, exempt: string[]): void {
  const options: AdmissionOptions = { ...DEFAULT_ADMISSION_OPTIONS, alwaysPullExempt: exempt }
  const snapshot = new StaticClusterView([TENANT_NAMESPACE], options).snapshot()
  const { response } = decide(review.request, snapshot, options)
  const operations = response.patch === undefined
    ? []
    : JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as jsonpatch.Operation[]
  const forcesPullPolicy = operations.some(op => /\/(imagePullPolicy|pullPolicy)$/.test(op.path))

  const { object, oldObject, ...request } = review.request
  const attributes = (pod: unknown): AdmissionAttributes =>
    ({ request: request as AdmissionAttributes['request'], object: pod, oldObject, namespaceObject: TENANT_NAMESPACE })
  const overrides = { alwaysPullExempt: JSON.stringify(exempt) }
  const asWritten = evaluatePolicy(policy, binding, attributes(object), overrides)
  if (!asWritten.matched) throw new Error('the policy must match a tenant Pod')
  if (asWritten.allowed === forcesPullPolicy) {
    throw new Error(`policy ${asWritten.allowed ? 'admits' : 'rejects'} the Pod as written but the webhook ${forcesPullPolicy ? 'forces' : 'does not force'} a pull policy: ` +
      JSON.stringify({ repositories: asWritten.variables.repositories, operations, messages: asWritten.messages }))
  }
  const patched = jsonpatch.applyPatch(clone(object), operations, true, false).newDocument
  const afterWebhook = evaluatePolicy(policy, binding, attributes(patched), overrides)
  if (!afterWebhook.allowed) throw new Error(`policy rejects the webhook's result: ${afterWebhook.messages.join('; ')}`)
}

t.test('Pod CREATE: the policy rejects exactly what the webhook fixes, and admits the fixed Pod', async t => {
  const pods = fc.record({ init: containers('init', 0, 2), main: containers('main', 1, 3), volumes: imageVolumes })
    .chain(pod => fc.record({
      pod: fc.constant(pod),
      exempt: exemptionsFor([...pod.init, ...pod.main].map(c => c.image).concat(pod.volumes.map(v => v.image.reference)))
    }))
  fc.assert(fc.property(pods, ({ pod, exempt }) => {
    const review = fixture<Review>('pod-create.json')
    review.request.object.spec = { ...review.request.object.spec, initContainers: pod.init, containers: pod.main, volumes: pod.volumes }
    decideAndCheck(review, exempt)
  }), { numRuns: 300 })
  t.pass('300 random Pods agree')
})

t.test('kubectl debug: only the added ephemeral containers count, for both', async t => {
  const debug = fc.record({ existing: containers('old', 0, 2), added: containers('new', 1, 2) })
    .chain(d => fc.record({ debug: fc.constant(d), exempt: exemptionsFor([...d.existing, ...d.added].map(c => c.image)) }))
  fc.assert(fc.property(debug, ({ debug: { existing, added }, exempt }) => {
    const review = fixture<Review>('pod-ephemeralcontainers-update.json')
    const old = review.request.oldObject as Pod
    old.spec.ephemeralContainers = existing
    review.request.object.spec.ephemeralContainers = [...existing, ...added]
    review.request.operation = 'UPDATE' as Operation
    decideAndCheck(review, exempt)
  }), { numRuns: 200 })
  t.pass('200 random debug sessions agree')
})
