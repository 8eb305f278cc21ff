// The always-pull policy and the webhook must agree: on random Pods and exemption lists, the policy
// rejects the Pod as the tenant wrote it exactly when pullguard's decision forces a pull policy, and
// always admits the Pod once pullguard's patch is applied. This ties the CEL normalisation and
// exemption matching to the code's (src/admission) rather than to a copy of its rules. On Pod UPDATE,
// nothing is patched: the policy denies exactly what the webhook denies, and whenever the webhook's
// matchCondition keeps the API server from calling pullguard, pullguard would have allowed it.
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
import { evaluatePolicy, webhookMatches, type AdmissionAttributes, type WebhookSpec } from './support/vap.js'

const manifests = deployManifests()
const policy = only(manifests, 'ValidatingAdmissionPolicy', 'pullguard-always-pull')
const binding = only(manifests, 'ValidatingAdmissionPolicyBinding', 'pullguard-always-pull')
const webhook = (only(manifests, 'MutatingWebhookConfiguration').webhooks as WebhookSpec[])[0] as WebhookSpec
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

/** Decides a Pod UPDATE both ways and throws unless webhook, policy and matchCondition agree. */
function decideUpdateAndCheck (review: Review, exempt: string[]): { allowed: boolean, called: boolean } {
  const options: AdmissionOptions = { ...DEFAULT_ADMISSION_OPTIONS, alwaysPullExempt: exempt }
  const snapshot = new StaticClusterView([TENANT_NAMESPACE], options).snapshot()
  const { response } = decide(review.request, snapshot, options)
  if (response.patch !== undefined) throw new Error('a Pod UPDATE was patched')
  if (!response.allowed && response.status?.code !== 403) throw new Error(`not a policy denial: ${JSON.stringify(response.status)}`)

  const { object, oldObject, ...request } = review.request
  const attributes: AdmissionAttributes = { request: request as AdmissionAttributes['request'], object, oldObject, namespaceObject: TENANT_NAMESPACE }
  const policyResult = evaluatePolicy(policy, binding, attributes, { alwaysPullExempt: JSON.stringify(exempt) })
  if (!policyResult.matched) throw new Error('the policy must match a tenant Pod UPDATE')
  if (policyResult.allowed !== response.allowed) {
    throw new Error(`policy ${policyResult.allowed ? 'allows' : 'denies'} the UPDATE, the webhook ${response.allowed ? 'allows' : 'denies'} it: ` +
      JSON.stringify({ policy: policyResult.messages, webhook: response.status?.message }))
  }
  const called = webhookMatches(webhook, attributes)
  if (!called && !response.allowed) throw new Error(`the matchCondition skips an UPDATE pullguard denies: ${response.status?.message ?? ''}`)
  return { allowed: response.allowed, called }
}

/** The Pod UPDATE fixture with `edit(object, oldObject)` applied. */
function podUpdate (edit: (pod: Pod, old: Pod) => void): Review {
  const review = fixture<Review>('pod-update.json')
  edit(review.request.object, review.request.oldObject as Pod)
  return review
}

