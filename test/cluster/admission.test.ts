// The admission path in live mode: the real ReviewService over a LiveClusterView over the API double.
// Reviews are answered from the caches; only the managed Secret's ensure (and a brand-new namespace's
// lookup) touch the API, each within its budget, and an unreachable API never fails a review.

import t from 'tap'
import type { AdmissionReview } from '../../src/admission/types.js'
import { ReviewService } from '../../src/review-service.js'
import { captureLog } from '../server/log-capture.js'
import type { KubeObject } from '../support/api-double.js'
import { decodePatch, namespace, podCreateReview } from '../support/cluster.js'
import {
  ACME_AUTHS,
  OPTIONS,
  SECRET,
  expectedConfig,
  managedSecret,
  managedWrites,
  seed,
  sleep,
  startApi,
  startSyncedView,
  waitFor,
  waitForConfig
} from './helper.js'

const TIMEOUTS = { namespaceLookupTimeoutMs: 300, ensureTimeoutMs: 300 }

function review (ns = 'team-a', dryRun = false): AdmissionReview {
  const r = podCreateReview()
  r.request!.namespace = ns
  if (dryRun) r.request!.dryRun = true
  return r
}

const injectsPullSecret = (response: AdmissionReview): boolean =>
  decodePatch(response.response?.patch).some(op => JSON.stringify(op).includes(SECRET))

t.test('dryRun reviews cause no writes; the same review without dryRun does write', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  // every managed Secret create fails, so the copy stays missing and each ensure would have to write
  api.injectFault({ verb: 'create', resource: 'secrets' }, { status: 503 })
  const { view } = await startSyncedView(t, started, { projector: { retryBaseDelayMs: 60_000, retryMaxDelayMs: 60_000 } })
  for (const ns of ['team-a', 'team-b']) {
    await waitFor(() => api.requests.some(r => r.verb === 'create' && r.namespace === ns), 'the queue\'s first attempts')
  }
  const service = new ReviewService(view, OPTIONS, TIMEOUTS)
  const log = captureLog()

  api.clearRequests()
  const dry = await service.review(review('team-a', true), log.logger)
  await sleep(50)
  t.ok(injectsPullSecret(dry.response), 'the same answer: pull secret injected')
  t.equal(dry.summary.secret, undefined, 'no ensure for dryRun')
  t.same(api.requests.filter(r => r.verb !== 'watch').map(r => [r.verb, r.namespace, r.status]), [], 'not a single API request')

  const real = await service.review(review('team-a'), log.logger)
  t.equal(real.summary.secret, 'failed')
  t.same(api.requests.filter(r => r.verb === 'create').map(r => r.namespace), ['team-a'], 'the non-dryRun review tried to write')
})

t.test('API down during admission: answered from the cache with a warning, reconciled once it is back', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  // the managed Secret never got written before the outage
  const blockCreates = api.injectFault({ verb: 'create', resource: 'secrets' }, { status: 503 })
  const { view, log } = await startSyncedView(t, started)
  await waitFor(() => api.requests.some(r => r.verb === 'create' && r.namespace === 'team-a'), 'a failed create')
  await api.setDown(true)
  blockCreates()
  const service = new ReviewService(view, OPTIONS, TIMEOUTS)

  const outcome = await service.review(review(), log.logger)
  t.ok(outcome.response.response?.allowed)
  t.ok(injectsPullSecret(outcome.response), 'the pull secret reference is still injected')
  t.match(outcome.response.response?.warnings, [/registry credentials Secret "pullguard-registry-credentials" is not ready yet/])
  t.equal(outcome.summary.secret, 'failed')

  await sleep(100)
  await api.setDown(false)
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))
  t.pass('reconciled by the queue once the API server is back')
})

t.test('a hung API server: the ensure gives up within its budget', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  const blockCreates = api.injectFault({ verb: 'create', resource: 'secrets' }, { status: 503 })
  const { view, log } = await startSyncedView(t, started)
  await waitFor(() => api.requests.some(r => r.verb === 'create' && r.namespace === 'team-a'), 'a failed create')
  blockCreates()
  api.injectFault({ verb: 'create', resource: 'secrets' }, 'hang')
  const service = new ReviewService(view, OPTIONS, TIMEOUTS)

  // the double holds the create until releaseHung() below: only the budget can end this review
  const startedAt = performance.now()
  const outcome = await service.review(review(), log.logger)
  const elapsed = performance.now() - startedAt
  t.equal(outcome.summary.secret, 'failed')
  t.ok(injectsPullSecret(outcome.response))
  t.ok(elapsed >= TIMEOUTS.ensureTimeoutMs * 0.9, `gave up after ${elapsed.toFixed(0)} ms, not before its budget (${TIMEOUTS.ensureTimeoutMs} ms)`)
  t.ok(api.hungCount() >= 1, 'while the create was still unanswered')
  t.ok(log.records('admission-time ensure failed; queued for retry').length >= 1)
  api.releaseHung()
})

t.test('a namespace created after sync is looked up live when the watch has not shown it yet', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  const { view, log } = await startSyncedView(t, started)
  // the namespace watch is cut and cannot come back for now
  const blockWatch = api.injectFault({ verb: 'watch', resource: 'namespaces' }, { status: 500 })
  api.dropWatches()
  await waitFor(() => api.watcherCount('namespaces') === 0)
  api.create(namespace('team-fresh', 'acme') as KubeObject)
  t.equal(view.snapshot().tenantOf('team-fresh'), undefined, 'not in the cache yet')
  // Writes wait for fresh caches: the Secret watches are back (only namespaces stay cut).
  await waitFor(() => api.watcherCount('secrets') === 2, 'the Secret watches back')

  const service = new ReviewService(view, OPTIONS, TIMEOUTS)
  const outcome = await service.review(review('team-fresh'), log.logger)
  t.ok(api.requests.some(r => r.verb === 'get' && r.resource === 'namespaces' && r.name === 'team-fresh'), 'one live GET')
  t.ok(injectsPullSecret(outcome.response))
  t.equal(outcome.summary.secret, 'created', 'the ensure created the copy right away')
  t.ok(managedSecret(api, 'team-fresh'))

  api.create(namespace('team-burst', 'acme') as KubeObject)
  await Promise.all(Array.from({ length: 10 }, () => service.review(review('team-burst'), log.logger)))
  t.equal(api.requests.filter(r => r.verb === 'get' && r.name === 'team-burst').length, 1, 'ten reviews at once share one GET')

  await view.lookupNamespace('nowhere', 300)
  t.equal(view.snapshot().tenantOf('nowhere'), null, 'a namespace that does not exist is no tenant')
  blockWatch()
  await waitFor(() => api.watcherCount('namespaces') === 1, 'the watch back')
  t.equal(view.snapshot().tenantOf('team-fresh'), 'acme')
})

t.test('a steady state costs no API calls per review', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  const { view, log } = await startSyncedView(t, started)
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))
  await sleep(50)
  const service = new ReviewService(view, OPTIONS, TIMEOUTS)
  api.clearRequests()
  for (let i = 0; i < 20; i++) {
    const outcome = await service.review(review(), log.logger)
    t.equal(outcome.summary.secret, 'unchanged')
  }
  t.same(api.requests.filter(r => r.verb !== 'watch'), [], 'reviews read the caches only')
  t.equal(managedWrites(api), 0)
})
