// The CEL of the three ValidatingAdmissionPolicies, evaluated with @marcbachmann/cel-js on admission
// requests shaped as the API server binds them. The policies are read from deploy/ (the chart's
// default rendering); manifests.test.ts shows deploy/ carries exactly the chart's policy files.

import t from 'tap'
import { DEFAULT_ADMISSION_OPTIONS, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/admission/options.js'
import { fixture } from '../support/fixtures.js'
import { deployManifests, only, type KubeObject } from './support/repo.js'
import {
  calledFunctions,
  celEnvironment,
  evaluatePolicy,
  expressionsOf,
  matchConditionHolds,
  webhookCelEnvironment,
  webhookMatches,
  type AdmissionAttributes,
  type WebhookSpec
} from './support/vap.js'

const manifests = deployManifests()
const policy = (name: string): KubeObject => only(manifests, 'ValidatingAdmissionPolicy', `pullguard-${name}`)
const binding = (name: string): KubeObject => only(manifests, 'ValidatingAdmissionPolicyBinding', `pullguard-${name}`)
const alwaysPull = { policy: policy('always-pull'), binding: binding('always-pull') }
const labelGuard = { policy: policy('tenant-label-guard'), binding: binding('tenant-label-guard') }
const secretGuard = { policy: policy('managed-secret-guard'), binding: binding('managed-secret-guard') }
const ALL = [alwaysPull, labelGuard, secretGuard]
const webhook = (only(manifests, 'MutatingWebhookConfiguration').webhooks as WebhookSpec[])[0] as WebhookSpec

const TENANT_LABEL = DEFAULT_ADMISSION_OPTIONS.tenantLabel
const PULLGUARD_USER = `system:serviceaccount:${DEFAULT_ADMISSION_OPTIONS.credentialsNamespace}:pullguard`

interface Review { request: AdmissionAttributes['request'] & { object: Pod, oldObject: Pod | null } }
interface Container { name: string, image?: string, imagePullPolicy?: string, [field: string]: unknown }
interface Pod {
  metadata: { namespace?: string, annotations?: Record<string, string>, labels?: Record<string, string> }
  spec: {
    initContainers?: Container[]
    containers?: Container[]
    ephemeralContainers?: Container[]
    volumes?: Array<{ name: string, image?: { reference?: string, pullPolicy?: string }, [field: string]: unknown }>
  }
}

const namespaceObject = (name: string, labels: Record<string, string> = {}): object =>
  ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } })
const tenantNamespace = (name = 'team-a', tenant = 'acme'): object => namespaceObject(name, { [TENANT_LABEL]: tenant })

const TENANT_USER = { username: 'alice@acme.example', groups: ['acme-devs', 'system:authenticated'] }
const ADMIN_USER = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] }

/** The Pod CREATE fixture (a defaulted ReplicaSet Pod in team-a), with the spec changed by `edit`. */
function podCreate (edit: (pod: Pod) => void = () => {}, options: { namespace?: object, userInfo?: AdmissionAttributes['request']['userInfo'] } = {}): AdmissionAttributes {
  const review = fixture<Review>('pod-create.json')
  edit(review.request.object)
  const { object, oldObject, ...request } = review.request
  if (options.userInfo !== undefined) request.userInfo = options.userInfo
  return { request, object, oldObject, namespaceObject: options.namespace ?? tenantNamespace() }
}

/** The `kubectl debug` fixture: pods/ephemeralcontainers UPDATE adding one debugger container. */
function debugUpdate (edit: (pod: Pod, old: Pod) => void = () => {}): AdmissionAttributes {
  const review = fixture<Review>('pod-ephemeralcontainers-update.json')
  edit(review.request.object, review.request.oldObject as Pod)
  const { object, oldObject, ...request } = review.request
  return { request, object, oldObject, namespaceObject: tenantNamespace() }
}

