// Credential health in live mode, through the real client against the API double: Warning Events
// (events.k8s.io/v1) regarding a broken source Secret and on the namespaces of a tenant it leaves
// without credentials, one series per problem that grows at each resync (driven by a fake clock),
// written by the leader only; and the gauge, on every replica, cleared once the source is fixed.

import t, { type Test } from 'tap'
import type { ApiDouble, KubeObject, StartedApiDouble } from '../support/api-double.js'
import { FakeClock } from '../support/fake-clock.js'
import { credentialSecret } from '../support/cluster.js'
import { FAST, OPTIONS, metricValue, seed, startApi, startSyncedView, startView, waitFor, waitForMetric, type LiveHarness } from './helper.js'

const NS = OPTIONS.credentialsNamespace
const RESYNC_MS = FAST.resyncSeconds * 1000
const GAUGE = 'pullguard_credential_source_problems'

interface StoredEvent extends KubeObject {
  reason: string
  note: string
  type: string
  regarding: { kind: string, name: string, namespace?: string, uid?: string }
  reportingController: string
  reportingInstance: string
  eventTime: string
  series?: { count: number, lastObservedTime: string }
}

/** initech (namespace sandbox) gets a Docker Desktop config as its only source */
function desktopSource (): object {
  const config = { auths: { 'registry.acme.example': {} }, credsStore: 'desktop' }
  return { ...credentialSecret({ name: 'initech-desktop', tenant: 'initech', auths: {} }), data: { '.dockerconfigjson': Buffer.from(JSON.stringify(config)).toString('base64') } }
}

const eventsOf = (api: ApiDouble): StoredEvent[] => api.list<StoredEvent>('events.events.k8s.io')
const summary = (api: ApiDouble): string[] => eventsOf(api)
  .map(e => `${e.metadata.namespace ?? ''} ${e.regarding.kind}/${e.regarding.name} ${e.reason} ${e.series?.count ?? 1}`)
  .sort()
const eventWrites = (api: ApiDouble, user?: string): string[] => api.requests
  .filter(r => r.group === 'events.k8s.io' && ['create', 'patch', 'update'].includes(r.verb) && (user === undefined || r.user === user))
  .map(r => `${r.verb} ${r.status ?? ''}`)

/** a wall clock the test moves: eventTime and lastObservedTime are exact */
function wall (): { now: () => Date, set: (iso: string) => void } {
  let current = new Date('2026-01-02T03:04:05.000Z')
  return { now: () => current, set: iso => { current = new Date(iso) } }
}

/**
 * Just after the first list a cache is not watching yet, so not fresh, and the first observation is
 * deferred by a second of the recorder's clock: wait until the view is fresh, then move that second on.
 */
async function freshAndRechecked (view: LiveHarness['view'], clock: FakeClock): Promise<void> {
  await waitFor(() => view.inputsFresh(), 'the caches to be fresh', 3000)
  await clock.advance(1000)
}

async function brokenInitech (t: Test): Promise<{ api: ApiDouble, started: StartedApiDouble }> {
  const { api, started } = await startApi(t)
  seed(api)
  api.create(desktopSource() as KubeObject)
  return { api, started }
}

const EXPECTED = (count: number): string[] => [
  `${NS} Secret/initech-desktop CredentialHelperOnly ${count}`,
  `${NS} Secret/initech-desktop NoUsableCredential ${count}`,
  `sandbox Namespace/sandbox TenantWithoutCredentials ${count}`
]

