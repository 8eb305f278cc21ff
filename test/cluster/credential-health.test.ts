// The cluster model's credential health as tables: which problems exist, which tenants end up with
// no usable credentials because of them, what the gauge counts, and which Events that calls for.

import t from 'tap'
import { readFileSync } from 'node:fs'
import { CREDENTIAL_PROBLEM_REASONS } from '../../src/admission/credential-problems.js'
import type { SecretObject } from '../../src/admission/credentials.js'
import { DEFAULT_ADMISSION_OPTIONS as options } from '../../src/admission/options.js'
import { ClusterModel, type NamespaceObject } from '../../src/cluster/cluster-model.js'
import { problemCounts, SHARED_TENANT } from '../../src/cluster/credential-health.js'
import { credentialEvents, EventSeriesBook, type CredentialEvent } from '../../src/cluster/credential-events.js'
import { auth, credentialSecret, namespace } from '../support/cluster.js'

const NS = options.credentialsNamespace
const good = (name: string, tenant: string | null, key = `${name}.example`): object => credentialSecret({ name, tenant, auths: { [key]: auth('u', 'pw') } })
const desktop = (name: string, tenant: string | null): object => ({
  ...credentialSecret({ name, tenant, auths: {} }),
  data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: { 'registry.acme.example': {} }, credsStore: 'desktop' })).toString('base64') }
})
/** a pullguard.dev/token-source Secret with these string settings */
const tokenSource = (name: string, tenant: string, settings: Record<string, string>): object => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: NS, labels: { [options.tenantLabel]: tenant } },
  type: 'pullguard.dev/token-source',
  stringData: settings
})
const withUid = (secret: object, uid: string): object => {
  const copy = structuredClone(secret) as SecretObject
  copy.metadata = { ...copy.metadata, uid }
  return copy
}
const terminating = (name: string, tenant: string): NamespaceObject => ({ ...namespace(name, tenant) as NamespaceObject, status: { phase: 'Terminating' } })

function modelOf (namespaces: NamespaceObject[], secrets: object[][]): ClusterModel {
  const model = new ClusterModel(options)
  for (const ns of namespaces) model.namespaceChanged(ns)
  // each inner list is one commit: a later one can break what an earlier one served
  for (const batch of secrets) {
    for (const secret of batch) model.credentialSecretChanged(secret as SecretObject)
    model.commitCredentials()
  }
  return model
}

const tenantNamespaces = [
  namespace('team-a', 'acme') as NamespaceObject,
  namespace('team-a2', 'acme') as NamespaceObject,
  namespace('sandbox', 'initech') as NamespaceObject,
  terminating('leaving', 'acme'),
  namespace('default') as NamespaceObject
]

