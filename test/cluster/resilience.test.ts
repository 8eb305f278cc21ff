// Outages, broken watches, expired resourceVersions: the live view recovers by itself, keeps serving
// its last good cache meanwhile, says how stale it is, and ends up exactly at the server's state.

import t from 'tap'
import type { KubeObject } from '../support/api-double.js'
import { credentialSecret, namespace } from '../support/cluster.js'
import { FakeClock } from '../support/fake-clock.js'
import {
  ACME_AUTHS,
  FAST,
  GLOBEX_AUTHS,
  OPTIONS,
  expectedConfig,
  managedSecret,
  metricValue,
  seed,
  sleep,
  startApi,
  startSyncedView,
  startView,
  waitFor,
  waitForConfig,
  waitForMetric,
  waitForNoSecret
} from './helper.js'

t.test('readiness: false until every cache synced, then true, and still true while the API is down', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  // the first two lists of managed Secrets fail: that cache syncs last
  api.failNext(2, { status: 500 }, { verb: 'list', resource: 'secrets', namespace: undefined })
  const { view } = startView(t, started)
  t.notOk(view.isReady(), 'not ready before anything is listed')
  await waitFor(() => api.requests.filter(r => r.verb === 'list' && r.status === 500).length === 2, 'the failed lists')
  t.notOk(view.isReady(), 'not ready while one cache has not synced')
  await waitFor(() => view.isReady(), 'ready')
  await api.setDown(true)
  await sleep(100)
  t.ok(view.isReady(), 'an outage does not make it unready: the last good cache is served')
  t.equal(view.snapshot().tenantOf('team-a'), 'acme')
  await api.setDown(false)
})

t.test('cache age grows while the API server is unreachable and resets once it is back', async t => {
  // The caches' time is a fake clock: ages are exact, and restarts after a failure wait for it.
  const clock = new FakeClock()
  const { api, started } = await startApi(t, { bookmarkIntervalMs: 50 })
  seed(api)
  const { metrics, log } = await startSyncedView(t, started, { cacheClock: clock })
  const age = (cache: string): Promise<number> => metricValue(metrics, 'pullguard_cache_age_seconds', { cache })
  await clock.advance(1000)
  await waitForMetric(metrics, 'pullguard_cache_age_seconds', { cache: 'namespaces' }, value => value === 0)
  t.pass('a bookmark brings the age back to 0')

  const failures = (): number => log.records('list/watch failed; restarting').length
  await api.setDown(true)
  await waitFor(() => failures() >= 3, 'every cache to see the outage')
  const down = await age('credentials')
  await clock.advance(300)
  t.equal(Math.round((await age('credentials') - down) * 1000), 300, 'the age grows with the clock while down')
  // twice the bound: the staleness check runs on an interval, a fraction of the bound
  await clock.advance(FAST.informers!.staleAfterMs! * 2)
  t.ok(await age('namespaces') * 1000 >= FAST.informers!.staleAfterMs! * 2, 'past the stale bound')
  await waitFor(() => log.records().some(r => r.msg === 'cache stale: API server not heard from; admission keeps serving the last good state'), 'the stale log line')
  t.ok(failures() >= 3, 'failures logged with their retry delay')

  await api.setDown(false)
  // each round moves the clock past the longest restart delay, so every pending restart runs
  for (let round = 0; log.records('cache fresh again: API server reachable').length < 3; round++) {
    if (round === 500) throw new Error('the caches did not recover')
    await clock.advance(FAST.informers!.restartMaxDelayMs! * 1.2 + 1)
    await sleep(10)
  }
  for (const cache of ['namespaces', 'credentials', 'managed-secrets']) {
    await waitForMetric(metrics, 'pullguard_cache_age_seconds', { cache }, value => value === 0)
    t.pass(`${cache}: age back to 0 once heard from`)
  }
})

t.test('a dropped watch resumes and catches up with what changed meanwhile', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  const { view } = await startSyncedView(t, started)
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))
  const blockWatches = api.injectFault({ verb: 'watch' }, { status: 503 })
  api.dropWatches()
  await waitFor(() => api.watcherCount() === 0)
  api.create(namespace('team-late', 'acme') as KubeObject)
  api.remove('Secret', OPTIONS.credentialsNamespace, 'globex-ghcr')
  await sleep(100)
  t.equal(view.snapshot().tenantOf('team-late'), undefined, 'not seen while the watches are down')
  blockWatches()
  await waitForConfig(api, 'team-late', expectedConfig(ACME_AUTHS))
  await waitForNoSecret(api, 'team-b')
})

t.test('an API server restart (410 Expired) relists: the cache ends up exactly the server\'s, deletes included', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  for (const name of ['team-x', 'team-y']) api.create(namespace(name, 'acme') as KubeObject)
  const { view, log } = await startSyncedView(t, started)
  for (const ns of ['team-a', 'team-x', 'team-y', 'team-b']) await waitFor(() => managedSecret(api, ns) !== undefined, ns)
  const listsBefore = api.stats().byVerb.list

  // Down; meanwhile the cluster changes a lot; it comes back with its watch history gone.
  await api.setDown(true)
  api.remove('Namespace', undefined, 'team-x') // deleted while disconnected
  const teamY = api.get('Namespace', undefined, 'team-y')!
  api.update({ ...teamY, metadata: { ...teamY.metadata, labels: {} } }) // no longer a tenant
  api.remove('Secret', 'team-a', OPTIONS.managedSecretName) // someone deleted a copy
  api.remove('Secret', OPTIONS.credentialsNamespace, 'globex-ghcr') // globex has no credentials any more
  const rotated = { 'registry.acme.example': { auth: 'cm90YXRlZDpwdw==' } }
  api.apply(credentialSecret({ name: 'acme-registry', tenant: 'acme', auths: rotated }) as KubeObject)
  api.create(namespace('team-z', 'acme') as KubeObject)
  api.restart({ newResourceVersionBase: 100_000 })
  await api.setDown(false)

  await waitForConfig(api, 'team-a', expectedConfig(rotated))
  await waitForConfig(api, 'team-z', expectedConfig(rotated))
  await waitForNoSecret(api, 'team-y')
  await waitForNoSecret(api, 'team-b')
  t.ok(api.stats().byVerb.list >= listsBefore + 3, 'every cache relisted')
  const snapshot = view.snapshot()
  t.equal(snapshot.tenantOf('team-x'), undefined, 'a namespace deleted while disconnected is gone from the cache')
  t.equal(snapshot.tenantOf('team-y'), null)
  t.equal(snapshot.tenantOf('team-z'), 'acme')
  t.equal(snapshot.credentialsOf('globex'), undefined)
  t.ok(log.records('cache relisted').length >= 3)
})

t.test('the watch history compacted under a live watch: 410 relist, no error, converges', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  const { view } = await startSyncedView(t, started)
  await waitForConfig(api, 'team-b', expectedConfig(GLOBEX_AUTHS))
  api.endWatches()
  api.remove('Secret', OPTIONS.credentialsNamespace, 'globex-ghcr')
  api.compact()
  await waitForNoSecret(api, 'team-b')
  t.equal(view.snapshot().credentialsOf('globex'), undefined)
})

t.test('stop() ends every watch and timer', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  const { view } = await startSyncedView(t, started)
  await waitFor(() => api.watcherCount() === 3)
  await view.stop()
  await waitFor(() => api.watcherCount() === 0, 'watches closed')
  api.create(namespace('after-stop', 'acme') as KubeObject)
  await sleep(100)
  t.equal(managedSecret(api, 'after-stop'), undefined, 'a stopped view writes nothing')
})
