// The cluster model as tables: events in, what it answers and which namespaces it says to reconcile.
// The live view feeds it the same events from its informers; these tables are its behaviour.

import t from 'tap'
import type { SecretObject } from '../../src/admission/credentials.js'
import { DEFAULT_ADMISSION_OPTIONS as options, MANAGED_BY_LABEL } from '../../src/admission/options.js'
import { ClusterModel, LOOKED_UP_NAMESPACES_LIMIT, type NamespaceObject } from '../../src/cluster/cluster-model.js'
import { managedSecretObject, storedSecret } from '../../src/cluster/managed-secret.js'
import { auth, credentialSecret, namespace } from '../support/cluster.js'

type Event =
  | { namespace: NamespaceObject }
  | { namespaceDeleted: string }
  | { lookedUp: string, tenant: string | null }
  | { secret: object }
  | { secretDeleted: string }
  | { managed: string, stored: 'ours' | 'foreign' | undefined }
  | 'commit'

/** Applies events in order; returns what each event said to reconcile (commits: their namespaces). */
function apply (model: ClusterModel, events: readonly Event[]): string[][] {
  return events.map(event => {
    if (event === 'commit') return model.commitCredentials()?.namespaces ?? []
    if ('namespace' in event) return model.namespaceChanged(event.namespace)
    if ('namespaceDeleted' in event) { model.namespaceDeleted(event.namespaceDeleted); return [] }
    if ('lookedUp' in event) { model.namespaceLookedUp(event.lookedUp, event.tenant); return [] }
    if ('secret' in event) { model.credentialSecretChanged(event.secret as SecretObject); return [] }
    if ('secretDeleted' in event) { model.credentialSecretDeleted(event.secretDeleted); return [] }
    model.managedSecretChanged(event.managed, event.stored === undefined ? undefined : managedCopy(event.managed, event.stored))
    return []
  })
}

function managedCopy (ns: string, kind: 'ours' | 'foreign'): ReturnType<typeof storedSecret> {
  const ours = managedSecretObject({ namespace: ns, name: options.managedSecretName, tenant: 'acme', dockerConfigJson: '{}', contentHash: 'h' }, options.tenantLabel)
  if (kind === 'ours') return storedSecret(ours)
  return storedSecret({ ...ours, metadata: { name: options.managedSecretName, namespace: ns } })
}

const terminating = (name: string, tenant: string): NamespaceObject => ({ ...namespace(name, tenant) as NamespaceObject, status: { phase: 'Terminating' } })
const acmeSource = (password = 'pw') => credentialSecret({ name: 'acme-registry', tenant: 'acme', auths: { 'registry.acme.example': auth('acme', password) } })
const globexSource = credentialSecret({ name: 'globex-ghcr', tenant: 'globex', auths: { 'ghcr.io/globex': auth('globex', 'pw') } })
const sharedSource = (password = 'pw') => credentialSecret({ name: 'mirror', tenant: null, auths: { 'mirror.example': auth('m', password) } })

t.test('tenantOf: the label decides; the informer wins over a lookup; unknown stays undefined', async t => {
  const cases: Array<{ name: string, events: Event[], ask: string, want: string | null | undefined }> = [
    { name: 'labelled', events: [{ namespace: namespace('team-a', 'acme') as NamespaceObject }], ask: 'team-a', want: 'acme' },
    { name: 'no label', events: [{ namespace: namespace('default') as NamespaceObject }], ask: 'default', want: null },
    { name: 'empty label value', events: [{ namespace: { metadata: { name: 'x', labels: { [options.tenantLabel]: '' } } } }], ask: 'x', want: null },
    { name: 'never seen', events: [], ask: 'nowhere', want: undefined },
    { name: 'looked up before the informer delivered it', events: [{ lookedUp: 'fresh', tenant: 'acme' }], ask: 'fresh', want: 'acme' },
    { name: 'looked up and found missing', events: [{ lookedUp: 'gone', tenant: null }], ask: 'gone', want: null },
    {
      name: 'a lookup never overrides the informer',
      events: [{ namespace: namespace('team-a', 'acme') as NamespaceObject }, { lookedUp: 'team-a', tenant: 'globex' }],
      ask: 'team-a',
      want: 'acme'
    },
    {
      name: 'the informer replaces a lookup',
      events: [{ lookedUp: 'team-a', tenant: 'globex' }, { namespace: namespace('team-a', 'acme') as NamespaceObject }],
      ask: 'team-a',
      want: 'acme'
    },
    { name: 'deleted', events: [{ namespace: namespace('team-a', 'acme') as NamespaceObject }, { namespaceDeleted: 'team-a' }], ask: 'team-a', want: undefined },
    {
      name: 'custom tenant label',
      events: [{ namespace: namespace('team-a', 'acme') as NamespaceObject }],
      ask: 'team-a',
      want: null // the default label is not the model's label in this case
    }
  ]
  for (const c of cases) {
    const model = new ClusterModel(c.name === 'custom tenant label' ? { ...options, tenantLabel: 'example.com/tenant' } : options)
    apply(model, c.events)
    t.equal(model.tenantOf(c.ask), c.want, c.name)
  }
})