t.test('a bad source: one Event series per problem, growing at each resync; the gauge; a fix clears it', async t => {
  const { api, started } = await brokenInitech(t)
  const clock = new FakeClock()
  const time = wall()
  const { metrics, view } = await startSyncedView(t, started, { credentialEvents: { clock, wallClock: time.now } })
  await freshAndRechecked(view, clock)

  await waitFor(() => summary(api).length === 3, 'the three Events', 3000)
  t.strictSame(summary(api), EXPECTED(1), 'one Event per problem, none a series yet')
  const source = api.get<KubeObject>('Secret', NS, 'initech-desktop')
  const helper = eventsOf(api).find(e => e.reason === 'CredentialHelperOnly')
  t.match(helper, {
    type: 'Warning',
    regarding: { apiVersion: 'v1', kind: 'Secret', name: 'initech-desktop', namespace: NS, uid: source?.metadata.uid },
    reportingController: 'pullguard.dev/credential-health',
    action: 'ReadCredentialSources',
    eventTime: '2026-01-02T03:04:05.000000Z'
  })
  t.match(helper?.note, /"registry\.acme\.example" is kept by the credential helper "desktop" \(credsStore\)/, 'the note names the entry\'s scope')
  t.match(eventsOf(api).find(e => e.reason === 'TenantWithoutCredentials')?.note, /^tenant initech has no usable registry credentials/)
  for (const reason of ['NoUsableCredential', 'CredentialHelperOnly', 'TenantWithoutCredentials']) {
    t.equal(await metricValue(metrics, GAUGE, { tenant: 'initech', reason }), 1, `gauge: initech ${reason}`)
  }
  t.equal(await metricValue(metrics, GAUGE, { tenant: 'acme' }), 0, 'acme has no problem')

  for (const [count, iso] of [[2, '2026-01-02T03:05:05.000Z'], [3, '2026-01-02T03:06:05.000Z']] as const) {
    time.set(iso)
    await clock.advance(RESYNC_MS)
    await waitFor(() => summary(api).join() === EXPECTED(count).join(), `every series at ${count}`, 3000)
    t.ok(eventsOf(api).every(e => e.series?.lastObservedTime === iso.replace('.000Z', '.000000Z')), `resync ${count - 1}: lastObservedTime moved on`)
  }
  t.strictSame(eventWrites(api).sort(), [...Array(3).fill('create 201'), ...Array(6).fill('patch 200')], 'three creates, then only series patches')

  // Events expire (about an hour on a real cluster): the next sighting starts a new one
  const expired = eventsOf(api).find(e => e.reason === 'TenantWithoutCredentials')
  api.remove('events.events.k8s.io', 'sandbox', expired?.metadata.name ?? '')
  await clock.advance(RESYNC_MS)
  await waitFor(() => summary(api).length === 3 && summary(api).includes('sandbox Namespace/sandbox TenantWithoutCredentials 1'), 'the expired Event written again', 3000)

  // fixed: the gauge clears; no more Event writes at the next resync
  api.apply(credentialSecret({ name: 'initech-desktop', tenant: 'initech', auths: { 'registry.initech.example': { auth: Buffer.from('u:p').toString('base64') } } }) as KubeObject)
  await waitForMetric(metrics, GAUGE, { tenant: 'initech', reason: 'NoUsableCredential' }, value => value === 0)
  const values = (await metrics.registry.getSingleMetric(GAUGE)?.get())?.values ?? []
  t.strictSame(values, [], 'the gauge has no sample left at all')
  api.clearRequests()
  // with nothing to write, the resync's pass is done once the clock's timers have settled
  await clock.advance(RESYNC_MS)
  t.strictSame(eventWrites(api), [], 'a fixed problem is not observed again')
})

t.test('an Event left by an earlier leader: the next one continues its series', async t => {
  const { api, started } = await brokenInitech(t)
  const firstClock = new FakeClock()
  const first = await startSyncedView(t, started, { credentialEvents: { clock: firstClock } })
  await freshAndRechecked(first.view, firstClock)
  await waitFor(() => summary(api).length === 3, 'the first leader\'s Events', 3000)
  await first.view.stop()

  api.clearRequests()
  const secondClock = new FakeClock()
  await freshAndRechecked((await startSyncedView(t, started, { credentialEvents: { clock: secondClock } })).view, secondClock)
  await waitFor(() => summary(api).join() === EXPECTED(2).join(), 'the same Events, now series of 2', 3000)
  t.strictSame(eventWrites(api).sort(), [...Array(3).fill('create 409'), ...Array(3).fill('patch 200')], 'found by name, not written twice')
})

t.test('only the leader writes Events; every replica exports the gauge', async t => {
  const { api, started } = await brokenInitech(t)
  const lease = { namespace: NS, leaseName: 'pullguard', leaseDurationSeconds: 4, renewDeadlineSeconds: 3, retryPeriodSeconds: 0.5 }
  const replicas: Array<LiveHarness & { id: string, clock: FakeClock }> = ['pod-a', 'pod-b'].map(id => {
    const clock = new FakeClock()
    return { id, clock, ...startView(t, started, { kubeConfig: started.kubeConfig({ user: id }), leaderElection: { ...lease, identity: id }, credentialEvents: { clock } }) }
  })
  await waitFor(() => replicas.filter(r => r.view.isLeader).length === 1, 'one leader', 10_000)
  const leader = replicas.find(r => r.view.isLeader)!
  const follower = replicas.find(r => r !== leader)!
  await waitFor(() => summary(api).length === 3, 'the leader\'s Events', 3000)

  for (const replica of replicas) await replica.clock.advance(RESYNC_MS)
  await waitFor(() => summary(api).join() === EXPECTED(2).join(), 'one resync of the leader', 3000)
  t.strictSame(eventWrites(api, follower.id), [], 'the follower wrote no Event, not even on its own resync tick')
  t.ok(eventsOf(api).every(e => e.reportingInstance === leader.id), 'every Event names the leader')
  for (const replica of replicas) {
    await waitForMetric(replica.metrics, GAUGE, { tenant: 'initech', reason: 'TenantWithoutCredentials' }, value => value === 1)
  }
  t.pass('both replicas export the gauge')
})
