// decide() on Pod UPDATE (src/admission/pod-update.ts): an image may change only where it is pulled
// Always; nothing is ever patched. Whole reviews are golden cases (golden/update-*); the rules read
// best as tables over test/fixtures/pod-update.json, a Pod created before team-a joined a tenant.

import fc from 'fast-check'
import t from 'tap'
import { decide } from '../../src/admission/decide.js'
import { MAX_AUDIT_VALUE_BYTES } from '../../src/admission/audit-annotations.js'
import { DEFAULT_ADMISSION_OPTIONS, type AdmissionOptions } from '../../src/admission/options.js'
import type { AdmissionRequest, AdmissionReview } from '../../src/admission/types.js'
import { StaticClusterView } from '../../src/cluster/static-view.js'
import { fixture } from '../support/fixtures.js'
import { standardCluster } from '../support/cluster.js'

interface Container { name?: unknown, image?: unknown, imagePullPolicy?: unknown, [field: string]: unknown }
interface Spec { initContainers?: unknown, containers?: unknown, ephemeralContainers?: unknown, volumes?: unknown, [field: string]: unknown }
interface Pod { metadata: { annotations?: Record<string, string> }, spec: Spec }

const GLOBEX_IMAGE = 'ghcr.io/globex/billing:1.0'

/** The fixture's request with `edit(object, oldObject)` applied (both hold the same Pod at first). */
function podUpdate (edit: (pod: Pod, old: Pod) => void = () => {}): AdmissionRequest {
  const request = fixture<AdmissionReview>('pod-update.json').request as AdmissionRequest
  edit(request.object as Pod, request.oldObject as Pod)
  return request
}
const list = (pod: Pod, name: 'initContainers' | 'containers' | 'ephemeralContainers'): Container[] => pod.spec[name] as Container[]
const container = (pod: Pod, name: string): Container => {
  const found = [...list(pod, 'initContainers'), ...list(pod, 'containers'), ...(pod.spec.ephemeralContainers as Container[] | undefined ?? [])].find(c => c.name === name)
  if (found === undefined) throw new Error(`no container ${name}`)
  return found
}
/** Sets a container's image in the new Pod only. */
const swap = (name: string, image: unknown) => (pod: Pod): void => { container(pod, name).image = image }
const both = (edit: (pod: Pod) => void) => (pod: Pod, old: Pod): void => { edit(pod); edit(old) }

const view = new StaticClusterView(standardCluster(), DEFAULT_ADMISSION_OPTIONS)
const decideWith = (request: AdmissionRequest, options: AdmissionOptions = DEFAULT_ADMISSION_OPTIONS) => decide(request, view.snapshot(), options)
const exempting = (...names: string[]): AdmissionOptions => ({ ...DEFAULT_ADMISSION_OPTIONS, alwaysPullExempt: names })

t.test('allowed untouched: no patch, no warning, no audit note, nothing ensured', async t => {
  const rows: Array<[string, AdmissionRequest, AdmissionOptions?]> = [
    ['a label change (the fixture as it is)', podUpdate()],
    ['the same Pod sent back unchanged', podUpdate((pod, old) => { pod.spec = structuredClone(old.spec) })],
    ['the image of an Always container (redis)', podUpdate(swap('cache', 'redis:7.4'))],
    ['an Always container swapped to another tenant\'s image: the registry checks credentials on the pull', podUpdate(swap('cache', GLOBEX_IMAGE))],
    ['every container Always, all images changed', podUpdate(both(pod => {
      for (const c of [...list(pod, 'initContainers'), ...list(pod, 'containers')]) c.imagePullPolicy = 'Always'
    }))],
    ['an IfNotPresent container swapped to an exempt image', podUpdate(swap('web', 'registry.k8s.io/pause:3.10')), exempting('registry.k8s.io/pause')],
    ['an IfNotPresent container swapped to an image below an exempt /* prefix', podUpdate(swap('migrate', 'quay.io/infra/migrate:3')), exempting('quay.io/infra/*')],
    ['a container removed (the API server refuses it later; nothing new would run)', podUpdate(pod => { list(pod, 'containers').splice(0, 1) })],
    ['an image volume unchanged', podUpdate(both(pod => {
      pod.spec.volumes = [{ name: 'models', image: { reference: 'registry.acme.example/models:7', pullPolicy: 'IfNotPresent' } }]
    }))],
    ['an image volume pulled Always, reference changed', podUpdate((pod, old) => {
      old.spec.volumes = [{ name: 'models', image: { reference: 'registry.acme.example/models:7', pullPolicy: 'Always' } }]
      pod.spec.volumes = [{ name: 'models', image: { reference: GLOBEX_IMAGE, pullPolicy: 'Always' } }]
    })],
    // The pull policy the Pod will run with decides; the API server's validation, which runs after
    // mutating webhooks, then refuses the change of imagePullPolicy itself.
    ['Always claimed in the new object together with a new image', podUpdate(pod => {
      container(pod, 'web').imagePullPolicy = 'Always'
      container(pod, 'web').image = GLOBEX_IMAGE
    })],
    ['null lists are empty lists', podUpdate(both(pod => { pod.spec.initContainers = null; pod.spec.volumes = null }))]
  ]
  for (const [name, request, options] of rows) {
    const decision = decideWith(request, options)
    t.same(decision.response, { uid: request.uid, allowed: true }, name)
    t.equal(decision.ensureSecret, undefined, `${name}: nothing ensured`)
    t.equal(decision.summary.decision, 'allowed', `${name}: summary`)
  }
})

