import t from 'tap'
import { CONTENT_HASH_ANNOTATION, MANAGED_BY_LABEL } from '../../src/admission/options.js'
import { dataDigest, managedSecretObject, planManagedSecret, reconcileStep, storedSecret, type ApiSecret, type ReconcileInput, type StoredSecret } from '../../src/cluster/managed-secret.js'
import type { ManagedSecretSpec } from '../../src/admission/cluster-snapshot.js'

const TENANT_LABEL = 'pullguard.dev/tenant'
const config = '{"auths":{"registry.acme.example":{"auth":"YTpi"}}}'
const spec: ManagedSecretSpec = { namespace: 'team-a', name: 'pullguard-registry-credentials', tenant: 'acme', dockerConfigJson: config, contentHash: 'h1' }
// The Secret as the API would return it, edited, then trimmed as every cached or re-read copy is.
const stored = (edit: (s: ApiSecret) => void = () => {}): StoredSecret => {
  const secret: ApiSecret = structuredClone(managedSecretObject(spec, TENANT_LABEL))
  secret.metadata!.resourceVersion = '42'
  edit(secret)
  return storedSecret(secret)
}

const cases: Array<{ name: string, desired: ManagedSecretSpec | undefined, current: StoredSecret | undefined, want: unknown }> = [
  { name: 'nothing wanted, nothing there', desired: undefined, current: undefined, want: { action: 'none' } },
  { name: 'wanted, missing: create', desired: spec, current: undefined, want: { action: 'create', body: managedSecretObject(spec, TENANT_LABEL) } },
  { name: 'exact already', desired: spec, current: stored(), want: { action: 'none' } },
  { name: 'labels or annotations others added do not count as drift', desired: spec, current: stored(s => { s.metadata!.labels!.extra = 'x'; s.metadata!.annotations!.note = 'y' }), want: { action: 'none' } },
  { name: 'stale hash: replace with precondition', desired: { ...spec, contentHash: 'h2' }, current: stored(), want: { action: 'replace', body: { metadata: { resourceVersion: '42', annotations: { [CONTENT_HASH_ANNOTATION]: 'h2' } } } } },
  { name: 'new config under the same hash (the data decides, not the label): replace', desired: { ...spec, dockerConfigJson: config.replace('YTpi', 'YTpk') }, current: stored(), want: { action: 'replace', body: { data: { '.dockerconfigjson': Buffer.from(config.replace('YTpi', 'YTpk')).toString('base64') } } } },
  { name: 'edited data: replace', desired: spec, current: stored(s => { s.data = { '.dockerconfigjson': 'e30=' } }), want: { action: 'replace' } },
  { name: 'edited data, same length: replace', desired: spec, current: stored(s => { s.data!['.dockerconfigjson'] = Buffer.from(config.replace('YTpi', 'YTpj')).toString('base64') }), want: { action: 'replace' } },
  { name: 'data under another key: replace', desired: spec, current: stored(s => { s.data = { other: s.data!['.dockerconfigjson']! } }), want: { action: 'replace' } },
  { name: 'no data at all: replace', desired: spec, current: stored(s => { delete s.data }), want: { action: 'replace' } },
  { name: 'ours, immutable, right hash but tampered data: delete, then create', desired: spec, current: stored(s => { s.immutable = true; s.data = { '.dockerconfigjson': 'e30=' } }), want: { action: 'delete', recreate: true } },
  { name: 'an extra data key: replace', desired: spec, current: stored(s => { s.data!.extra = 'eA==' }), want: { action: 'replace' } },
  { name: 'tenant label changed: replace', desired: spec, current: stored(s => { s.metadata!.labels![TENANT_LABEL] = 'globex' }), want: { action: 'replace' } },
  { name: 'not wanted, ours: delete with precondition', desired: undefined, current: stored(), want: { action: 'delete', resourceVersion: '42', recreate: false } },
  { name: 'not wanted, not ours: leave it', desired: undefined, current: stored(s => { delete s.metadata!.labels![MANAGED_BY_LABEL] }), want: { action: 'none' } },
  { name: 'wanted, not ours: conflict', desired: spec, current: stored(s => { s.metadata!.labels = { app: 'other' } }), want: { action: 'conflict' } },
  { name: 'managed-by with another value is not ours', desired: spec, current: stored(s => { s.metadata!.labels![MANAGED_BY_LABEL] = 'helm' }), want: { action: 'conflict' } },
  { name: 'ours with the wrong type: delete, then create', desired: spec, current: stored(s => { s.type = 'Opaque' }), want: { action: 'delete', recreate: true } },
  { name: 'ours, immutable and stale: delete, then create', desired: { ...spec, contentHash: 'h2' }, current: stored(s => { s.immutable = true }), want: { action: 'delete', recreate: true } },
  { name: 'ours, immutable and exact: leave it', desired: spec, current: stored(s => { s.immutable = true }), want: { action: 'none' } }
]