t.test('which namespaces each event says to reconcile', async t => {
  const cases: Array<{ name: string, before: Event[], event: Event, want: string[] }> = [
    { name: 'a new tenant namespace', before: [], event: { namespace: namespace('team-a', 'acme') as NamespaceObject }, want: ['team-a'] },
    { name: 'a new plain namespace: nothing to do', before: [], event: { namespace: namespace('default') as NamespaceObject }, want: [] },
    {
      name: 'a new plain namespace already holding our copy: remove it',
      before: [{ managed: 'old', stored: 'ours' }],
      event: { namespace: namespace('old') as NamespaceObject },
      want: ['old']
    },
    {
      name: 'an update that keeps the tenant',
      before: [{ namespace: namespace('team-a', 'acme') as NamespaceObject }],
      event: { namespace: { metadata: { name: 'team-a', labels: { [options.tenantLabel]: 'acme', other: 'x' } } } },
      want: []
    },
    {
      name: 'relabelled to another tenant',
      before: [{ namespace: namespace('team-a', 'acme') as NamespaceObject }],
      event: { namespace: namespace('team-a', 'globex') as NamespaceObject },
      want: ['team-a']
    },
    {
      name: 'label removed',
      before: [{ namespace: namespace('team-a', 'acme') as NamespaceObject }],
      event: { namespace: namespace('team-a') as NamespaceObject },
      want: ['team-a']
    },
    {
      name: 'label added to an existing namespace',
      before: [{ namespace: namespace('default') as NamespaceObject }],
      event: { namespace: namespace('default', 'acme') as NamespaceObject },
      want: ['default']
    },
    { name: 'a namespace without a name', before: [], event: { namespace: { metadata: {} } }, want: [] },
    { name: 'no credential events: a commit is a no-op', before: [{ namespace: namespace('team-a', 'acme') as NamespaceObject }], event: 'commit', want: [] }
  ]
  for (const c of cases) {
    const model = new ClusterModel(options)
    apply(model, c.before)
    const [said] = apply(model, [c.event])
    t.same(said, c.want, c.name)
  }
})

t.test('credential commits: only namespaces whose merged content changed', async t => {
  const cluster: Event[] = [
    { namespace: namespace('team-a', 'acme') as NamespaceObject },
    { namespace: namespace('team-a2', 'acme') as NamespaceObject },
    { namespace: namespace('team-b', 'globex') as NamespaceObject },
    { namespace: namespace('sandbox', 'initech') as NamespaceObject },
    { namespace: namespace('default') as NamespaceObject },
    { secret: acmeSource() },
    { secret: globexSource },
    'commit'
  ]
  const cases: Array<{ name: string, events: Event[], want: string[] }> = [
    { name: 'acme rotated: acme\'s namespaces', events: [{ secret: acmeSource('pw2') }, 'commit'], want: ['team-a', 'team-a2'] },
    { name: 'the same content again: nothing', events: [{ secret: acmeSource() }, 'commit'], want: [] },
    { name: 'a shared source: every tenant namespace, initech (no own source) included', events: [{ secret: sharedSource() }, 'commit'], want: ['team-a', 'team-a2', 'team-b', 'sandbox'] },
    { name: 'acme\'s source deleted', events: [{ secretDeleted: 'acme-registry' }, 'commit'], want: ['team-a', 'team-a2'] },
    { name: 'deleting a Secret the model never held', events: [{ secretDeleted: 'nothing' }, 'commit'], want: [] },
    {
      name: 'a Secret outside the credentials namespace is never a source',
      events: [{ secret: credentialSecret({ name: 'planted', tenant: 'acme', namespace: 'team-b', auths: { 'evil.example': auth('x', 'y') } }) }, 'commit'],
      want: []
    },
    {
      name: 'a looked-up tenant namespace is rewritten too',
      events: [{ lookedUp: 'team-a3', tenant: 'acme' }, { secret: acmeSource('pw3') }, 'commit'],
      want: ['team-a', 'team-a2', 'team-a3']
    },
    {
      name: 'many events, one commit',
      events: [{ secret: acmeSource('x') }, { secret: acmeSource('y') }, { secret: globexSource }, 'commit'],
      want: ['team-a', 'team-a2']
    }
  ]
  for (const c of cases) {
    const model = new ClusterModel(options)
    apply(model, cluster)
    const said = apply(model, c.events)
    t.same(said.at(-1)?.sort(), [...c.want].sort(), c.name)
  }
})