t.test('Pod UPDATE: a table both sides answer alike', async t => {
  const GLOBEX = 'ghcr.io/globex/billing:1.0'
  const named = (pod: Pod, name: string): Container => {
    const found = [...pod.spec.initContainers ?? [], ...pod.spec.containers, ...pod.spec.ephemeralContainers ?? []].find(c => c.name === name)
    if (found === undefined) throw new Error(`no container ${name}`)
    return found
  }
  const setImage = (name: string, image: string) => (pod: Pod): void => { named(pod, name).image = image }
  const volume = (reference: string, pullPolicy = 'IfNotPresent'): ImageVolume => ({ name: 'models', image: { reference, pullPolicy } })
  // [name, edit, exemptions, allowed, webhook called]
  const cases: Array<[string, (pod: Pod, old: Pod) => void, string[], boolean, boolean]> = [
    ['a label change', () => {}, [], true, false],
    ['an IfNotPresent container swapped to another tenant\'s image', setImage('web', GLOBEX), [], false, true],
    ['an Always container swapped', setImage('cache', GLOBEX), [], true, true],
    ['an init container', setImage('migrate', 'registry.acme.example/web/migrate:2.2.0'), [], false, true],
    ['a sidecar', setImage('log-shipper', 'mirror.platform.example/fluent-bit:3.2'), [], false, true],
    ['a Never container', (pod, old) => {
      named(old, 'web').imagePullPolicy = 'Never'
      named(pod, 'web').imagePullPolicy = 'Never'
      named(pod, 'web').image = GLOBEX
    }, [], false, true],
    ['an ephemeral container', (pod, old) => {
      old.spec.ephemeralContainers = [{ name: 'd', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent' }]
      pod.spec.ephemeralContainers = [{ name: 'd', image: GLOBEX, imagePullPolicy: 'IfNotPresent' }]
    }, [], false, true],
    ['swapped to an exempt image', setImage('web', 'registry.k8s.io/pause:3.10'), ['registry.k8s.io/pause'], true, true],
    ['swapped to an image below an exempt prefix', setImage('web', 'quay.io/infra/agent:2'), ['quay.io/infra/*'], true, true],
    ['swapped from an exempt image to another', (pod, old) => {
      named(old, 'web').image = 'registry.k8s.io/pause:3.10'
      named(pod, 'web').image = GLOBEX
    }, ['registry.k8s.io/pause'], false, true],
    ['the same image spelt another way counts as a change', (pod, old) => {
      named(old, 'web').image = 'nginx:1.27'
      named(pod, 'web').image = 'docker.io/library/nginx:1.27'
    }, [], false, true],
    ['a container added', pod => { pod.spec.containers.push({ name: 'extra', image: GLOBEX, imagePullPolicy: 'IfNotPresent' }) }, [], false, true],
    ['an Always container added', pod => { pod.spec.containers.push({ name: 'extra', image: GLOBEX, imagePullPolicy: 'Always' }) }, [], true, true],
    ['a container removed', pod => { pod.spec.containers.splice(0, 1) }, [], true, true],
    ['containers reordered', pod => { pod.spec.containers.reverse() }, [], true, true],
    ['an image volume unchanged', (pod, old) => { pod.spec.volumes = [volume('r.example/m:1')]; old.spec.volumes = [volume('r.example/m:1')] }, [], true, false],
    ['an image volume reference changed', (pod, old) => { pod.spec.volumes = [volume(GLOBEX)]; old.spec.volumes = [volume('r.example/m:1')] }, [], false, true],
    ['an Always image volume reference changed', (pod, old) => { pod.spec.volumes = [volume(GLOBEX, 'Always')]; old.spec.volumes = [volume('r.example/m:1', 'Always')] }, [], true, true],
    ['a volume that becomes an image volume', pod => { pod.spec.volumes = [...pod.spec.volumes ?? [], volume(GLOBEX)] }, [], false, true]
  ]
  for (const [name, edit, exempt, allowed, called] of cases) {
    const outcome = decideUpdateAndCheck(podUpdate(edit), exempt)
    t.same(outcome, { allowed, called }, name)
  }
})

const sometimes = <T>(value: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: value, weight: 1 })

t.test('Pod UPDATE: random image changes, both sides agree', async t => {
  const updates = fc.record({
    init: containers('init', 0, 2),
    main: containers('main', 1, 3),
    ephemeral: containers('debug', 0, 1),
    volumes: imageVolumes,
    // per slot: mostly keep the image, sometimes change it to another reference
    changes: fc.array(sometimes(reference), { minLength: 8, maxLength: 8 }),
    added: sometimes(containers('added', 1, 1)),
    dropFirst: fc.boolean()
  }).chain(u => fc.record({
    update: fc.constant(u),
    exempt: exemptionsFor([...u.init, ...u.main, ...u.ephemeral].map(c => c.image)
      .concat(u.volumes.map(v => v.image.reference), u.changes.filter((r): r is string => r !== undefined)))
  }))
  let denied = 0
  let allowedSent = 0
  let skipped = 0
  fc.assert(fc.property(updates, ({ update, exempt }) => {
    const review = podUpdate((pod, old) => {
      old.spec = { ...old.spec, initContainers: update.init, containers: update.main, ephemeralContainers: update.ephemeral, volumes: update.volumes }
      const next = clone(old.spec)
      const slots: Array<{ image: string } | { image: { reference: string } }> = [...next.initContainers ?? [], ...next.containers, ...next.ephemeralContainers ?? [], ...next.volumes ?? []]
      slots.forEach((slot, i) => {
        const image = update.changes[i]
        if (image === undefined) return
        if (typeof slot.image === 'string') (slot as Container).image = image
        else slot.image.reference = image
      })
      if (update.dropFirst && next.containers.length > 1) next.containers.splice(0, 1)
      if (update.added !== undefined) next.containers.push(...update.added)
      pod.spec = next
    })
    const { allowed, called } = decideUpdateAndCheck(review, exempt)
    if (!allowed) denied++
    else if (called) allowedSent++
    if (!called) skipped++
  }), { numRuns: 300 })
  t.ok(denied > 0 && allowedSent > 0 && skipped > 0,
    `300 random UPDATEs agree (${denied} denied, ${allowedSent} sent and allowed, ${skipped} not sent to the webhook)`)
})