t.test('which tenants end up without credentials, and why', async t => {
  const cases: Array<{ name: string, secrets: object[][], problems: string[], without: Array<[string, string[], string[]]> }> = [
    {
      name: 'acme\'s only source is a Docker Desktop config: its namespaces (not the terminating one) are told',
      secrets: [[desktop('acme-desktop', 'acme')]],
      problems: ['acme-desktop acme NoUsableCredential', 'acme-desktop acme CredentialHelperOnly registry.acme.example'],
      without: [['acme', ['team-a', 'team-a2'], ['acme-desktop']]]
    },
    {
      name: 'broken after a good version: the last good one is served, so acme still has credentials',
      secrets: [[good('acme-registry', 'acme')], [desktop('acme-registry', 'acme')]],
      problems: ['acme-registry acme NoUsableCredential', 'acme-registry acme CredentialHelperOnly registry.acme.example'],
      without: []
    },
    { name: 'initech has no sources at all: an admin\'s choice, no problem', secrets: [[good('acme-registry', 'acme')]], problems: [], without: [] },
    {
      name: 'the only shared source is broken: every tenant without its own is told',
      secrets: [[good('acme-registry', 'acme'), desktop('platform-mirror', null)]],
      problems: ['platform-mirror (shared) NoUsableCredential', 'platform-mirror (shared) CredentialHelperOnly registry.acme.example'],
      without: [['initech', ['sandbox'], ['platform-mirror']]]
    },
    {
      name: 'acme broken, a good shared source: acme gets the shared credentials',
      secrets: [[desktop('acme-desktop', 'acme'), good('platform-mirror', null)]],
      problems: ['acme-desktop acme NoUsableCredential', 'acme-desktop acme CredentialHelperOnly registry.acme.example'],
      without: []
    },
    {
      name: 'two own sources with the same key: a conflict, credentials all the same',
      secrets: [[good('acme-a', 'acme', 'registry.acme.example'), good('acme-b', 'acme', 'registry.acme.example')]],
      problems: ['acme-b acme RegistryKeyConflict registry.acme.example'],
      without: []
    },
    {
      name: 'two shared sources with the same key: one conflict, not one per tenant',
      secrets: [[good('acme-registry', 'acme'), good('mirror-a', null, 'mirror.example'), good('mirror-b', null, 'mirror.example')]],
      problems: ['mirror-b (shared) RegistryKeyConflict mirror.example'],
      without: []
    },
    {
      name: 'a tenant\'s own key over a shared one is the documented precedence: no problem',
      secrets: [[good('acme-registry', 'acme', 'mirror.example'), good('platform-mirror', null, 'mirror.example')]],
      problems: [],
      without: []
    },
    {
      name: 'a token source with usable settings is no problem (its tokens are minted in live mode)',
      secrets: [[good('acme-registry', 'acme'), tokenSource('acme-ecr', 'acme', { provider: 'ecr', region: 'eu-west-1' })]],
      problems: [],
      without: []
    },
    {
      name: 'a token source whose settings cannot be used: InvalidTokenSource, like any unusable source',
      secrets: [[good('acme-registry', 'acme'), tokenSource('acme-ecr', 'acme', { provider: 'ecr', region: 'moon-1', roleArn: 'not-an-arn' })]],
      problems: ['acme-ecr acme InvalidTokenSource'],
      without: []
    },
    {
      name: 'a tenant whose only source is a broken token source is without credentials',
      secrets: [[good('acme-registry', 'acme'), tokenSource('initech-gar', 'initech', { provider: 'gcr' })]],
      problems: ['initech-gar initech InvalidTokenSource'],
      without: [['initech', ['sandbox'], ['initech-gar']]]
    },
    {
      name: 'acme\'s own broken and a broken shared: both named',
      secrets: [[{ ...good('acme-registry', 'acme'), type: 'Opaque' }, desktop('platform-mirror', null)]],
      problems: ['acme-registry acme WrongSecretType', 'platform-mirror (shared) NoUsableCredential', 'platform-mirror (shared) CredentialHelperOnly registry.acme.example'],
      without: [['acme', ['team-a', 'team-a2'], ['acme-registry', 'platform-mirror']], ['initech', ['sandbox'], ['platform-mirror']]]
    }
  ]
  for (const c of cases) {
    const health = modelOf(tenantNamespaces, c.secrets).credentialHealth()
    t.strictSame(health.problems.map(p => [p.secret, p.tenant ?? SHARED_TENANT, p.reason, p.scope].filter(x => x !== undefined).join(' ')), c.problems, `${c.name}: problems`)
    t.strictSame(health.tenantsWithoutCredentials.map(w => [w.tenant, w.namespaces, w.unusableSources]), c.without, `${c.name}: tenants without credentials`)
  }
})