t.test('credential issues are reported when they change, not on every commit', async t => {
  const model = new ClusterModel(options)
  const opaque = credentialSecret({ name: 'opaque', tenant: 'acme', type: 'Opaque', auths: {} })
  model.credentialSecretChanged(acmeSource() as SecretObject)
  t.equal(model.commitCredentials()?.issues, undefined, 'none, as at the start')
  model.credentialSecretChanged(opaque as SecretObject)
  t.match(model.commitCredentials()?.issues, { problems: [{ secret: 'opaque', tenant: 'acme', reason: 'WrongSecretType', message: /type is Opaque/ }], conflicts: [] })
  model.credentialSecretChanged(acmeSource('other') as SecretObject)
  t.equal(model.commitCredentials()?.issues, undefined, 'the same problem: not again')
  model.credentialSecretDeleted('opaque')
  t.same(model.commitCredentials()?.issues, { problems: [], conflicts: [] }, 'resolved: said once')
})

t.test('desired: what each namespace\'s managed Secret should hold', async t => {
  const model = new ClusterModel(options)
  apply(model, [
    { namespace: namespace('team-a', 'acme') as NamespaceObject },
    { namespace: namespace('sandbox', 'initech') as NamespaceObject },
    { namespace: namespace('default') as NamespaceObject },
    { namespace: terminating('leaving', 'acme') },
    { secret: acmeSource() },
    'commit'
  ])
  const acme = model.credentialsOf('acme')
  t.ok(acme)
  t.same(model.desired('team-a'), { namespace: 'team-a', name: options.managedSecretName, tenant: 'acme', dockerConfigJson: acme?.dockerConfigJson, contentHash: acme?.contentHash })
  t.equal(model.desired('sandbox'), null, 'a tenant without credentials: no Secret')
  t.equal(model.desired('default'), null, 'not a tenant: no Secret')
  t.equal(model.desired('leaving'), undefined, 'terminating: left alone')
  t.equal(model.desired('nowhere'), undefined, 'unknown: left alone, never deleted on a guess')

  apply(model, [{ secret: sharedSource() }, 'commit'])
  t.equal(model.desired('sandbox')?.tenant, 'initech', 'shared credentials reach a tenant with none of its own')
})

t.test('a resync covers tenant namespaces and every namespace holding a copy; counts', async t => {
  const model = new ClusterModel(options)
  apply(model, [
    { namespace: namespace('team-a', 'acme') as NamespaceObject },
    { namespace: namespace('default') as NamespaceObject },
    { namespace: namespace('squatted') as NamespaceObject },
    { lookedUp: 'fresh', tenant: 'acme' },
    { managed: 'team-a', stored: 'ours' },
    { managed: 'default', stored: 'ours' },
    { managed: 'squatted', stored: 'foreign' }
  ])
  t.same(model.namespacesToResync().sort(), ['default', 'fresh', 'squatted', 'team-a'])
  t.same(model.counts(), { namespaces: 3, tenantNamespaces: 1, managedSecrets: 2 })
  t.equal(model.managedSecret('squatted')?.metadata?.labels?.[MANAGED_BY_LABEL], undefined)

  apply(model, [{ managed: 'default', stored: undefined }, { namespaceDeleted: 'squatted' }])
  t.same(model.namespacesToResync().sort(), ['fresh', 'team-a'], 'a deleted copy and a deleted namespace drop out')
})

t.test('reading the model never changes it: pending credential events wait for the commit', async t => {
  const model = new ClusterModel(options)
  apply(model, [{ namespace: namespace('team-a', 'acme') as NamespaceObject }, { secret: acmeSource() }])
  t.equal(model.credentialsOf('acme'), undefined, 'not committed yet')
  t.equal(model.desired('team-a'), null)
  t.equal(model.credentialsOf('acme'), undefined, 'still not: reads do not commit')
  apply(model, ['commit'])
  t.ok(model.credentialsOf('acme'))
})

