// Convergence at scale, at test pacing: every copy ends up exact, each change costs exactly one write
// per affected namespace (no write storms, no replicas of ourselves fighting), and pacing is the
// projector's, not the CPU's. How long convergence takes with the production defaults is a figure,
// not a test: `npm run bench -- --only convergence` measures it.

import t from 'tap'
import { DEFAULT_PROJECTOR_TUNING } from '../../src/cluster/live/projector.js'
import { ReviewService } from '../../src/review-service.js'
import { captureLog } from '../server/log-capture.js'
import type { ApiDouble, KubeObject } from '../support/api-double.js'
import { auth, credentialSecret, namespace, podCreateReview } from '../support/cluster.js'
import { FAST, OPTIONS, SECRET, dockerConfigOf, expectedConfig, managedSecret, managedWrites, startApi, startView, waitFor } from './helper.js'

const TENANTS = 20
const NAMESPACES = 200
const nsName = (i: number): string => `tenant-${i % TENANTS}-ns-${i}`
const shared = (password: string) => ({ 'mirror.platform.example': auth('mirror', password) })
const own = (tenant: number) => ({ [`registry.t${tenant}.example`]: auth(`t${tenant}`, 'pw') })

function configFor (tenant: number, sharedPassword: string): string {
  return expectedConfig({ ...own(tenant), ...shared(sharedPassword) })
}

function allHold (api: ApiDouble, namespaces: string[], expected: (ns: string) => string): boolean {
  return namespaces.every(ns => dockerConfigOf(managedSecret(api, ns)) === expected(ns))
}

/** successful managed-Secret writes made while `run` converges */
async function writesDuring (api: ApiDouble, run: () => Promise<void>): Promise<number> {
  const before = managedWrites(api)
  await run()
  return managedWrites(api) - before
}

t.test(`convergence over ${NAMESPACES} tenant namespaces: exact content, one write per change`, async t => {
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
  t.equal(await writesDuring(api, async () => {
    view = startView(t, started).view
    await waitFor(() => allHold(api, namespaces, ns => configFor(tenantOf(ns), 'v1')), 'the initial fill', 20_000)
  }), NAMESPACES, 'initial fill: one create per tenant namespace')

  t.equal(await writesDuring(api, async () => {
    for (let i = 0; i < 5; i++) {
      api.create(namespace(`late-${i}`, 't3') as KubeObject)
      await waitFor(() => managedSecret(api, `late-${i}`) !== undefined, 'the new namespace\'s Secret', 5000)
    }
  }), 5, 'a namespace labelled later: one create each')

  const everyNamespace = [...namespaces, ...Array.from({ length: 5 }, (_, i) => `late-${i}`)]
  t.equal(await writesDuring(api, async () => {
    api.apply(credentialSecret({ name: 'platform-mirror', tenant: null, auths: shared('v2') }) as KubeObject)
    await waitFor(() => allHold(api, everyNamespace, ns => configFor(ns.startsWith('late') ? 3 : tenantOf(ns), 'v2')), 'the rotation', 20_000)
  }), everyNamespace.length, 'shared source rotated: one update per copy')

  const t7 = namespaces.filter(ns => tenantOf(ns) === 7)
  t.equal(await writesDuring(api, async () => {
    const rotated = { 'registry.t7.example': auth('t7', 'pw-2') }
    api.apply(credentialSecret({ name: 't7-registry', tenant: 't7', auths: rotated }) as KubeObject)
    await waitFor(() => allHold(api, t7, () => expectedConfig({ ...rotated, ...shared('v2') })), 'the tenant rotation', 10_000)
  }), t7.length, 'one tenant\'s source rotated: only its copies')

  t.equal(await writesDuring(api, async () => {
    api.remove('Secret', namespaces[0]!, SECRET)
    await waitFor(() => managedSecret(api, namespaces[0]!) !== undefined, 'the repair', 10_000)
  }), 1, 'a copy deleted by someone: recreated once')

  // A Pod in a namespace created a moment ago: lookup (unless the watch was faster) + inline ensure.
  const service = new ReviewService(view, OPTIONS, { namespaceLookupTimeoutMs: 1000, ensureTimeoutMs: 2000 })
  const review = podCreateReview()
  review.request!.namespace = 'brand-new'
  api.create(namespace('brand-new', 't1') as KubeObject)
  const outcome = await service.review(review, captureLog().logger)
  t.ok(['created', 'unchanged'].includes(outcome.summary.secret ?? ''), `namespace created, then a Pod review at once: ensure ${outcome.summary.secret}`)
  t.ok(managedSecret(api, 'brand-new'))
})

t.test('500 namespaces filled and rotated by the 4 workers, pacing lifted (1,000: npm run bench -- --only convergence)', async t => {
  const { api, started } = await startApi(t, { historyLimit: 10_000 })
  api.create(namespace(OPTIONS.credentialsNamespace) as KubeObject)
  api.create(credentialSecret({ name: 'platform-mirror', tenant: null, auths: shared('v1') }) as KubeObject)
  const namespaces = Array.from({ length: 500 }, (_, i) => `big-${i}`)
  for (const ns of namespaces) api.create(namespace(ns, `t${ns}`) as KubeObject)
  startView(t, started, { projector: { ...FAST.projector, workers: DEFAULT_PROJECTOR_TUNING.workers } })
  t.equal(await writesDuring(api, async () => {
    await waitFor(() => allHold(api, namespaces, () => expectedConfig(shared('v1'))), 'the fill', 60_000)
  }), 500, 'initial fill: 500 creates')
  t.equal(await writesDuring(api, async () => {
    api.apply(credentialSecret({ name: 'platform-mirror', tenant: null, auths: shared('v2') }) as KubeObject)
    await waitFor(() => allHold(api, namespaces, () => expectedConfig(shared('v2'))), 'the rotation', 60_000)
  }), 500, 'shared source rotated: 500 updates')
})