t.test('problems carry the Secret\'s uid; the gauge counts by tenant and reason', async t => {
  const model = modelOf(tenantNamespaces, [[
    withUid(desktop('acme-desktop', 'acme'), 'uid-1'),
    withUid(good('mirror-a', null, 'mirror.example'), 'uid-2'),
    withUid(good('mirror-b', null, 'mirror.example'), 'uid-3'),
    withUid(credentialSecret({ name: 'acme-two', tenant: 'acme', auths: { 'a.example': {}, 'b.example': {}, 'c.example': auth('u', 'p') } }), 'uid-4')
  ]])
  const health = model.credentialHealth()
  t.strictSame(health.problems.map(p => [p.secret, p.uid]), [
    ['acme-desktop', 'uid-1'], ['acme-desktop', 'uid-1'], ['acme-two', 'uid-4'], ['acme-two', 'uid-4'], ['mirror-b', 'uid-3']
  ])
  t.strictSame(problemCounts(health).sort((a, b) => `${a.tenant}${a.reason}` < `${b.tenant}${b.reason}` ? -1 : 1), [
    { tenant: SHARED_TENANT, reason: 'RegistryKeyConflict', count: 1 },
    { tenant: 'acme', reason: 'CredentialHelperOnly', count: 1 },
    { tenant: 'acme', reason: 'EntryWithoutCredential', count: 2 },
    { tenant: 'acme', reason: 'NoUsableCredential', count: 1 }
  ], 'acme has credentials from acme-two: no TenantWithoutCredentials')

  const broken = modelOf(tenantNamespaces, [[desktop('acme-desktop', 'acme')]])
  t.match(problemCounts(broken.credentialHealth()), [
    { tenant: 'acme', reason: 'NoUsableCredential', count: 1 },
    { tenant: 'acme', reason: 'CredentialHelperOnly', count: 1 },
    { tenant: 'acme', reason: 'TenantWithoutCredentials', count: 1 }
  ], 'a tenant without credentials counts once, whatever its number of namespaces')
})

t.test('the Events the health calls for', async t => {
  const model = modelOf(tenantNamespaces, [[withUid(desktop('acme-desktop', 'acme'), 'uid-1')]])
  const events = credentialEvents(model.credentialHealth(), NS)
  t.strictSame(events.map(e => [e.namespace, e.regarding.kind, e.regarding.name, e.reason]), [
    [NS, 'Secret', 'acme-desktop', 'NoUsableCredential'],
    [NS, 'Secret', 'acme-desktop', 'CredentialHelperOnly'],
    ['team-a', 'Namespace', 'team-a', 'TenantWithoutCredentials'],
    ['team-a2', 'Namespace', 'team-a2', 'TenantWithoutCredentials']
  ])
  const [noUsable, helper, teamA] = events as [CredentialEvent, CredentialEvent, CredentialEvent]
  t.strictSame(noUsable.regarding, { apiVersion: 'v1', kind: 'Secret', name: 'acme-desktop', namespace: NS, uid: 'uid-1' })
  t.match(helper.note, /^the credential for "registry.acme.example" is kept by the credential helper "desktop" \(credsStore\) on the machine that wrote this config; nodes never run credential helpers$/, 'the note names the entry\'s scope')
  t.match(noUsable.note, /the Secret gives no credentials until it is fixed$/)
  t.match(teamA.note, /^tenant acme has no usable registry credentials: its credential Secrets in pullguard-system \(acme-desktop\) are unusable/)
  t.strictSame(teamA.regarding, { apiVersion: 'v1', kind: 'Namespace', name: 'team-a', namespace: 'team-a' }, 'regarding the namespace, living in it, where its users look')
  for (const event of events) t.match(event.name, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\.[0-9a-f]{16}$/, `${event.reason}: a DNS subdomain name`)

  t.strictSame(credentialEvents(model.credentialHealth(), NS).map(e => e.name), events.map(e => e.name), 'the same problem, the same Event name: a new leader continues the series')
  const recreated = modelOf(tenantNamespaces, [[withUid(desktop('acme-desktop', 'acme'), 'uid-9')]])
  t.not(credentialEvents(recreated.credentialHealth(), NS)[0]?.name, noUsable.name, 'a Secret deleted and created again is another object: another Event')
  t.equal(new Set(events.map(e => e.name)).size, events.length, 'one name per Event')

  const long = 'a'.repeat(240) + '-b'
  const longModel = modelOf(tenantNamespaces, [[{ ...good(long, 'acme'), type: 'Opaque' }]])
  const [longEvent] = credentialEvents(longModel.credentialHealth(), NS)
  t.ok(longEvent !== undefined && longEvent.name.length <= 253, 'names stay within 253 characters')
  t.match(longEvent?.name, /^a+\.[0-9a-f]{16}$/, 'cut where a label may end')

  const many = modelOf([namespace('team-a', 'acme') as NamespaceObject], [
    Array.from({ length: 8 }, (_, i) => ({ ...good(`acme-${i}`, 'acme'), type: 'Opaque' }))
  ])
  const tenantEvent = credentialEvents(many.credentialHealth(), NS).find(e => e.reason === 'TenantWithoutCredentials')
  t.match(tenantEvent?.note, /\(acme-0, acme-1, acme-2, acme-3, acme-4 and 3 more\)/, 'a tenant\'s note names a few Secrets and counts the rest')
})

