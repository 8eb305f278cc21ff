// The projection controller end to end: the API double changes as an admin or tenant would change the
// cluster, the live view (real client, real HTTP) keeps every managed Secret exact.

import t from 'tap'
import { CONTENT_HASH_ANNOTATION, MANAGED_BY_LABEL } from '../../src/admission/options.js'
import type { KubeObject } from '../support/api-double.js'
import { auth, credentialSecret, namespace } from '../support/cluster.js'
import {
  ACME_AUTHS,
  GLOBEX_AUTHS,
  MIRROR_AUTHS,
  OPTIONS,
  SECRET,
  dockerConfigOf,
  expectedConfig,
  managedSecret,
  managedWrites,
  metricValue,
  seed,
  sha256,
  sleep,
  startApi,
  startSyncedView,
  waitFor,
  waitForConfig,
  waitForMetric,
  waitForNoSecret
} from './helper.js'

t.test('a tenant namespace gets its managed Secret: labels, content hash, exact data', async t => {
  const { api, started } = await startApi(t)
  seed(api, { shared: true })
  const { metrics } = await startSyncedView(t, started)

  const acme = expectedConfig({ ...ACME_AUTHS, ...MIRROR_AUTHS })
  await waitForConfig(api, 'team-a', acme)
  const secret = managedSecret(api, 'team-a')!
  t.equal(secret.type, 'kubernetes.io/dockerconfigjson')
  t.same(secret.metadata.labels, { [MANAGED_BY_LABEL]: 'pullguard', [OPTIONS.tenantLabel]: 'acme' })
  t.same(secret.metadata.annotations, { [CONTENT_HASH_ANNOTATION]: sha256(acme) })
  t.same(Object.keys(secret.data as object), ['.dockerconfigjson'], 'nothing but the dockerconfigjson')
  await waitForConfig(api, 'team-b', expectedConfig({ ...GLOBEX_AUTHS, ...MIRROR_AUTHS }))
  await waitForConfig(api, 'sandbox', expectedConfig(MIRROR_AUTHS))
  t.equal(managedSecret(api, 'default'), undefined, 'not a tenant: nothing')
  t.equal(managedSecret(api, OPTIONS.credentialsNamespace), undefined)
  await waitForMetric(metrics, 'pullguard_managed_secrets', {}, v => v === 3)
  await waitForMetric(metrics, 'pullguard_reconcile_total', { result: 'created' }, v => v === 3)

  const labelledAt = performance.now()
  api.create(namespace('team-new', 'acme') as KubeObject)
  await waitForConfig(api, 'team-new', acme)
  t.comment(`namespace labelled → managed Secret exists: ${(performance.now() - labelledAt).toFixed(1)} ms`)

  // an existing namespace that gains the label
  const plain = api.get('Namespace', undefined, 'default')!
  api.update({ ...plain, metadata: { ...plain.metadata, labels: { ...plain.metadata.labels, [OPTIONS.tenantLabel]: 'globex' } } })
  await waitForConfig(api, 'default', expectedConfig({ ...GLOBEX_AUTHS, ...MIRROR_AUTHS }))
})

t.test('our own write coming back through the watch is not taken for someone else\'s change', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  // a long settle delay: a namespace mistaken for changed by someone else would sit in the queue
  const { metrics } = await startSyncedView(t, started, { projector: { settleDelayMs: 60_000 } })
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))
  await waitForConfig(api, 'team-b', expectedConfig(GLOBEX_AUTHS))
  await waitForMetric(metrics, 'pullguard_managed_secrets', {}, v => v === 2)
  await waitForMetric(metrics, 'pullguard_reconcile_total', { result: 'created' }, v => v === 2)
  t.equal(await metricValue(metrics, 'pullguard_reconcile_queue_depth'), 0, 'nothing queued behind our own writes')
})