/** The Pod UPDATE fixture (`kubectl label` on a Pod created before team-a joined a tenant): `edit` gets the new Pod and the stored one. */
function podUpdate (edit: (pod: Pod, old: Pod) => void = () => {}): AdmissionAttributes {
  const review = fixture<Review>('pod-update.json')
  edit(review.request.object, review.request.oldObject as Pod)
  const { object, oldObject, ...request } = review.request
  return { request, object, oldObject, namespaceObject: tenantNamespace() }
}
const containerOf = (pod: Pod, name: string): Container => {
  const found = [...pod.spec.initContainers ?? [], ...pod.spec.containers ?? [], ...pod.spec.ephemeralContainers ?? []].find(c => c.name === name)
  if (found === undefined) throw new Error(`no container ${name}`)
  return found
}
/** Changes a container's image in the new Pod only. */
const setImage = (name: string, image: string) => (pod: Pod): void => { containerOf(pod, name).image = image }
const GLOBEX_IMAGE = 'ghcr.io/globex/billing:1.0'

const allAlways = (pod: Pod): void => {
  for (const list of [pod.spec.initContainers, pod.spec.containers, pod.spec.ephemeralContainers]) {
    for (const c of list ?? []) c.imagePullPolicy = 'Always'
  }
}
const withImages = (...containers: Container[]) => (pod: Pod): void => {
  pod.spec.initContainers = []
  pod.spec.containers = containers
}
const exempt = (...names: string[]): Record<string, string> => ({ alwaysPullExempt: JSON.stringify(names) })