t.test('denied: an image changed where it is not pulled Always, with what to do', async t => {
  const rows: Array<[string, AdmissionRequest, string, AdmissionOptions?]> = [
    ['a container left IfNotPresent, swapped to another tenant\'s image', podUpdate(swap('web', GLOBEX_IMAGE)), `container "web" (imagePullPolicy IfNotPresent) to "${GLOBEX_IMAGE}"`],
    ['an init container', podUpdate(swap('migrate', 'registry.acme.example/web/migrate:2.2.0')), 'init container "migrate"'],
    ['a sidecar (restartable init container)', podUpdate(swap('log-shipper', 'mirror.platform.example/fluent-bit:3.2')), 'init container "log-shipper"'],
    ['an ephemeral container', podUpdate((pod, old) => {
      old.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent' }]
      pod.spec.ephemeralContainers = [{ name: 'debugger', image: GLOBEX_IMAGE, imagePullPolicy: 'IfNotPresent' }]
    }), 'ephemeral container "debugger"'],
    ['imagePullPolicy Never', podUpdate((pod, old) => {
      both(p => { container(p, 'web').imagePullPolicy = 'Never' })(pod, old)
      swap('web', GLOBEX_IMAGE)(pod)
    }), '(imagePullPolicy Never)'],
    ['no imagePullPolicy at all', podUpdate((pod, old) => {
      both(p => { delete container(p, 'web').imagePullPolicy })(pod, old)
      swap('web', GLOBEX_IMAGE)(pod)
    }), '(imagePullPolicy unset)'],
    ['an image removed', podUpdate(pod => { delete container(pod, 'web').image }), 'container "web" (imagePullPolicy IfNotPresent) to no image'],
    ['an exempt image swapped for one that is not', podUpdate((pod, old) => {
      container(old, 'web').image = 'registry.k8s.io/pause:3.10'
      container(pod, 'web').image = GLOBEX_IMAGE
    }), 'container "web"', exempting('registry.k8s.io/pause')],
    ['an exact exemption does not cover a longer name', podUpdate(swap('web', 'registry.k8s.io/pause2:1')), 'container "web"', exempting('registry.k8s.io/pause')],
    ['an invalid reference is never exempt', podUpdate(swap('web', 'Not A Reference')), '"Not A Reference"', exempting('registry.k8s.io/pause')],
    ['a container the stored Pod does not have', podUpdate(pod => {
      list(pod, 'containers').push({ name: 'extra', image: GLOBEX_IMAGE, imagePullPolicy: 'IfNotPresent' })
    }), 'container "extra"'],
    ['a container moved to another list', podUpdate(pod => {
      const [web] = list(pod, 'containers').splice(0, 1)
      list(pod, 'initContainers').push(web as Container)
    }), 'init container "web"'],
    ['an image volume reference changed', podUpdate((pod, old) => {
      old.spec.volumes = [{ name: 'models', image: { reference: 'registry.acme.example/models:7', pullPolicy: 'IfNotPresent' } }]
      pod.spec.volumes = [{ name: 'models', image: { reference: GLOBEX_IMAGE, pullPolicy: 'IfNotPresent' } }]
    }), `image volume "models" (pullPolicy IfNotPresent) to "${GLOBEX_IMAGE}"`],
    ['a volume that becomes an image volume', podUpdate(pod => {
      pod.spec.volumes = [...pod.spec.volumes as object[], { name: 'models', image: { reference: GLOBEX_IMAGE } }]
    }), 'image volume "models" (pullPolicy unset)'],
    ['the mirror annotation written by a tenant spares nothing', podUpdate(pod => {
      pod.metadata.annotations = { 'kubernetes.io/config.mirror': 'x' }
      container(pod, 'web').image = GLOBEX_IMAGE
    }), 'container "web"']
  ]
  for (const [name, request, mention, options] of rows) {
    const { response, summary, ensureSecret } = decideWith(request, options)
    t.equal(response.allowed, false, name)
    t.equal(response.status?.code, 403, `${name}: 403`)
    const message = response.status?.message ?? ''
    t.ok(message.includes(mention), `${name}: names ${mention}`, { message })
    t.match(message, /recreate the Pod .* so that pullguard sets imagePullPolicy Always$/, `${name}: says what to do`)
    t.equal(response.patch, undefined, `${name}: no patch`)
    t.equal(ensureSecret, undefined, `${name}: nothing ensured`)
    t.equal(summary.decision, 'denied', `${name}: summary`)
  }
})