t.test('a rotated source updates every copy of that tenant, and only those', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  for (const name of ['team-a2', 'team-a3']) api.create(namespace(name, 'acme') as KubeObject)
  await startSyncedView(t, started)
  for (const ns of ['team-a', 'team-a2', 'team-a3']) await waitForConfig(api, ns, expectedConfig(ACME_AUTHS))
  await waitForConfig(api, 'team-b', expectedConfig(GLOBEX_AUTHS))
  const globexVersion = managedSecret(api, 'team-b')!.metadata.resourceVersion

  const rotated = { 'registry.acme.example': auth('acme', 'pw-acme-2') }
  api.apply(credentialSecret({ name: 'acme-registry', tenant: 'acme', auths: rotated }) as KubeObject)
  for (const ns of ['team-a', 'team-a2', 'team-a3']) await waitForConfig(api, ns, expectedConfig(rotated))
  t.equal(managedSecret(api, 'team-a')!.metadata.annotations?.[CONTENT_HASH_ANNOTATION], sha256(expectedConfig(rotated)))
  await sleep(100)
  t.equal(managedSecret(api, 'team-b')!.metadata.resourceVersion, globexVersion, 'another tenant\'s copy is not rewritten')
})

t.test('a shared source reaches every tenant, including those with no source of their own', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  await startSyncedView(t, started)
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))
  t.equal(managedSecret(api, 'sandbox'), undefined, 'initech has no credentials yet')

  api.create(credentialSecret({ name: 'platform-mirror', tenant: null, auths: MIRROR_AUTHS }) as KubeObject)
  await waitForConfig(api, 'sandbox', expectedConfig(MIRROR_AUTHS))
  await waitForConfig(api, 'team-a', expectedConfig({ ...ACME_AUTHS, ...MIRROR_AUTHS }))
  await waitForConfig(api, 'team-b', expectedConfig({ ...GLOBEX_AUTHS, ...MIRROR_AUTHS }))

  api.remove('Secret', OPTIONS.credentialsNamespace, 'platform-mirror')
  await waitForNoSecret(api, 'sandbox')
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))
})

t.test('losing the label or the last credential deletes the copy', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  await startSyncedView(t, started)
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))
  await waitForConfig(api, 'team-b', expectedConfig(GLOBEX_AUTHS))

  const teamA = api.get('Namespace', undefined, 'team-a')!
  const { [OPTIONS.tenantLabel]: _dropped, ...labels } = teamA.metadata.labels ?? {}
  api.update({ ...teamA, metadata: { ...teamA.metadata, labels } })
  await waitForNoSecret(api, 'team-a')

  api.remove('Secret', OPTIONS.credentialsNamespace, 'globex-ghcr')
  await waitForNoSecret(api, 'team-b')
  t.pass('both copies deleted')
})

t.test('a same-name Secret pullguard does not manage is left untouched and reported once', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  const squatter = api.create({
    apiVersion: 'v1', kind: 'Secret', metadata: { name: SECRET, namespace: 'team-a', labels: { owner: 'someone' } }, data: { token: 'c2VjcmV0' }
  })
  const { view, log, metrics } = await startSyncedView(t, started, { resyncSeconds: 0.05 })
  await waitForConfig(api, 'team-b', expectedConfig(GLOBEX_AUTHS))
  await waitFor(() => api.list('Event', 'team-a').length === 1, 'the conflict event')
  const [event] = api.list<{ reason: string, type: string, involvedObject: { kind: string, name: string, uid: string } }>('Event', 'team-a')
  t.match(event, { reason: 'ManagedSecretConflict', type: 'Warning', involvedObject: { kind: 'Secret', name: SECRET, uid: squatter.metadata.uid } })
  t.equal(await metricValue(metrics, 'pullguard_managed_secret_conflicts_total'), 1)
  t.ok(log.records().some(r => r.level === 'warn' && r.namespace === 'team-a' && String(r.msg).includes('without the managed-by label')))

  const result = await view.ensureManagedSecret({ namespace: 'team-a', name: SECRET, tenant: 'acme', dockerConfigJson: '', contentHash: '' }, 5000)
  t.equal(result.outcome, 'conflict')
  await sleep(300) // several resyncs
  t.same(managedSecret(api, 'team-a'), squatter, 'never overwritten')
  t.equal(await metricValue(metrics, 'pullguard_managed_secret_conflicts_total'), 1, 'reported once per version, not per resync')
  t.equal(api.list('Event', 'team-a').length, 1)
  t.ok(await metricValue(metrics, 'pullguard_reconcile_total', { result: 'conflict' }) >= 3)

  // once the owner removes it, pullguard takes the name
  api.remove('Secret', 'team-a', SECRET)
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))
})

