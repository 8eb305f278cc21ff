// Replicas as the chart runs them: each with its own client identity against one API server, one
// Lease between them. One writer; failover by graceful shutdown (the Lease is released) and by a
// leader that dies (its Lease runs out); and a replica whose view of the credentials goes stale
// never writes, so a rotation settles once and stays settled.

import t, { type Test } from 'tap'
import { ReviewService } from '../../src/review-service.js'
import { captureLog } from '../server/log-capture.js'
import type { LiveClusterView } from '../../src/cluster/live/live-view.js'
import type { ApiDouble, KubeObject, StartedApiDouble } from '../support/api-double.js'
import { auth, credentialSecret, namespace, podCreateReview } from '../support/cluster.js'
import {
  ACME_AUTHS,
  OPTIONS,
  expectedConfig,
  managedSecret,
  managedWrites,
  seed,
  sleep,
  startApi,
  startView,
  waitFor,
  waitForConfig
} from './helper.js'

// Short but not tight: a loaded 2-core machine can stall the event loop for a good part of a second.
const LEASE = { namespace: OPTIONS.credentialsNamespace, leaseName: 'pullguard', leaseDurationSeconds: 4, renewDeadlineSeconds: 3, retryPeriodSeconds: 0.5 }
const ACME_NAMESPACES = ['team-a', 'acme-1', 'acme-2', 'acme-3']

interface Replica {
  id: string
  view: LiveClusterView
}

function startReplica (t: Test, started: StartedApiDouble, id: string): Replica {
  const { view } = startView(t, started, {
    kubeConfig: started.kubeConfig({ user: id }),
    leaderElection: { ...LEASE, identity: id }
  })
  return { id, view }
}

function seedAcme (api: ApiDouble): void {
  seed(api)
  for (const ns of ACME_NAMESPACES.slice(1)) api.create(namespace(ns, 'acme') as KubeObject)
}

const leaseOf = (api: ApiDouble): { holderIdentity?: string, leaseTransitions?: number } | undefined =>
  (api.get('Lease', LEASE.namespace, LEASE.leaseName) as { spec?: { holderIdentity?: string, leaseTransitions?: number } } | undefined)?.spec

async function oneLeader (replicas: Replica[]): Promise<Replica> {
  await waitFor(() => replicas.filter(r => r.view.isLeader).length === 1, 'exactly one leader', 10_000)
  return replicas.find(r => r.view.isLeader)!
}

/** writes to managed Secrets, per namespace, since the request log was cleared */
function writesPerNamespace (api: ApiDouble): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const r of api.requests) {
    if (r.resource !== 'secrets' || !['create', 'update', 'delete'].includes(r.verb) || r.namespace === undefined) continue
    counts[r.namespace] = (counts[r.namespace] ?? 0) + 1
  }
  return counts
}

t.test('one writer: only the Lease holder reconciles; a graceful stop hands over at once', async t => {
  const { api, started } = await startApi(t)
  seedAcme(api)
  const replicas = [startReplica(t, started, 'pod-a'), startReplica(t, started, 'pod-b')]
  const leader = await oneLeader(replicas)
  for (const ns of ACME_NAMESPACES) await waitForConfig(api, ns, expectedConfig(ACME_AUTHS))
  t.equal(leaseOf(api)?.holderIdentity, leader.id, 'the Lease names the leader')
  const creates = api.requests.filter(r => r.verb === 'create' && r.resource === 'secrets')
  t.ok(creates.every(r => r.user === leader.id), 'every create came from the leader')

  const follower = replicas.find(r => r !== leader)!
  const transitions = leaseOf(api)?.leaseTransitions ?? 0
  const stoppedAt = performance.now()
  await leader.view.stop()
  t.equal(leaseOf(api)?.holderIdentity === leader.id, false, 'the Lease was released on the way out')
  await waitFor(() => follower.view.isLeader, 'the other replica to lead', 10_000)
  t.comment(`failover after a graceful stop: ${(performance.now() - stoppedAt).toFixed(0)} ms (retry period ${LEASE.retryPeriodSeconds * 1000} ms, lease ${LEASE.leaseDurationSeconds * 1000} ms)`)
  t.equal(leaseOf(api)?.holderIdentity, follower.id)
  t.equal(leaseOf(api)?.leaseTransitions, transitions + 1, 'one transition')

  // The new leader reconciles: a rotation reaches every copy.
  const rotated = { 'registry.acme.example': auth('acme', 'rotated') }
  api.apply(credentialSecret({ name: 'acme-registry', tenant: 'acme', auths: rotated }) as KubeObject)
  for (const ns of ACME_NAMESPACES) await waitForConfig(api, ns, expectedConfig(rotated))
})