t.test('which requests are judged as a Pod UPDATE at all', async t => {
  const swapped = (): AdmissionRequest => podUpdate(swap('web', GLOBEX_IMAGE))
  const rows: Array<[string, (request: AdmissionRequest) => void, boolean]> = [
    ['a tenant namespace', () => {}, false],
    ['a namespace the view cannot resolve (still a tenant: the API server only sends tenants\' Pods)', request => { request.namespace = 'created-a-moment-ago' }, false],
    ['dryRun: the same answer', request => { request.dryRun = true }, false],
    ['a namespace that is not a tenant', request => { request.namespace = 'default' }, true],
    ['the kubelet updating its mirror Pod', request => {
      (request.object as Pod).metadata.annotations = { 'kubernetes.io/config.mirror': 'abc' }
      request.userInfo = { username: 'system:node:worker-1', groups: ['system:nodes'] }
    }, true],
    ['pods/status UPDATE', request => { request.subResource = 'status' }, true],
    ['another resource', request => { request.resource = { group: 'apps', version: 'v1', resource: 'replicasets' } }, true],
    ['a new object without spec: nothing in it could run', request => { request.object = { metadata: {} } }, true]
  ]
  for (const [name, edit, allowed] of rows) {
    const request = swapped()
    edit(request)
    const { response } = decideWith(request)
    t.equal(response.allowed, allowed, name)
    if (allowed) t.same(response, { uid: request.uid, allowed: true }, `${name}: untouched`)
  }
})