t.test('a managed copy someone deleted or edited is repaired; labels others add are kept', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  await startSyncedView(t, started)
  const acme = expectedConfig(ACME_AUTHS)
  await waitForConfig(api, 'team-a', acme)

  api.remove('Secret', 'team-a', SECRET)
  await waitForConfig(api, 'team-a', acme)
  t.pass('recreated after deletion')

  const current = managedSecret(api, 'team-a')!
  api.update({ ...current, data: { '.dockerconfigjson': Buffer.from('{"auths":{"evil.example":{}}}').toString('base64') } })
  await waitForConfig(api, 'team-a', acme)
  t.pass('data restored after an edit')

  const edited = managedSecret(api, 'team-a')!
  api.update({
    ...edited,
    metadata: {
      ...edited.metadata,
      labels: { ...edited.metadata.labels, [OPTIONS.tenantLabel]: 'globex', 'backup.example/include': 'true' },
      annotations: { [CONTENT_HASH_ANNOTATION]: 'bogus', note: 'kept' }
    }
  })
  await waitFor(() => managedSecret(api, 'team-a')!.metadata.labels?.[OPTIONS.tenantLabel] === 'acme', 'labels restored')
  const repaired = managedSecret(api, 'team-a')!
  t.equal(repaired.metadata.annotations?.[CONTENT_HASH_ANNOTATION], sha256(acme))
  t.equal(repaired.metadata.labels?.['backup.example/include'], 'true', 'a label someone else added stays')
  t.equal(repaired.metadata.annotations?.note, 'kept')

  api.clearRequests()
  await sleep(200)
  t.equal(managedWrites(api), 0, 'a repaired copy is left alone')
  t.equal(dockerConfigOf(repaired), acme)
})

t.test('a managed copy that cannot be edited in place (immutable) is replaced', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  const acme = expectedConfig(ACME_AUTHS)
  api.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: SECRET, namespace: 'team-a', labels: { [MANAGED_BY_LABEL]: 'pullguard', [OPTIONS.tenantLabel]: 'acme' } },
    type: 'kubernetes.io/dockerconfigjson',
    immutable: true,
    data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') }
  })
  await startSyncedView(t, started)
  await waitForConfig(api, 'team-a', acme)
  t.equal((managedSecret(api, 'team-a') as { immutable?: boolean }).immutable, undefined)
})

t.test('a source broken by a typo keeps its last good version in every copy; deleting it still removes them', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  api.create(namespace('team-a2', 'acme') as KubeObject)
  const { log } = await startSyncedView(t, started)
  const acme = expectedConfig(ACME_AUTHS)
  for (const ns of ['team-a', 'team-a2']) await waitForConfig(api, ns, acme)
  const versions = ['team-a', 'team-a2'].map(ns => managedSecret(api, ns)!.metadata.resourceVersion)

  // Valid JSON the API server accepts, with no usable entry: an admin's slip, not an intent.
  const source = api.get('Secret', OPTIONS.credentialsNamespace, 'acme-registry')!
  api.update({ ...source, data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') } })
  await waitFor(() => log.records('credential sources: problems or registry key conflicts (see the reasons in problems)')
    .some(r => JSON.stringify(r.problems).includes('last good version stays in use')), 'the problem to be logged')
  // The commit that logged it would have queued the copies: give those reconciles time to run.
  const before = managedWrites(api)
  await sleep(200)
  t.equal(managedWrites(api), before, 'no copy rewritten')
  t.same(['team-a', 'team-a2'].map(ns => managedSecret(api, ns)!.metadata.resourceVersion), versions)
  t.equal(dockerConfigOf(managedSecret(api, 'team-a')), acme)

  api.remove('Secret', OPTIONS.credentialsNamespace, 'acme-registry')
  for (const ns of ['team-a', 'team-a2']) await waitForNoSecret(api, ns)
})