t.test('a leader that dies: it stops writing by its renew deadline, the other takes over after the lease', async t => {
  const { api, started } = await startApi(t)
  seedAcme(api)
  const replicas = [startReplica(t, started, 'pod-a'), startReplica(t, started, 'pod-b')]
  const leader = await oneLeader(replicas)
  const follower = replicas.find(r => r !== leader)!
  for (const ns of ACME_NAMESPACES) await waitForConfig(api, ns, expectedConfig(ACME_AUTHS))

  // Cut the leader off from the API server entirely, as a node failure would.
  const diedAt = performance.now()
  api.injectFault({ user: leader.id }, 'reset')
  api.dropWatches({ user: leader.id })
  await waitFor(() => !leader.view.isLeader, 'the cut-off leader to stop leading', 10_000)
  const steppedDown = performance.now() - diedAt
  await waitFor(() => follower.view.isLeader, 'the other replica to take over', 15_000)
  t.comment(`leader cut off: stopped leading after ${steppedDown.toFixed(0)} ms, taken over after ${(performance.now() - diedAt).toFixed(0)} ms (renew deadline ${LEASE.renewDeadlineSeconds * 1000} ms, lease ${LEASE.leaseDurationSeconds * 1000} ms)`)
  t.equal(leaseOf(api)?.holderIdentity, follower.id)

  api.clearRequests()
  const rotated = { 'registry.acme.example': auth('acme', 'rotated') }
  api.apply(credentialSecret({ name: 'acme-registry', tenant: 'acme', auths: rotated }) as KubeObject)
  for (const ns of ACME_NAMESPACES) await waitForConfig(api, ns, expectedConfig(rotated))
  t.ok(api.requests.filter(r => r.verb === 'update' && r.resource === 'secrets').every(r => r.user === follower.id), 'only the new leader wrote')
})

for (const count of [2, 3]) {
  t.test(`${count} replicas, the leader's view of the credentials goes stale: a rotation settles once and stays`, async t => {
    const { api, started } = await startApi(t)
    seedAcme(api)
    const replicas = Array.from({ length: count }, (_, i) => startReplica(t, started, `pod-${i}`))
    const degraded = await oneLeader(replicas)
    for (const ns of ACME_NAMESPACES) await waitForConfig(api, ns, expectedConfig(ACME_AUTHS))

    // Its list/watch of Secrets in the credentials namespace fails; the rest of the API still works.
    const credentials = { user: degraded.id, resource: 'secrets', namespace: OPTIONS.credentialsNamespace }
    api.injectFault(credentials, { status: 500 })
    api.dropWatches(credentials)
    await waitFor(() => !degraded.view.isLeader, 'the stale leader to give the Lease up', 10_000)
    const healthy = await oneLeader(replicas.filter(r => r !== degraded))
    t.not(healthy.id, degraded.id)

    api.clearRequests()
    const rotated = { 'registry.acme.example': auth('acme', 'rotated') }
    api.apply(credentialSecret({ name: 'acme-registry', tenant: 'acme', auths: rotated }) as KubeObject)
    for (const ns of ACME_NAMESPACES) await waitForConfig(api, ns, expectedConfig(rotated))

    // A Pod admitted through the stale replica: the reference is kept, nothing is written from old data.
    const service = new ReviewService(degraded.view, OPTIONS, { namespaceLookupTimeoutMs: 500, ensureTimeoutMs: 500 })
    api.remove('Secret', 'acme-2', OPTIONS.managedSecretName)
    const review = podCreateReview()
    review.request!.namespace = 'acme-2'
    const outcome = await service.review(review, captureLog().logger)
    t.equal(outcome.summary.secret, 'failed', 'the stale replica does not write')
    t.match(outcome.response.response?.warnings, [/not ready yet/], 'and says so')
    await waitForConfig(api, 'acme-2', expectedConfig(rotated))

    // Several resync-free seconds later, nothing has moved: no replica fights another.
    await sleep(1500)
    const writes = writesPerNamespace(api)
    t.same(writes, { 'team-a': 1, 'acme-1': 1, 'acme-2': 2, 'acme-3': 1 }, 'one update per copy, plus the one recreate of the copy deleted on purpose')
    t.ok(api.requests.filter(r => r.resource === 'secrets' && ['create', 'update', 'delete'].includes(r.verb)).every(r => r.user !== degraded.id),
      'the stale replica wrote nothing')
    t.equal(managedWrites(api), 5)
    for (const ns of ACME_NAMESPACES) t.equal(managedSecret(api, ns) !== undefined, true)
  })
}