t.test('looked-up namespaces are bounded', async t => {
  const model = new ClusterModel(options)
  for (let i = 0; i <= LOOKED_UP_NAMESPACES_LIMIT; i++) model.namespaceLookedUp(`ns-${i}`, 'acme')
  t.equal(model.tenantOf('ns-0'), undefined, 'the oldest lookup dropped')
  t.equal(model.tenantOf(`ns-${LOOKED_UP_NAMESPACES_LIMIT}`), 'acme')
  t.equal(model.namespacesToResync().length, LOOKED_UP_NAMESPACES_LIMIT)
})

t.test('a broken source keeps serving its last good version; deletion and relabelling still remove it', async t => {
  const good = acmeSource('pw-good')
  const broken = (edit: (s: SecretObject) => void): object => {
    const secret = structuredClone(good) as SecretObject
    edit(secret)
    return secret
  }
  const text = (value: string): Record<string, string> => ({ '.dockerconfigjson': Buffer.from(value).toString('base64') })
  const cases: Array<{ name: string, events: Event[], acme: 'good' | 'none', problem?: RegExp }> = [
    { name: 'bad JSON', events: [{ secret: broken(s => { s.data = text('{"auths": {') }) }], acme: 'good', problem: /^InvalidJSON: .dockerconfigjson is not valid JSON; its last good version stays in use/ },
    { name: 'valid JSON, no entries', events: [{ secret: broken(s => { s.data = text('{"auths":{}}') }) }], acme: 'good', problem: /^NoUsableCredential: .dockerconfigjson has no registry entries; its last good/ },
    { name: 'valid JSON, no auths', events: [{ secret: broken(s => { s.data = text('{"registry.acme.example":{}}') }) }], acme: 'good', problem: /^NoUsableCredential: .dockerconfigjson has no auths; its last good/ },
    { name: 'wrong type', events: [{ secret: broken(s => { s.type = 'Opaque' }) }], acme: 'good', problem: /^WrongSecretType: type is Opaque.*last good/ },
    { name: 'data key missing', events: [{ secret: broken(s => { s.data = {} }) }], acme: 'good', problem: /^MissingDockerConfig: has no .dockerconfigjson key; its last good/ },
    { name: 'deleted: removed, as intended', events: [{ secretDeleted: 'acme-registry' }], acme: 'none' },
    { name: 'label removed: removed, as intended', events: [{ secret: broken(s => { s.metadata!.labels = {} }) }], acme: 'none' },
    {
      name: 'relabelled to another tenant and broken: not acme\'s any more, and globex gets nothing from it',
      events: [{ secret: broken(s => { s.metadata!.labels = { [options.tenantLabel]: 'globex' }; s.data = text('x') }) }],
      acme: 'none',
      problem: /^InvalidJSON: .dockerconfigjson is not valid JSON; the Secret gives no credentials until it is fixed$/
    },
    {
      name: 'broken, then deleted: gone',
      events: [{ secret: broken(s => { s.data = text('x') }) }, 'commit', { secretDeleted: 'acme-registry' }],
      acme: 'none'
    },
    {
      name: 'broken, then fixed with new content: the new content',
      events: [{ secret: broken(s => { s.data = text('x') }) }, 'commit', { secret: acmeSource('pw-new') }],
      acme: 'good'
    }
  ]
  for (const c of cases) {
    const model = new ClusterModel(options)
    apply(model, [{ namespace: namespace('team-a', 'acme') as NamespaceObject }, { secret: good }, 'commit'])
    const served = model.credentialsOf('acme')?.dockerConfigJson
    apply(model, [...c.events, 'commit'])
    const now = model.credentialsOf('acme')?.dockerConfigJson
    if (c.acme === 'none') t.equal(now, undefined, `${c.name}: acme has no credentials`)
    else if (c.name.includes('fixed')) t.match(now, /registry\.acme\.example/, c.name)
    else t.equal(now, served, `${c.name}: the last good version is served`)
    if (c.name.includes('fixed')) t.not(now, served, 'the fixed version, not the last good one')
    t.equal(model.credentialsOf('globex'), undefined, `${c.name}: nothing reaches globex`)
    const problems = model.credentialState.problems.map(p => `${p.reason}: ${p.message}`)
    if (c.problem === undefined) t.same(problems, [], `${c.name}: no problem left`)
    else t.match(problems, [c.problem], `${c.name}: said loudly`)
  }
})