t.test('an Event series: created once, grown on each resync, forgotten when gone', async t => {
  const event = (name: string): CredentialEvent => ({ name, namespace: NS, regarding: { apiVersion: 'v1', kind: 'Secret', name, namespace: NS }, reason: 'WrongSecretType', note: 'n' })
  const a = event('a.0')
  const b = event('b.0')
  const book = new EventSeriesBook()
  const writes = (events: CredentialEvent[], again: boolean): string[] => book.observe(events, again).map(w => w.write === 'create' ? `create ${w.event.name}` : `series ${w.event.name} ${w.count}`)
  const steps: Array<{ name: string, run: () => string[], want: string[] }> = [
    { name: 'first sighting: created', run: () => writes([a], false), want: ['create a.0'] },
    { name: 'the create landed', run: () => { book.recorded(a, 1); return [] }, want: [] },
    { name: 'a change elsewhere: nothing new to write for a', run: () => writes([a, b], false), want: ['create b.0'] },
    { name: 'b failed', run: () => { book.forget(b); return [] }, want: [] },
    { name: 'resync: a grows to 2, b is tried again', run: () => writes([a, b], true), want: ['series a.0 2', 'create b.0'] },
    { name: 'both landed', run: () => { book.recorded(a, 2); book.recorded(b, 1); return [] }, want: [] },
    { name: 'resync again', run: () => writes([a, b], true), want: ['series a.0 3', 'series b.0 2'] },
    { name: 'a landed, b did not (its count stays)', run: () => { book.recorded(a, 3); return [] }, want: [] },
    { name: 'b fixed: only a moves on', run: () => writes([a], true), want: ['series a.0 4'] },
    { name: 'b is back: created anew (the API says whether it still exists)', run: () => writes([a, b], false), want: ['create b.0'] },
    { name: 'found by name with 5 observations: continue from there', run: () => { const next = book.continueSeries(b, 5); return [`series ${next.event.name} ${next.count}`] }, want: ['series b.0 6'] },
    { name: 'an existing Event without a series was observed once', run: () => [String(book.continueSeries(b, 1).count)], want: ['2'] },
    { name: 'duplicates in one observation are one Event', run: () => { book.clear(); return writes([a, a], false) }, want: ['create a.0'] }
  ]
  for (const step of steps) t.strictSame(step.run(), step.want, step.name)
})

t.test('the README lists every reason, and no other', async t => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('## Credential health'), readme.indexOf('\n## ', readme.indexOf('## Credential health') + 1))
  const listed = [...section.matchAll(/^\| `([A-Za-z0-9]+)` \|/gm)].map(m => m[1])
  t.strictSame(listed, [...CREDENTIAL_PROBLEM_REASONS])
})