for (const { name, desired, current, want } of cases) {
  t.test(name, async t => {
    t.match(planManagedSecret(desired, current, TENANT_LABEL), want)
  })
}

t.test('the trim keeps what the plan reads, and no data value', async t => {
  const secret = stored(s => {
    Object.assign(s.metadata!, { uid: 'u1', managedFields: [{ manager: 'kubectl' }], creationTimestamp: '2026-01-01T00:00:00Z' })
    s.immutable = true
  })
  const encoded = Buffer.from(config).toString('base64')
  t.same(secret, {
    metadata: {
      name: 'pullguard-registry-credentials',
      namespace: 'team-a',
      uid: 'u1',
      resourceVersion: '42',
      labels: { [MANAGED_BY_LABEL]: 'pullguard', [TENANT_LABEL]: 'acme' },
      annotations: { [CONTENT_HASH_ANNOTATION]: 'h1' }
    },
    type: 'kubernetes.io/dockerconfigjson',
    immutable: true,
    dataDigests: { '.dockerconfigjson': dataDigest(encoded) }
  })
  t.notOk(JSON.stringify(secret).includes(encoded), 'the data value itself is not kept')
  t.not(dataDigest(encoded), dataDigest(Buffer.from(config.replace('YTpi', 'YTpj')).toString('base64')))
})

t.test('a replace keeps what others added and sets exactly our data', async t => {
  const plan = planManagedSecret({ ...spec, contentHash: 'h2' }, stored(s => {
    s.metadata!.labels!.extra = 'x'
    s.data!.junk = 'eA=='
  }), TENANT_LABEL)
  t.equal(plan.action, 'replace')
  if (plan.action !== 'replace') return
  t.same(plan.body.metadata?.labels, { [MANAGED_BY_LABEL]: 'pullguard', [TENANT_LABEL]: 'acme', extra: 'x' })
  t.same(plan.body.data, { '.dockerconfigjson': Buffer.from(config).toString('base64') })
  t.equal(plan.body.type, 'kubernetes.io/dockerconfigjson')
})

t.test('reconcileStep: leave the unknown, let a fresh change settle before the queue acts on it', async t => {
  const base: ReconcileInput = { desired: spec, stored: undefined, caller: 'queue', msSinceChange: Infinity, settleDelayMs: 2000, tenantLabel: TENANT_LABEL }
  const cases: Array<{ name: string, input: Partial<ReconcileInput>, want: unknown }> = [
    { name: 'unknown or terminating namespace: leave it', input: { desired: undefined, stored: stored() }, want: { step: 'leave' } },
    { name: 'queue, nothing changed lately: the plan', input: {}, want: { step: 'plan', plan: { action: 'create' } } },
    { name: 'queue, changed 500 ms ago, a write is due: defer the rest of the settle delay', input: { msSinceChange: 500 }, want: { step: 'defer', deferMs: 1500 } },
    { name: 'queue, changed just now, a delete is due: defer', input: { desired: null, stored: stored(), msSinceChange: 0 }, want: { step: 'defer', deferMs: 2000 } },
    { name: 'queue, changed lately but already right: nothing to defer', input: { stored: stored(), msSinceChange: 10 }, want: { step: 'plan', plan: { action: 'none' } } },
    { name: 'queue, changed lately, a foreign Secret: report now', input: { stored: stored(s => { s.metadata!.labels = {} }), msSinceChange: 10 }, want: { step: 'plan', plan: { action: 'conflict' } } },
    { name: 'queue, settle delay exactly over: the plan', input: { msSinceChange: 2000 }, want: { step: 'plan', plan: { action: 'create' } } },
    { name: 'admission never defers: the Pod is waiting', input: { caller: 'admission', msSinceChange: 0 }, want: { step: 'plan', plan: { action: 'create' } } },
    { name: 'should not exist, ours is there: delete', input: { desired: null, stored: stored() }, want: { step: 'plan', plan: { action: 'delete', recreate: false } } }
  ]
  for (const c of cases) t.match(reconcileStep({ ...base, ...c.input }), c.want, c.name)
})
