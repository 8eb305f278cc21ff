// Convergence times with the production defaults (4 workers, 50 calls/s with a burst of 100, 2 s
// settle delay), measured against the API double on loopback: they show the controller's own
// pacing, not a real apiserver's latency. Printed as comments for the issue notes.

import t, { type Test } from 'tap'
import { DEFAULT_INFORMER_TIMING } from '../../src/cluster/live/informer.js'
import { DEFAULT_PROJECTOR_TUNING } from '../../src/cluster/live/projector.js'
import { ReviewService } from '../../src/review-service.js'
import { captureLog } from '../server/log-capture.js'
import type { ApiDouble, KubeObject } from '../support/api-double.js'
import { auth, credentialSecret, namespace, podCreateReview } from '../support/cluster.js'
import { OPTIONS, SECRET, dockerConfigOf, expectedConfig, managedSecret, sleep, startApi, startView, waitFor } from './helper.js'

const PRODUCTION = { informers: DEFAULT_INFORMER_TIMING, projector: DEFAULT_PROJECTOR_TUNING, resyncSeconds: 600 }
const TENANTS = 20
const NAMESPACES = 200
const nsName = (i: number): string => `tenant-${i % TENANTS}-ns-${i}`
const shared = (password: string) => ({ 'mirror.platform.example': auth('mirror', password) })
const own = (tenant: number) => ({ [`registry.t${tenant}.example`]: auth(`t${tenant}`, 'pw') })

function configFor (tenant: number, sharedPassword: string): string {
  return expectedConfig({ ...own(tenant), ...shared(sharedPassword) })
}

async function timed (what: string, t: Test, run: () => Promise<void>): Promise<number> {
  const startedAt = performance.now()
  await run()
  const ms = performance.now() - startedAt
  t.comment(`${what}: ${ms.toFixed(0)} ms`)
  return ms
}

function allHold (api: ApiDouble, namespaces: string[], expected: (ns: string) => string): boolean {
  return namespaces.every(ns => dockerConfigOf(managedSecret(api, ns)) === expected(ns))
}

t.test(`convergence over ${NAMESPACES} tenant namespaces with production settings`, async t => {
  const { api, started } = await startApi(t)
  api.create(namespace(OPTIONS.credentialsNamespace) as KubeObject)
  for (let tenant = 0; tenant < TENANTS; tenant++) {
    api.create(credentialSecret({ name: `t${tenant}-registry`, tenant: `t${tenant}`, auths: own(tenant) }) as KubeObject)
  }
  api.create(credentialSecret({ name: 'platform-mirror', tenant: null, auths: shared('v1') }) as KubeObject)
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => nsName(i))
  namespaces.forEach((ns, i) => api.create(namespace(ns, `t${i % TENANTS}`) as KubeObject))
  const tenantOf = (ns: string): number => Number(ns.split('-')[1])

  let view!: ReturnType<typeof startView>['view']
  const fill = await timed(`initial fill, ${NAMESPACES} namespaces (start → every Secret created)`, t, async () => {
    view = startView(t, started, PRODUCTION).view
    await waitFor(() => allHold(api, namespaces, ns => configFor(tenantOf(ns), 'v1')), 'the initial fill', 20_000)
  })
  t.ok(fill < 15_000)

  const labelTimes: number[] = []
  for (let i = 0; i < 5; i++) {
    const startedAt = performance.now()
    api.create(namespace(`late-${i}`, 't3') as KubeObject)
    await waitFor(() => managedSecret(api, `late-${i}`) !== undefined, 'the new namespace\'s Secret', 5000)
    labelTimes.push(performance.now() - startedAt)
  }
  t.comment(`namespace labelled → Secret exists: ${labelTimes.map(ms => ms.toFixed(0)).join(', ')} ms (5 trials)`)

  const everyNamespace = [...namespaces, ...Array.from({ length: 5 }, (_, i) => `late-${i}`)]
  await sleep(2000) // the fill spent the burst; measure from a full bucket, as after any quiet spell
  await timed(`shared source rotated → all ${everyNamespace.length} copies updated (burst of 100, then 50/s)`, t, async () => {
    api.apply(credentialSecret({ name: 'platform-mirror', tenant: null, auths: shared('v2') }) as KubeObject)
    await waitFor(() => allHold(api, everyNamespace, ns => configFor(ns.startsWith('late') ? 3 : tenantOf(ns), 'v2')), 'the rotation', 20_000)
  })

  const t7 = namespaces.filter(ns => tenantOf(ns) === 7)
  await timed(`one tenant's source rotated → its ${t7.length} copies updated`, t, async () => {
    const rotated = { 'registry.t7.example': auth('t7', 'pw-2') }
    api.apply(credentialSecret({ name: 't7-registry', tenant: 't7', auths: rotated }) as KubeObject)
    await waitFor(() => allHold(api, t7, () => expectedConfig({ ...rotated, ...shared('v2') })), 'the tenant rotation', 10_000)
  })

  await timed('managed copy deleted by someone → recreated (includes the 2 s settle delay)', t, async () => {
    api.remove('Secret', namespaces[0]!, SECRET)
    await waitFor(() => managedSecret(api, namespaces[0]!) !== undefined, 'the repair', 10_000)
  })

  // A Pod in a namespace created a moment ago: lookup (unless the watch was faster) + inline ensure.
  const service = new ReviewService(view, OPTIONS, { namespaceLookupTimeoutMs: 1000, ensureTimeoutMs: 2000 })
  const review = podCreateReview()
  review.request!.namespace = 'brand-new'
  await timed('namespace created, then a Pod review at once → answered with the Secret ensured', t, async () => {
    api.create(namespace('brand-new', 't1') as KubeObject)
    const outcome = await service.review(review, captureLog().logger)
    t.ok(['created', 'unchanged'].includes(outcome.summary.secret ?? ''), `ensure: ${outcome.summary.secret}`)
  })
  t.ok(managedSecret(api, 'brand-new'))
})

t.test('the controller, not the CPU, is the bound: 1,000 namespaces rotated with pacing lifted', async t => {
  const { api, started } = await startApi(t, { historyLimit: 10_000 })
  api.create(namespace(OPTIONS.credentialsNamespace) as KubeObject)
  api.create(credentialSecret({ name: 'platform-mirror', tenant: null, auths: shared('v1') }) as KubeObject)
  const namespaces = Array.from({ length: 1000 }, (_, i) => `big-${i}`)
  for (const ns of namespaces) api.create(namespace(ns, `t${ns}`) as KubeObject)
  startView(t, started, { ...PRODUCTION, projector: { ...DEFAULT_PROJECTOR_TUNING, callsPerSecond: 100_000, callBurst: 100_000 } })
  await timed('initial fill, 1,000 namespaces, 4 workers, unpaced', t, async () => {
    await waitFor(() => allHold(api, namespaces, () => expectedConfig(shared('v1'))), 'the fill', 30_000)
  })
  await timed('shared source rotated → 1,000 copies updated, 4 workers, unpaced', t, async () => {
    api.apply(credentialSecret({ name: 'platform-mirror', tenant: null, auths: shared('v2') }) as KubeObject)
    await waitFor(() => allHold(api, namespaces, () => expectedConfig(shared('v2'))), 'the rotation', 30_000)
  })
})
