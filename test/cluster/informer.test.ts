// The informer supervisor over client-node's ListWatch, against the API double: paged lists that
// honour the selectors, sync, restarts with backoff, relists that end at exactly the server's state.

import * as k8s from '@kubernetes/client-node'
import t, { type Test } from 'tap'
import { Informer, type InformerEvent, type InformerTiming } from '../../src/cluster/live/informer.js'
import { captureLog } from '../server/log-capture.js'
import type { ApiDouble, StartedApiDouble } from '../support/api-double.js'
import { sleep, startApi, waitFor } from './helper.js'

const TIMING: Partial<InformerTiming> = { listTimeoutMs: 300, pageSize: 2, restartBaseDelayMs: 20, restartMaxDelayMs: 100, staleAfterMs: 300 }

function secretInformer (t: Test, started: StartedApiDouble, fieldSelector?: string, timing = TIMING) {
  const events: string[] = []
  const log = captureLog('debug')
  const core = started.kubeConfig().makeApiClient(k8s.CoreV1Api)
  const informer = new Informer<k8s.V1Secret>({
    name: 'test',
    kubeConfig: started.kubeConfig(),
    path: '/api/v1/secrets',
    ...(fieldSelector !== undefined && { fieldSelector }),
    listPage: (request, options) => core.listSecretForAllNamespaces(request, options),
    onEvent: (event: InformerEvent, secret) => events.push(`${event} ${secret.metadata?.namespace}/${secret.metadata?.name}`),
    logger: log.logger,
    timing
  })
  t.teardown(() => informer.stop())
  return { informer, events, log }
}

function seedSecrets (api: ApiDouble): void {
  for (const ns of ['a', 'b', 'c']) {
    api.create({ kind: 'Namespace', metadata: { name: ns } })
    api.create({ kind: 'Secret', metadata: { name: 'managed', namespace: ns } })
    api.create({ kind: 'Secret', metadata: { name: 'other', namespace: ns } })
  }
}

const names = (informer: Informer<k8s.V1Secret>): string[] =>
  informer.list().map(s => `${s.metadata?.namespace}/${s.metadata?.name}`).sort()

t.test('lists in pages with the same selectors the watch gets, then reports synced', async t => {
  const { api, started } = await startApi(t)
  seedSecrets(api)
  api.create({ kind: 'Namespace', metadata: { name: 'default' } })
  api.create({ kind: 'Secret', metadata: { name: 'managed', namespace: 'default' } })
  const { informer, log } = secretInformer(t, started, 'metadata.name=managed')
  t.notOk(informer.hasSynced)
  informer.start()
  await informer.whenSynced()
  t.same(names(informer), ['a/managed', 'b/managed', 'c/managed', 'default/managed'])
  const lists = api.requests.filter(r => r.verb === 'list')
  t.equal(lists.length, 2, 'two pages of two')
  t.ok(lists.every(r => r.query.fieldSelector === 'metadata.name=managed' && r.query.limit === '2'))
  t.ok(lists[1]?.query.continue)
  await api.waitForWatchers(1)
  const watch = api.requests.find(r => r.verb === 'watch')!
  t.equal(watch.query.fieldSelector, 'metadata.name=managed')
  t.equal(watch.query.allowWatchBookmarks, 'true')
  t.equal(watch.query.resourceVersion, lists[0]?.query.resourceVersion ?? api.resourceVersion)
  t.same(log.records('cache synced').map(r => r.items), [4])
})

t.test('failed and hung lists are retried with backoff until the first sync', async t => {
  const { api, started } = await startApi(t)
  seedSecrets(api)
  api.failNext(3, { status: 500 }, { verb: 'list' })
  const { informer, log } = secretInformer(t, started)
  informer.start()
  await waitFor(() => api.requests.filter(r => r.fault !== undefined).length === 3, 'three failed lists')
  api.injectFault({ verb: 'list' }, 'hang', { times: 1 })
  await informer.whenSynced()
  t.equal(informer.list().length, 6)
  const failures = log.records('list/watch failed; restarting')
  t.equal(failures.length, 4, 'three 500s and one list timeout')
  t.match(failures[0], { level: 'warn', cache: 'test', error: { code: 500 }, failures: 1 })
  t.match(failures[3], { error: { reason: 'TimeoutError' } })
  t.ok((failures[2]!.retryInMs as number) > (failures[0]!.retryInMs as number), 'the delay grows')
  api.releaseHung()
})