t.test('every expression is CEL that both the API server and cel-js accept', async t => {
  // Kubernetes >= 1.30 (CEL environment of 1.29): standard functions and macros, the strings
  // extension (indexOf, lastIndexOf, substring, join) and regex matches. cel-js implements the same.
  const portable = new Set(['has', 'size', 'string', 'matches', 'contains', 'startsWith', 'endsWith', 'indexOf',
    'lastIndexOf', 'substring', 'join', 'exists', 'all', 'filter', 'map'])
  for (const { policy: p } of ALL) {
    for (const { where, expression, returns } of expressionsOf(p)) {
      const name = `${p.metadata.name} ${where}`
      const check = celEnvironment.check(expression)
      t.ok(check.valid, `${name} type-checks`, { error: check.valid ? undefined : check.error?.message })
      if (check.valid && returns !== 'any') t.ok([returns, 'dyn'].includes(String(check.type)), `${name} returns ${returns}`, { type: check.type })
      t.same(calledFunctions(expression).filter(f => !portable.has(f)), [], `${name} calls only portable functions`)
      t.notMatch(expression, /\.\?|\[\?|cel\.bind|optional\./, `${name} uses no optional types nor cel.bind`)
    }
  }
  t.ok((webhook.matchConditions ?? []).length > 0, 'the webhook has matchConditions')
  for (const { name, expression } of webhook.matchConditions ?? []) {
    // A webhook's matchConditions see object, oldObject and request only: no namespaceObject, no variables.
    const check = webhookCelEnvironment.check(expression)
    t.ok(check.valid, `webhook matchConditions.${name ?? '?'} type-checks without namespaceObject or variables`, { error: check.valid ? undefined : check.error?.message })
    if (check.valid) t.ok(['bool', 'dyn'].includes(String(check.type)), `webhook matchConditions.${name ?? '?'} returns bool`)
    t.same(calledFunctions(expression).filter(f => !portable.has(f)), [], `webhook matchConditions.${name ?? '?'} calls only portable functions`)
    t.notMatch(expression, /\.\?|\[\?|cel\.bind|optional\./, `webhook matchConditions.${name ?? '?'} uses no optional types nor cel.bind`)
  }
})

t.test('always-pull: what is allowed', async t => {
  const cases: Array<[string, AdmissionAttributes, Record<string, string>?]> = [
    ['every container already Always', podCreate(allAlways)],
    ['a sidecar (restartable init container) Always', podCreate(pod => {
      allAlways(pod)
      t.equal(pod.spec.initContainers?.[1]?.restartPolicy, 'Always', 'the fixture has a sidecar')
    })],
    ['an exempt image by exact normalised name', podCreate(withImages(
      { name: 'pause', image: 'registry.k8s.io/pause:3.10', imagePullPolicy: 'IfNotPresent' })), exempt('registry.k8s.io/pause')],
    ['an exempt image below a /* prefix', podCreate(withImages(
      { name: 'tool', image: 'quay.io/acme/tools/lint:1@sha256:' + 'c'.repeat(64), imagePullPolicy: 'Never' })), exempt('quay.io/acme/*')],
    ['Docker Hub short names are normalised before matching', podCreate(withImages(
      { name: 'a', image: 'nginx', imagePullPolicy: 'IfNotPresent' },
      { name: 'b', image: 'library/nginx:1.27', imagePullPolicy: 'IfNotPresent' },
      { name: 'c', image: 'docker.io/nginx@sha256:' + 'a'.repeat(64), imagePullPolicy: 'IfNotPresent' },
      { name: 'd', image: 'index.docker.io/library/nginx:1.27', imagePullPolicy: 'IfNotPresent' })), exempt('docker.io/library/nginx')],
    ['an image volume pulled Always', podCreate(pod => {
      allAlways(pod)
      pod.spec.volumes = [...pod.spec.volumes ?? [], { name: 'models', image: { reference: 'registry.acme.example/models:7', pullPolicy: 'Always' } }]
    })],
    ['kubectl debug adding an Always container next to an older IfNotPresent one', debugUpdate((pod, old) => {
      const existing = { name: 'old-debugger', image: 'busybox:1.35', imagePullPolicy: 'IfNotPresent' }
      old.spec.ephemeralContainers = [existing]
      pod.spec.ephemeralContainers = [existing, { name: 'debugger-2', image: 'busybox:1.36', imagePullPolicy: 'Always' }]
    })],
    ['a static pod mirror created by its node', podCreate(pod => {
      pod.metadata.annotations = { 'kubernetes.io/config.mirror': 'abc123' }
    }, { userInfo: { username: 'system:node:worker-1', groups: ['system:nodes', 'system:authenticated'] } })]
  ]
  for (const [name, attributes, overrides] of cases) {
    const result = evaluatePolicy(alwaysPull.policy, alwaysPull.binding, attributes, overrides)
    t.ok(result.allowed, name, { messages: result.messages })
  }
})

t.test('always-pull: what is denied, and the message says why', async t => {
  const cases: Array<[string, AdmissionAttributes, string[], Record<string, string>?]> = [
    ['the Pod CREATE fixture as the API server sends it (IfNotPresent everywhere)', podCreate(),
      ['container migrate (registry.acme.example/web/migrate:2.1.0)', 'container log-shipper (mirror.platform.example/fluent-bit:3.1)', 'container web (registry.acme.example/web/server:2.1.0)']],
    ['a sidecar init container left IfNotPresent', podCreate(pod => {
      allAlways(pod)
      const sidecar = pod.spec.initContainers?.[1] as Container
      sidecar.imagePullPolicy = 'IfNotPresent'
    }), ['container log-shipper']],
    ['Never', podCreate(withImages({ name: 'app', image: 'registry.acme.example/app:1', imagePullPolicy: 'Never' })), ['container app']],
    ['no imagePullPolicy at all', podCreate(withImages({ name: 'app', image: 'registry.acme.example/app:1' })), ['container app']],
    ['kubectl debug with an IfNotPresent debugger', debugUpdate(), ['container debugger-8kx2l (busybox:1.36)']],
    ['an image volume with pullPolicy IfNotPresent', podCreate(pod => {
      allAlways(pod)
      pod.spec.volumes = [{ name: 'models', image: { reference: 'registry.acme.example/models:7', pullPolicy: 'IfNotPresent' } }]
    }), ['image volume models (registry.acme.example/models:7)']],
    ['an image volume without pullPolicy', podCreate(pod => {
      allAlways(pod)
      pod.spec.volumes = [{ name: 'models', image: { reference: 'registry.acme.example/models:7' } }]
    }), ['image volume models']],
    ['an exact exemption does not cover a longer name', podCreate(withImages(
      { name: 'p', image: 'registry.k8s.io/pause2:1', imagePullPolicy: 'IfNotPresent' })), ['container p'], exempt('registry.k8s.io/pause')],
    ['a /* exemption covers what is below, not the prefix itself', podCreate(withImages(
      { name: 'p', image: 'quay.io/acme:1', imagePullPolicy: 'IfNotPresent' })), ['container p'], exempt('quay.io/acme/*')],
    ['a /* exemption does not cover a sibling with the same prefix', podCreate(withImages(
      { name: 'p', image: 'quay.io/acmecorp/app:1', imagePullPolicy: 'IfNotPresent' })), ['container p'], exempt('quay.io/acme/*')],
    ['an exemption of Docker Hub nginx does not cover a user namespace nginx', podCreate(withImages(
      { name: 'p', image: 'someone/nginx', imagePullPolicy: 'IfNotPresent' })), ['container p'], exempt('docker.io/library/nginx')],
    ['the mirror annotation forged by a tenant', podCreate(pod => {
      pod.metadata.annotations = { 'kubernetes.io/config.mirror': 'forged' }
    }, { userInfo: TENANT_USER }), ['container web']]
  ]
  for (const [name, attributes, mentions, overrides] of cases) {
    const result = evaluatePolicy(alwaysPull.policy, alwaysPull.binding, attributes, overrides)
    t.notOk(result.allowed, name)
    const message = result.messages[0] ?? ''
    t.match(message, /imagePullPolicy Always/, `${name}: says what is required`)
    for (const mention of mentions) t.ok(message.includes(mention), `${name}: names ${mention}`, { message })
    t.notMatch(message, /\n/, `${name}: one line (the API server rejects multi-line messages)`)
  }
})

t.test('always-pull matches every request the webhook is called for, and allows the rest', async t => {
  const namespaced = (ns: object) => podCreate(undefined, { namespace: ns })
  // [name, request, webhook called, policy matched]
  const cases: Array<[string, AdmissionAttributes, boolean, boolean]> = [
    ['Pod CREATE in a tenant namespace', podCreate(), true, true],
    ['kubectl debug in a tenant namespace', debugUpdate(), true, true],
    ['Pod UPDATE changing an image', podUpdate(setImage('web', GLOBEX_IMAGE)), true, true],
    // The policy checks every Pod UPDATE itself rather than trust the webhook's matchCondition.
    ['Pod UPDATE changing no image (a label)', podUpdate(), false, true],
    ['Pod CREATE in a namespace without the tenant label', namespaced(namespaceObject('default')), false, false],
    ['Pod CREATE in kube-system, even if labelled', namespaced(namespaceObject('kube-system', { [TENANT_LABEL]: 'acme' })), false, false],
    ['Pod CREATE in pullguard\'s own namespace, even if labelled', namespaced(namespaceObject('pullguard-system', { [TENANT_LABEL]: 'acme' })), false, false],
    ['Pod CREATE in a tenant namespace with an empty tenant value (Exists)', namespaced(namespaceObject('team-x', { [TENANT_LABEL]: '' })), true, true],
    ['Pod UPDATE changing an image in a namespace without the tenant label', { ...podUpdate(setImage('web', GLOBEX_IMAGE)), namespaceObject: namespaceObject('default') }, false, false],
    ['pods/binding CREATE (scheduling, not a Pod creation)', { ...podCreate(), request: { ...podCreate().request, subResource: 'binding' } }, false, false],
    ['pods/eviction CREATE', { ...podCreate(), request: { ...podCreate().request, subResource: 'eviction' } }, false, false],
    ['pods/status UPDATE', { ...debugUpdate(), request: { ...debugUpdate().request, subResource: 'status' } }, false, false],
    ['Pod DELETE', { ...podCreate(), request: { ...podCreate().request, operation: 'DELETE' } }, false, false]
  ]
  for (const [name, attributes, called, matched] of cases) {
    t.equal(webhookMatches(webhook, attributes), called, `webhook: ${name}`)
    const result = evaluatePolicy(alwaysPull.policy, alwaysPull.binding, attributes)
    t.equal(result.matched, matched, `policy: ${name}`)
    if (matched && !called) t.ok(result.allowed, `policy: ${name}: allowed, as pullguard would answer`, { messages: result.messages })
  }
})

t.test('webhook matchCondition: every CREATE and debug request, a Pod UPDATE only when an image changed', async t => {
  const conditions = webhook.matchConditions ?? []
  const holds = (attributes: AdmissionAttributes): boolean => conditions.every(c => matchConditionHolds(c, attributes))
  const volume = (reference: string): NonNullable<Pod['spec']['volumes']>[number] => ({ name: 'models', image: { reference, pullPolicy: 'IfNotPresent' } })
  const cases: Array<[string, AdmissionAttributes, boolean]> = [
    ['Pod CREATE (no oldObject)', podCreate(), true],
    ['Pod CREATE of a Pod pulling everything Always', podCreate(allAlways), true],
    ['kubectl debug', debugUpdate(), true],
    ['kubectl debug that changes no image (oldObject the same)', debugUpdate((pod, old) => { pod.spec.ephemeralContainers = old.spec.ephemeralContainers }), true],
    ['a label change', podUpdate(), false],
    ['the same Pod sent back', podUpdate((pod, old) => { pod.spec = structuredClone(old.spec) }), false],
    ['a change outside images (activeDeadlineSeconds, tolerations)', podUpdate(pod => { Object.assign(pod.spec, { activeDeadlineSeconds: 60, tolerations: [] }) }), false],
    ['an image volume unchanged', podUpdate((pod, old) => { pod.spec.volumes = [volume('r.example/m:1')]; old.spec.volumes = [volume('r.example/m:1')] }), false],
    ['a container image', podUpdate(setImage('web', GLOBEX_IMAGE)), true],
    ['an init container image', podUpdate(setImage('migrate', GLOBEX_IMAGE)), true],
    ['a sidecar image', podUpdate(setImage('log-shipper', GLOBEX_IMAGE)), true],
    ['an Always container image (pullguard decides it is allowed)', podUpdate(setImage('cache', 'redis:7.4')), true],
    ['an ephemeral container image', podUpdate((pod, old) => {
      old.spec.ephemeralContainers = [{ name: 'd', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent' }]
      pod.spec.ephemeralContainers = [{ name: 'd', image: GLOBEX_IMAGE, imagePullPolicy: 'IfNotPresent' }]
    }), true],
    ['an image removed', podUpdate(pod => { delete containerOf(pod, 'web').image }), true],
    ['a container added', podUpdate(pod => { pod.spec.containers?.push({ name: 'extra', image: GLOBEX_IMAGE }) }), true],
    ['a container renamed', podUpdate(pod => { containerOf(pod, 'web').name = 'web2' }), true],
    ['containers reordered (over-inclusive: pullguard compares by name)', podUpdate(pod => { pod.spec.containers?.reverse() }), true],
    ['an image volume reference', podUpdate((pod, old) => { pod.spec.volumes = [volume(GLOBEX_IMAGE)]; old.spec.volumes = [volume('r.example/m:1')] }), true],
    ['a volume that becomes an image volume', podUpdate(pod => { pod.spec.volumes = [...pod.spec.volumes ?? [], volume(GLOBEX_IMAGE)] }), true]
  ]
  for (const [name, attributes, expected] of cases) {
    t.equal(holds(attributes), expected, name)
    t.equal(webhookMatches(webhook, attributes), expected, `${name}: the webhook is ${expected ? '' : 'not '}called`)
  }
})

t.test('always-pull on Pod UPDATE: an image may change only where it is pulled Always', async t => {
  const allowed: Array<[string, AdmissionAttributes, Record<string, string>?]> = [
    ['a label change on a Pod pulling IfNotPresent', podUpdate()],
    ['the image of an Always container', podUpdate(setImage('cache', GLOBEX_IMAGE))],
    ['every container Always, every image changed', podUpdate((pod, old) => {
      allAlways(pod)
      allAlways(old)
      for (const c of [...pod.spec.initContainers ?? [], ...pod.spec.containers ?? []]) c.image = `${String(c.image)}-next`
    })],
    ['an IfNotPresent container swapped to an exempt image', podUpdate(setImage('web', 'registry.k8s.io/pause:3.10')), exempt('registry.k8s.io/pause')],
    ['an image volume pulled Always, reference changed', podUpdate((pod, old) => {
      old.spec.volumes = [{ name: 'models', image: { reference: 'registry.acme.example/models:7', pullPolicy: 'Always' } }]
      pod.spec.volumes = [{ name: 'models', image: { reference: GLOBEX_IMAGE, pullPolicy: 'Always' } }]
    })],
    ['a container removed', podUpdate(pod => { pod.spec.containers?.splice(0, 1) })]
  ]
  for (const [name, attributes, overrides] of allowed) {
    const result = evaluatePolicy(alwaysPull.policy, alwaysPull.binding, attributes, overrides)
    t.ok(result.matched && result.allowed, name, { messages: result.messages })
  }
  const denied: Array<[string, AdmissionAttributes, string, Record<string, string>?]> = [
    ['a container left IfNotPresent, swapped to another tenant\'s image', podUpdate(setImage('web', GLOBEX_IMAGE)), `container web (${GLOBEX_IMAGE})`],
    ['an init container', podUpdate(setImage('migrate', 'registry.acme.example/web/migrate:2.2.0')), 'container migrate'],
    ['a sidecar', podUpdate(setImage('log-shipper', 'mirror.platform.example/fluent-bit:3.2')), 'container log-shipper'],
    ['an ephemeral container', podUpdate((pod, old) => {
      old.spec.ephemeralContainers = [{ name: 'd', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent' }]
      pod.spec.ephemeralContainers = [{ name: 'd', image: GLOBEX_IMAGE, imagePullPolicy: 'IfNotPresent' }]
    }), `container d (${GLOBEX_IMAGE})`],
    ['no imagePullPolicy', podUpdate((pod, old) => {
      delete containerOf(pod, 'web').imagePullPolicy
      delete containerOf(old, 'web').imagePullPolicy
      containerOf(pod, 'web').image = GLOBEX_IMAGE
    }), 'container web'],
    ['an exempt image swapped for one that is not', podUpdate((pod, old) => {
      containerOf(old, 'web').image = 'registry.k8s.io/pause:3.10'
      containerOf(pod, 'web').image = GLOBEX_IMAGE
    }), 'container web', exempt('registry.k8s.io/pause')],
    ['a container the stored Pod lacks', podUpdate(pod => { pod.spec.containers?.push({ name: 'extra', image: GLOBEX_IMAGE, imagePullPolicy: 'IfNotPresent' }) }), 'container extra'],
    ['an image volume reference', podUpdate((pod, old) => {
      old.spec.volumes = [{ name: 'models', image: { reference: 'registry.acme.example/models:7', pullPolicy: 'IfNotPresent' } }]
      pod.spec.volumes = [{ name: 'models', image: { reference: GLOBEX_IMAGE, pullPolicy: 'IfNotPresent' } }]
    }), `image volume models (${GLOBEX_IMAGE})`]
  ]
  for (const [name, attributes, mention, overrides] of denied) {
    const result = evaluatePolicy(alwaysPull.policy, alwaysPull.binding, attributes, overrides)
    t.notOk(result.allowed, name)
    t.equal(result.messages.length, 1, `${name}: one message, the UPDATE one`)
    const message = result.messages[0] ?? ''
    t.match(message, /recreate the Pod .* so that pullguard sets imagePullPolicy Always/, `${name}: says what to do`)
    t.ok(message.includes(mention), `${name}: names ${mention}`, { message })
    t.notMatch(message, /\n/, `${name}: one line`)
  }
  const create = evaluatePolicy(alwaysPull.policy, alwaysPull.binding, podCreate())
  t.notMatch(create.messages.join(' '), /recreate the Pod/, 'a CREATE gets the CREATE message only')
})

t.test('always-pull normalises image references as the container runtime does', async t => {
  // Reference sample: distribution/reference ParseNormalizedNamed results. An exemption of a valid
  // reference's normalised name must admit it; an unrelated exemption must not.
  const { cases } = fixture<{ cases: Array<{ ref: string, name: string | null }> }>('image-references.json')
  for (const { ref, name } of cases) {
    if (name === null) continue
    const pod = podCreate(withImages({ name: 'c', image: ref, imagePullPolicy: 'IfNotPresent' }))
    const admitted = evaluatePolicy(alwaysPull.policy, alwaysPull.binding, pod, exempt(name))
    t.ok(admitted.allowed, `${ref} is exempted by ${name}`, { repositories: admitted.variables.repositories })
    const parent = name.slice(0, name.lastIndexOf('/'))
    if (parent.includes('/')) {
      t.ok(evaluatePolicy(alwaysPull.policy, alwaysPull.binding, pod, exempt(`${parent}/*`)).allowed, `${ref} is exempted by ${parent}/*`)
    }
    t.notOk(evaluatePolicy(alwaysPull.policy, alwaysPull.binding, pod, exempt('docker.io/library/unrelated')).allowed, `${ref} is not exempted by another name`)
  }
})

t.test('tenant label guard', async t => {
  const ns = (labels: Record<string, string> | undefined): object =>
    ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', ...(labels !== undefined && { labels: { 'kubernetes.io/metadata.name': 'team-a', ...labels } }) } })
  const request = (operation: string, userInfo: AdmissionAttributes['request']['userInfo'], subResource?: string): AdmissionAttributes['request'] => ({
    uid: 'u', operation, userInfo, name: 'team-a',
    kind: { group: '', version: 'v1', kind: 'Namespace' },
    resource: { group: '', version: 'v1', resource: 'namespaces' },
    ...(subResource !== undefined && { subResource })
  })
  const create = (labels: Record<string, string> | undefined, userInfo: AdmissionAttributes['request']['userInfo'] = TENANT_USER): AdmissionAttributes =>
    ({ request: request('CREATE', userInfo), object: ns(labels), oldObject: null, namespaceObject: null })
  type UserInfo = AdmissionAttributes['request']['userInfo']
  const update = (before: Record<string, string> | undefined, after: Record<string, string> | undefined, userInfo: UserInfo = TENANT_USER, subResource?: string): AdmissionAttributes =>
    ({ request: request('UPDATE', userInfo, subResource), object: ns(after), oldObject: ns(before), namespaceObject: null })
  const acme = { [TENANT_LABEL]: 'acme' }
  const globex = { [TENANT_LABEL]: 'globex' }
  const controller = { username: 'system:serviceaccount:kube-system:namespace-controller', groups: ['system:serviceaccounts', 'system:authenticated'] }
  const argo = { username: 'system:serviceaccount:argocd:argocd-application-controller', groups: ['system:serviceaccounts'] }

  const cases: Array<[string, AdmissionAttributes, boolean, RegExp?, Record<string, string>?]> = [
    ['a tenant creates a namespace with the label', create(acme), false, /may set the namespace label pullguard\.dev\/tenant/],
    ['an admin (system:masters) creates one with the label', create(acme, ADMIN_USER), true],
    ['a tenant creates a namespace without the label', create({ team: 'a' }), true],
    ['a tenant creates a namespace with no labels at all', create(undefined), true],
    ['a tenant adds the label', update({ team: 'a' }, { team: 'a', ...acme }), false, /may set/],
    ['a tenant adds the label with an empty value', update(undefined, { [TENANT_LABEL]: '' }), false, /may set/],
    ['a tenant points its namespace at another tenant', update(acme, globex), false, /may change/],
    ['a tenant removes the label', update(acme, { team: 'a' }), false, /may remove/],
    ['a tenant removes every label', update(acme, undefined), false, /may remove/],
    ['a tenant edits other labels, the tenant label unchanged', update({ ...acme, team: 'a' }, { ...acme, team: 'b' }), true],
    ['a tenant changes it through namespaces/status', update(acme, globex, TENANT_USER, 'status'), false, /may change/],
    ['a tenant removes it through namespaces/finalize', update(acme, {}, TENANT_USER, 'finalize'), false, /may remove/],
    ['the namespace controller finalizes, labels unchanged', update(acme, acme, controller, 'finalize'), true],
    ['an admin changes it', update(acme, globex, ADMIN_USER), true],
    ['pullguard\'s own service account changes it', update(acme, globex, { username: PULLGUARD_USER, groups: ['system:serviceaccounts'] }), true],
    ['a GitOps controller not configured as admin', update(undefined, acme, argo), false, /may set/],
    ['a GitOps controller configured in adminServiceAccounts', update(undefined, acme, argo), true, undefined,
      { adminUsers: JSON.stringify([`system:serviceaccount:argocd:argocd-application-controller`, PULLGUARD_USER]) }],
    ['a user configured in adminGroups', update(acme, globex, { username: 'bob', groups: ['platform-admins'] }), true, undefined,
      { adminGroups: JSON.stringify(['system:masters', 'platform-admins']) }],
    ['a request without groups', update(acme, globex, { username: 'bob' }), false, /may change/]
  ]
  for (const [name, attributes, allowed, message, overrides] of cases) {
    const result = evaluatePolicy(labelGuard.policy, labelGuard.binding, attributes, overrides)
    t.ok(result.matched, `${name}: matched`)
    t.equal(result.allowed, allowed, name, { messages: result.messages })
    if (message !== undefined) t.match(result.messages[0], message, `${name}: message`)
  }
  t.notOk(evaluatePolicy(labelGuard.policy, labelGuard.binding, { ...update(acme, globex), request: { ...update(acme, globex).request, operation: 'DELETE' } }).matched,
    'DELETE is not matched (the namespace goes away with its label)')
})

t.test('managed-secret guard', async t => {
  const secret = (name: string, type: string, labels: Record<string, string>, namespace = 'team-a'): object =>
    ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, labels }, type, data: { '.dockerconfigjson': 'e30=' } })
  const managedLabels = { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [TENANT_LABEL]: 'acme' }
  const managedName = DEFAULT_ADMISSION_OPTIONS.managedSecretName
  const write = (object: object, username = PULLGUARD_USER, namespace = tenantNamespace(), operation = 'CREATE'): AdmissionAttributes => ({
    request: {
      uid: 'u', operation, namespace: (object as { metadata: { namespace: string } }).metadata.namespace, userInfo: { username, groups: ['system:serviceaccounts'] },
      kind: { group: '', version: 'v1', kind: 'Secret' }, resource: { group: '', version: 'v1', resource: 'secrets' }
    },
    object,
    oldObject: operation === 'UPDATE' ? object : null,
    namespaceObject: namespace
  })
  const dockerconfig = 'kubernetes.io/dockerconfigjson'
  const CREDENTIALS_NAMESPACE = DEFAULT_ADMISSION_OPTIONS.credentialsNamespace
  const credentialsNamespace = namespaceObject(CREDENTIALS_NAMESPACE)
  const derivedLabels = { [TENANT_LABEL]: 'acme', 'pullguard.dev/derived-from-token-source': 'true' }
  const cases: Array<[string, AdmissionAttributes, boolean, RegExp?]> = [
    ['pullguard creates its managed Secret', write(secret(managedName, dockerconfig, managedLabels)), true],
    ['pullguard updates its managed Secret', write(secret(managedName, dockerconfig, managedLabels), PULLGUARD_USER, tenantNamespace(), 'UPDATE'), true],
    ['pullguard creates a Secret under another name', write(secret('other', dockerconfig, managedLabels)), false, /named pullguard-registry-credentials/],
    ['pullguard creates a service-account token Secret under the managed name', write(secret(managedName, 'kubernetes.io/service-account-token', managedLabels)), false, /dockerconfigjson/],
    ['pullguard creates it without the managed-by label', write(secret(managedName, dockerconfig, { [TENANT_LABEL]: 'acme' })), false, /managed-by=pullguard/],
    ['pullguard creates it in a namespace that is not a tenant', write(secret(managedName, dockerconfig, managedLabels), PULLGUARD_USER, namespaceObject('kube-system')), false, /namespaces labelled pullguard\.dev\/tenant/],
    ['anyone else writes any Secret', write(secret('tls', 'kubernetes.io/tls', {}), 'alice@acme.example'), true],
    ['pullguard writes a token source\'s derived Secret in the credentials namespace',
      write(secret('acme-ecr-token', dockerconfig, derivedLabels, CREDENTIALS_NAMESPACE), PULLGUARD_USER, credentialsNamespace), true],
    ['pullguard updates a derived Secret', write(secret('acme-ecr-token', dockerconfig, derivedLabels, CREDENTIALS_NAMESPACE), PULLGUARD_USER, credentialsNamespace, 'UPDATE'), true],
    ['pullguard writes a derived-labelled Secret in a tenant namespace', write(secret('acme-ecr-token', dockerconfig, derivedLabels)), false, /named pullguard-registry-credentials/],
    ['pullguard writes a derived-labelled token Secret of another type',
      write(secret('acme-ecr-token', 'kubernetes.io/service-account-token', derivedLabels, CREDENTIALS_NAMESPACE), PULLGUARD_USER, credentialsNamespace), false, /dockerconfigjson/],
    ['pullguard writes an unlabelled Secret in the credentials namespace',
      write(secret('helm-release', dockerconfig, {}, CREDENTIALS_NAMESPACE), PULLGUARD_USER, credentialsNamespace), false, /named pullguard-registry-credentials/]
  ]
  for (const [name, attributes, allowed, message] of cases) {
    const result = evaluatePolicy(secretGuard.policy, secretGuard.binding, attributes)
    t.ok(result.matched, `${name}: matched`)
    t.equal(result.allowed, allowed, name, { messages: result.messages })
    if (message !== undefined) t.match(result.messages.join(' | '), message, `${name}: message`)
  }
})
