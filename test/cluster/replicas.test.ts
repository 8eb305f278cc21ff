// Several replicas against one API double: with the Lease (as the chart runs them) one writes and
// the other stays quiet; the writes that every replica may make (admission-time ensures) and replicas
// run without leader election settle every race through resourceVersion preconditions and 409 re-reads.

import t from 'tap'
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
  seed,
  sleep,
  waitFor,
  startApi,
  startSyncedView,
  waitForConfig
} from './helper.js'

const RESYNC_SECONDS = 0.1
const ACME = Array.from({ length: 10 }, (_, i) => `acme-${i}`)
const GLOBEX = Array.from({ length: 10 }, (_, i) => `globex-${i}`)

t.test('two replicas, one Lease: converge without flapping', async t => {
  const { api, started } = await startApi(t)
  seed(api, { shared: true })
  for (const ns of ACME) api.create(namespace(ns, 'acme') as KubeObject)
  for (const ns of GLOBEX) api.create(namespace(ns, 'globex') as KubeObject)
  const lease = { namespace: OPTIONS.credentialsNamespace, leaseName: 'pullguard', leaseDurationSeconds: 2, renewDeadlineSeconds: 1, retryPeriodSeconds: 0.2 }
  await Promise.all(['pod-a', 'pod-b'].map(identity =>
    startSyncedView(t, started, { resyncSeconds: RESYNC_SECONDS, leaderElection: { ...lease, identity } })))
  const acme = expectedConfig({ ...ACME_AUTHS, ...MIRROR_AUTHS })
  for (const ns of ACME) await waitForConfig(api, ns, acme)
  for (const ns of GLOBEX) await waitForConfig(api, ns, expectedConfig({ ...GLOBEX_AUTHS, ...MIRROR_AUTHS }))
  await waitForConfig(api, 'team-a', acme)
  await waitForConfig(api, 'team-b', expectedConfig({ ...GLOBEX_AUTHS, ...MIRROR_AUTHS }))
  await waitForConfig(api, 'sandbox', expectedConfig(MIRROR_AUTHS))
  const creates = api.requests.filter(r => r.verb === 'create' && r.resource === 'secrets')
  t.equal(creates.filter(r => r.status === 201).length, 23, 'each copy created exactly once (20 + team-a, team-b, sandbox)')
  t.equal(creates.length, 23, 'by the leader alone: no create lost a race')

  await sleep(RESYNC_SECONDS * 1000 * 3)
  api.clearRequests()
  const rotated = { 'registry.acme.example': auth('acme', 'rotated') }
  api.apply(credentialSecret({ name: 'acme-registry', tenant: 'acme', auths: rotated }) as KubeObject)
  const acmeRotated = expectedConfig({ ...rotated, ...MIRROR_AUTHS })
  for (const ns of [...ACME, 'team-a']) await waitForConfig(api, ns, acmeRotated)
  await sleep(RESYNC_SECONDS * 1000 * 2)
  const updates = api.requests.filter(r => r.verb === 'update' && r.resource === 'secrets')
  t.equal(updates.filter(r => r.status === 200).length, 11, 'each acme copy rewritten exactly once')
  t.notOk(updates.some(r => r.status !== 200 && r.status !== 409), 'losers see 409, nothing else')
  t.comment(`rotation: ${updates.length} updates sent by the two replicas, ${updates.filter(r => r.status === 409).length} lost the race (409)`)

  // Quiet: several resync periods, both replicas comparing every namespace, not one write.
  const versions = new Map([...ACME, ...GLOBEX].map(ns => [ns, managedSecret(api, ns)?.metadata.resourceVersion]))
  api.clearRequests()
  await sleep(RESYNC_SECONDS * 1000 * 6)
  t.equal(api.requests.filter(r => r.resource === 'secrets' && ['create', 'update', 'patch', 'delete'].includes(r.verb)).length, 0,
    'no Secret write attempts once converged (the Lease is renewed meanwhile)')
  t.ok([...versions].every(([ns, rv]) => managedSecret(api, ns)?.metadata.resourceVersion === rv), 'no copy changed')

  api.clearRequests()
  await sleep(RESYNC_SECONDS * 1000 * 3)
  t.equal(managedWrites(api), 0)
})

t.test('the same namespace ensured by both replicas at once: one creates, the other finds it right', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  // no resync here: only the two admission-time ensures may write
  const [one, two] = await Promise.all([startSyncedView(t, started), startSyncedView(t, started)])
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))
  // Two webhook calls for two Pods in a namespace neither replica has seen through its namespace
  // watch (held back here), so neither has queued it.
  const blockWatch = api.injectFault({ verb: 'watch', resource: 'namespaces' }, { status: 500 })
  api.dropWatches()
  api.create(namespace('acme-fresh', 'acme') as KubeObject)
  await Promise.all([one.view.lookupNamespace('acme-fresh', 500), two.view.lookupNamespace('acme-fresh', 500)])
  // Writes wait for fresh caches: both replicas' Secret watches are back (only namespaces stay cut).
  await waitFor(() => api.watcherCount('secrets') === 4 && one.view.inputsFresh('acme-fresh') && two.view.inputsFresh('acme-fresh'),
    'the Secret watches back and both views fresh')
  const spec = { namespace: 'acme-fresh', name: SECRET, tenant: 'acme', dockerConfigJson: '', contentHash: '' }
  api.clearRequests()
  const results = await Promise.all([one.view.ensureManagedSecret(spec, 5000), two.view.ensureManagedSecret(spec, 5000)])
  t.same(results.map(r => r.outcome).sort(), ['created', 'unchanged'], 'one creates, the other re-reads and finds it right')
  t.same(api.requests.filter(r => r.namespace === 'acme-fresh').map(r => `${r.verb} ${r.status}`).sort(), ['create 201', 'create 409', 'get 200'])
  t.equal(dockerConfigOf(managedSecret(api, 'acme-fresh')), expectedConfig(ACME_AUTHS))
  blockWatch()
})

t.test('replicas agree on deletes: the loser of a delete race does not recreate or fail', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  await Promise.all([
    startSyncedView(t, started, { resyncSeconds: RESYNC_SECONDS }),
    startSyncedView(t, started, { resyncSeconds: RESYNC_SECONDS })
  ])
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))
  await waitForConfig(api, 'team-b', expectedConfig(GLOBEX_AUTHS))
  await sleep(RESYNC_SECONDS * 1000 * 2) // the initial fill's losing creates are done
  api.clearRequests()
  api.remove('Secret', 'pullguard-system', 'acme-registry')
  await sleep(RESYNC_SECONDS * 1000 * 4)
  t.equal(managedSecret(api, 'team-a'), undefined)
  const deletes = api.requests.filter(r => r.verb === 'delete')
  t.equal(deletes.filter(r => r.status === 200).length, 1, 'deleted once')
  t.notOk(deletes.some(r => r.status !== 200 && r.status !== 404 && r.status !== 409))
  t.equal(api.requests.filter(r => r.verb === 'create').length, 0, 'nobody recreates it')
})