t.test('a dropped or refused watch is restarted, and catches up without a relist', async t => {
  const { api, started } = await startApi(t)
  seedSecrets(api)
  const { informer, events } = secretInformer(t, started)
  informer.start()
  await informer.whenSynced()
  await api.waitForWatchers(1)

  api.dropWatches()
  api.create({ kind: 'Secret', metadata: { name: 'during-drop', namespace: 'a' } })
  await waitFor(() => informer.get('during-drop', 'a') !== undefined, 'the change made while dropped')

  await api.setDown(true)
  api.remove('Secret', 'b', 'other')
  await sleep(150)
  t.equal(informer.list().length, 7, 'the last good state is still served while down')
  await api.setDown(false)
  await waitFor(() => informer.get('other', 'b') === undefined, 'the delete made while down')
  t.equal(api.stats().byVerb.list, 3, 'the three pages of the first list only: resumed from the resourceVersion')
  t.same(events.slice(-2), ['add a/during-drop', 'delete b/other'])
})

t.test('410 after a restart: relists, deleting what vanished, ending exactly at the server state', async t => {
  const { api, started } = await startApi(t)
  seedSecrets(api)
  const { informer, events, log } = secretInformer(t, started)
  informer.start()
  await informer.whenSynced()
  await api.setDown(true)
  api.remove('Namespace', undefined, 'c')
  const other = api.get('Secret', 'a', 'other')!
  api.update({ ...other, metadata: { ...other.metadata, labels: { changed: 'yes' } } })
  api.create({ kind: 'Secret', metadata: { name: 'fresh', namespace: 'b' } })
  api.restart({ newResourceVersionBase: 5000 })
  await api.setDown(false)
  await waitFor(() => informer.get('fresh', 'b') !== undefined, 'the relist')
  t.same(names(informer), api.list('Secret').map(s => `${s.metadata.namespace}/${s.metadata.name}`).sort())
  t.same(informer.get('other', 'a')?.metadata?.labels, { changed: 'yes' })
  t.same(events.filter(e => e.startsWith('delete')).sort(), ['delete c/managed', 'delete c/other'])
  t.ok(log.records('cache relisted').length >= 1)
})

t.test('age: reset by bookmarks and events, growing while unreachable, with one stale and one fresh log', async t => {
  const { api, started } = await startApi(t, { bookmarkIntervalMs: 30 })
  seedSecrets(api)
  const { informer, log } = secretInformer(t, started, undefined, { ...TIMING, staleAfterMs: 200 })
  informer.start()
  await informer.whenSynced()
  // Quiet for a while, then a fresh contact: only a bookmark can bring the age back down (a stalled
  // event loop merely delays it, so this holds on a loaded machine too).
  await sleep(150)
  await waitFor(() => informer.ageSeconds() < 0.1, 'a bookmark to keep the quiet watch fresh')
  t.pass('bookmarks keep a quiet watch fresh')
  await api.setDown(true)
  const stale = 'cache stale: API server not heard from; admission keeps serving the last good state'
  await waitFor(() => log.records(stale).length > 0, 'the stale log')
  await sleep(300)
  t.ok(informer.ageSeconds() >= 0.4, `${informer.ageSeconds().toFixed(2)} s since contact`)
  t.equal(log.records(stale).length, 1, 'logged once per outage, not per check')
  t.ok(informer.hasSynced, 'still synced: the cache is served')
  await api.setDown(false)
  await waitFor(() => log.records('cache fresh again: API server reachable').length === 1, 'the recovery log')
  await waitFor(() => informer.ageSeconds() < 0.5 && informer.isFresh(), 'the age back down, the cache fresh')
  t.pass('fresh again once the API server answers')
})