t.test('a review nothing could send is a 400 naming the field, never a throw', async t => {
  const rows: Array<[string, AdmissionRequest, string]> = [
    ['no oldObject', podUpdate((_pod, old) => { Object.assign(old, { spec: undefined }) }), 'oldObject.spec is missing'],
    ['oldObject null', (() => { const r = podUpdate(); r.oldObject = null; return r })(), 'oldObject.spec is missing'],
    ['oldObject absent', (() => { const r = podUpdate(); delete r.oldObject; return r })(), 'oldObject.spec is missing'],
    ['oldObject.spec not an object', podUpdate((_pod, old) => { Object.assign(old, { spec: [] }) }), 'oldObject.spec is missing'],
    ['containers not a list', podUpdate(pod => { pod.spec.containers = { web: {} } }), 'object.spec.containers is not a list'],
    ['old initContainers not a list', podUpdate((_pod, old) => { old.spec.initContainers = 'x' }), 'oldObject.spec.initContainers is not a list'],
    ['a container that is not an object', podUpdate(pod => { list(pod, 'containers')[1] = 42 as never }), 'object.spec.containers[1] is not an object'],
    ['a container without name', podUpdate(pod => { delete list(pod, 'containers')[0]?.name }), 'object.spec.containers[0].name is not a non-empty string'],
    ['a name that is not a string', podUpdate((_pod, old) => { (list(old, 'containers')[0] as Container).name = { toString: 1 } }), 'oldObject.spec.containers[0].name'],
    ['an image that is not a string', podUpdate(swap('web', ['x'])), 'object.spec.containers[0].image is not a string'],
    ['a pull policy that is not a string', podUpdate(pod => { container(pod, 'web').imagePullPolicy = 1 }), 'imagePullPolicy is not a string'],
    ['two containers of one name', podUpdate(pod => { list(pod, 'containers').push({ name: 'web', image: 'x' }) }), 'object.spec.containers[2].name "web" is not unique'],
    ['volumes not a list', podUpdate(pod => { pod.spec.volumes = 7 }), 'object.spec.volumes is not a list'],
    ['a volume image that is not an object', podUpdate(pod => { pod.spec.volumes = [{ name: 'v', image: 'x' }] }), 'object.spec.volumes[0].image is not an object'],
    ['a volume reference that is not a string', podUpdate(pod => { pod.spec.volumes = [{ name: 'v', image: { reference: 5 } }] }), 'object.spec.volumes[0].image.reference is not a string']
  ]
  for (const [name, request, mention] of rows) {
    const { response, summary } = decideWith(request)
    t.equal(response.allowed, false, `${name}: denied (fails closed)`)
    t.equal(response.status?.code, 400, `${name}: 400`)
    t.ok(response.status?.message.startsWith('pullguard: cannot check this Pod UPDATE: '), `${name}: says what it could not do`)
    t.ok(response.status?.message.includes(mention), `${name}: names ${mention}`, { message: response.status?.message })
    t.equal(summary.reason, 'malformed pod update', `${name}: summary`)
  }

  // Anything at all in the image fields of either side: an answer every time.
  const anything = fc.anything({ maxDepth: 2 })
  fc.assert(fc.property(anything, anything, anything, anything, (containers, oldContainers, volumes, image) => {
    const request = podUpdate((pod, old) => {
      (list(old, 'initContainers')[0] as Container).image = image
      pod.spec.containers = containers
      old.spec.containers = oldContainers
      pod.spec.volumes = volumes
    })
    const { response } = decideWith(request)
    if (response.uid !== request.uid) throw new Error('uid not echoed')
    if (!response.allowed && (response.status?.message ?? '') === '') throw new Error('a denial without message')
  }), { numRuns: 500 })
  t.pass('500 random specs answered')
})

t.test('the denial and the audit note stay short whatever the Pod', async t => {
  const many = 10_000
  const longName = `${'x'.repeat(62)}😀tail`
  const request = podUpdate((pod, old) => {
    const containers = (image: (i: number) => string): Container[] => Array.from({ length: many }, (_, i) =>
      ({ name: i === 0 ? longName : `c-${i}`, image: image(i), imagePullPolicy: 'IfNotPresent' }))
    old.spec.containers = containers(i => `registry.acme.example/app-${i}:1`)
    pod.spec.containers = containers(i => i === 1 ? `registry.acme.example/${'y'.repeat(136)}😀/z:1` : `ghcr.io/globex/app-${i}:2`)
  })
  const { response } = decideWith(request)
  const message = response.status?.message ?? ''
  const note = response.auditAnnotations?.['image-change-denied'] ?? ''
  t.equal(response.status?.code, 403)
  t.ok(message.length < 1000, `the message is ${message.length} characters for ${many} changed containers`)
  t.match(message, new RegExp(`and ${many - 3} more;`), 'names three, counts the rest')
  t.ok(Buffer.byteLength(note) <= MAX_AUDIT_VALUE_BYTES, `the audit note is ${Buffer.byteLength(note)} bytes`)
  const left = Number(/,\+(\d+) more$/.exec(note)?.[1])
  t.equal(note.split(',').length - 1 + left, many, 'names what fits, counts the rest')
  // With the u flag a surrogate pair is one code point, so only a lone surrogate matches.
  t.notMatch(`${message}${note}`, /\p{Cs}/u, 'no lone surrogate where a name or image is cut')
  t.match(message, /container "x{62}😀…"/, 'a long name is cut (in code points) and marked')
})