t.test('stop(): no more requests, even with a reconnect pending', async t => {
  const { api, started } = await startApi(t)
  seedSecrets(api)
  const { informer } = secretInformer(t, started)
  informer.start()
  await informer.whenSynced()
  await api.setDown(true)
  await sleep(50) // failing and backing off now
  await informer.stop()
  await api.setDown(false)
  api.clearRequests()
  await sleep(300)
  t.same(api.requests, [], 'nothing after stop')
  t.equal(api.watcherCount(), 0)
})

t.test('keep() trims the listed items and the watched objects alike', async t => {
  const { api, started } = await startApi(t)
  seedSecrets(api)
  const core = started.kubeConfig().makeApiClient(k8s.CoreV1Api)
  const events: string[] = []
  const kept = (secret: k8s.V1Secret): k8s.V1Secret => ({
    metadata: { name: secret.metadata?.name, namespace: secret.metadata?.namespace, resourceVersion: secret.metadata?.resourceVersion },
    type: 'kept'
  })
  const informer = new Informer<k8s.V1Secret>({
    name: 'test',
    kubeConfig: started.kubeConfig(),
    path: '/api/v1/secrets',
    fieldSelector: 'metadata.name=managed',
    listPage: (request, options) => core.listSecretForAllNamespaces(request, options),
    keep: kept,
    onEvent: (event, secret) => events.push(`${event} ${secret.metadata?.namespace} ${secret.type}`),
    logger: captureLog('debug').logger,
    timing: TIMING
  })
  t.teardown(() => informer.stop())
  informer.start()
  await informer.whenSynced()
  t.same(informer.list().map(s => s.type), ['kept', 'kept', 'kept'], 'listed items')
  await api.waitForWatchers(1)
  api.create({ kind: 'Namespace', metadata: { name: 'd' } })
  api.create({ kind: 'Secret', metadata: { name: 'managed', namespace: 'd', labels: { x: 'y' } }, type: 'Opaque' })
  api.update({ kind: 'Secret', metadata: { name: 'managed', namespace: 'a', labels: { x: 'z' } }, type: 'Opaque' })
  api.remove('Secret', 'b', 'managed')
  await waitFor(() => events.length === 6, 'the three watch events')
  t.same(events.slice(3), ['add d kept', 'update a kept', 'delete b kept'])
  t.same(informer.get('managed', 'd'), { metadata: { name: 'managed', namespace: 'd', resourceVersion: api.get('Secret', 'd', 'managed')?.metadata.resourceVersion }, type: 'kept' })
})

t.test('without listPage: the path listed in pages as plain JSON, the same shape the watch delivers', async t => {
  const { api, started } = await startApi(t)
  seedSecrets(api)
  const log = captureLog('debug')
  const informer = new Informer<k8s.V1Secret>({
    name: 'test',
    kubeConfig: started.kubeConfig(),
    path: '/api/v1/secrets',
    fieldSelector: 'metadata.name=managed',
    onEvent: () => {},
    logger: log.logger,
    timing: TIMING
  })
  t.teardown(() => informer.stop())
  api.failNext(1, { status: 500 }, { verb: 'list' })
  informer.start()
  await informer.whenSynced()
  t.same(names(informer), ['a/managed', 'b/managed', 'c/managed'])
  t.match(log.records('list/watch failed; restarting'), [{ error: { code: 500 } }], 'a failed page restarts the list')
  const lists = api.requests.filter(r => r.verb === 'list' && r.fault === undefined)
  t.same(lists.map(r => [r.query.fieldSelector, r.query.limit, r.query.continue !== undefined]),
    [['metadata.name=managed', '2', false], ['metadata.name=managed', '2', true]], 'two pages of two, selector and continue')
  await api.waitForWatchers(1)
  api.create({ kind: 'Namespace', metadata: { name: 'd' } })
  api.create({ kind: 'Secret', metadata: { name: 'managed', namespace: 'd' } })
  await waitFor(() => informer.get('managed', 'd') !== undefined, 'the watched Secret')
  t.type(informer.get('managed', 'a')?.metadata?.creationTimestamp, 'string', 'listed')
  t.type(informer.get('managed', 'd')?.metadata?.creationTimestamp, 'string', 'watched')
})
