// Convergence with the production pacing: how long the live view's projector takes to bring every
// managed Secret in line after a change, run as `pullguard serve` runs it (the built LiveClusterView,
// no tuning overrides: 4 workers, 50 calls/s with a burst of 100, a 2 s settle delay) against the
// API double in this process. The times show the controller's own pacing and this machine's CPU, not
// a real apiserver's latency, so each row also carries the floor the pacing allows and the CPU time
// spent. Next to each time, the Secret writes the change cost, from the double's request log; each
// should equal the namespaces it concerns. Used to be wall-clock asserts in the convergence test.

import { Registry } from 'prom-client'
import type * as Config from '../src/config/config.js'
import type * as LiveView from '../src/cluster/live/live-view.js'
import type * as ProjectorModule from '../src/cluster/live/projector.js'
import type { LiveClusterViewOptions } from '../src/cluster/live/live-view.js'
import { ApiDouble, type KubeObjectInput, type RequestRecord, type StartedApiDouble } from '../test/support/api-double.ts'
import { DEFAULT_ADMISSION_OPTIONS, ReviewService, createLogger, load } from './dist.ts'
import { copy, loadReview, podOf } from './fixtures.ts'
import { quantile, round } from './stats.ts'

const { LiveClusterView } = await load<typeof LiveView>('cluster/live/live-view.js')
const { DEFAULT_PROJECTOR_TUNING } = await load<typeof ProjectorModule>('cluster/live/projector.js')
const { DEFAULT_CONFIG } = await load<typeof Config>('config/config.js')

export interface ConvergenceConfig {
  /** tenant namespaces of the paced scenarios, spread round-robin over the tenants */
  namespaces: number
  tenants: number
  /** namespaces labelled one at a time after the fill, each timed to its Secret */
  labelTrials: number
  /** namespaces filled and rotated with the pacing lifted */
  unpacedNamespaces: number
}

export type ScenarioId = 'fill' | 'labelled' | 'shared-rotation' | 'tenant-rotation' | 'repair' | 'review-new-namespace' |
  'unpaced-fill' | 'unpaced-rotation'

export interface ConvergenceRow {
  id: ScenarioId
  what: string
  pacing: 'production' | 'unpaced'
  /** namespaces whose managed Secret the change concerns: the writes it should cost */
  namespaces: number
  /** change → every concerned Secret exact (with trials: the median) */
  ms: number
  /** with trials: each one, and the slowest */
  trialsMs?: number[]
  maxMs?: number
  /**
   * the least time the pacing allows: the token bucket at one call per write, from the state the
   * scenario leaves it in (full, or just emptied), or the settle delay; absent where neither binds
   */
  pacingFloorMs?: number
  /** CPU time of this whole process (view, double, polling) over the timed span: low means starved */
  processCpuMs: number
  /** successful create/update/patch/delete on Secrets from the change until the next scenario began */
  writes: number
}

export interface ConvergenceResult {
  /** the projector tuning of the paced rows (the production defaults, read from dist/) */
  tuning: { workers: number, callsPerSecond: number, callBurst: number, settleDelayMs: number }
  /** the unpaced rows' call rate and burst */
  unpacedCallsPerSecond: number
  resyncSeconds: number
  /** the wait before the last scenario's writes are counted */
  quietMs: number
  tenants: number
  rows: ConvergenceRow[]
}

const OPTIONS = DEFAULT_ADMISSION_OPTIONS
const SECRET = OPTIONS.managedSecretName
const UNPACED_CALLS_PER_SECOND = 100_000
const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete'])
// Generous: a timeout means a bug or a stuck machine, and the error says which scenario.
const CONVERGENCE_TIMEOUT_MS = 60_000
// How often convergence is checked; the checks run in this process, beside the view they wait on.
const POLL_MS = 1
// After the last scenario, long enough for a settle-delay recheck to write if it were going to.
const QUIET_MS = DEFAULT_PROJECTOR_TUNING.settleDelayMs + 500

export async function runConvergence (config: ConvergenceConfig, log: (line: string) => void): Promise<ConvergenceResult> {
  const { workers, callsPerSecond, callBurst, settleDelayMs } = DEFAULT_PROJECTOR_TUNING
  const paced = await pacedScenarios(config, log)
  const unpaced = await unpacedScenarios(config.unpacedNamespaces, log)
  return {
    tuning: { workers, callsPerSecond, callBurst, settleDelayMs },
    unpacedCallsPerSecond: UNPACED_CALLS_PER_SECOND,
    resyncSeconds: DEFAULT_CONFIG.resyncSeconds,
    quietMs: QUIET_MS,
    tenants: config.tenants,
    rows: [...paced, ...unpaced]
  }
}

/** The old convergence test's scenario, in its order: each step starts from the state the last left. */
async function pacedScenarios ({ namespaces: count, tenants, labelTrials }: ConvergenceConfig, log: (line: string) => void): Promise<ConvergenceRow[]> {
  // tenants t1, t3 and t7 play parts below
  if (tenants < 8 || count < tenants) throw new Error(`convergence: needs at least 8 tenants and a namespace each, got ${tenants} tenants and ${count} namespaces`)
  const { callsPerSecond, callBurst, settleDelayMs } = DEFAULT_PROJECTOR_TUNING
  const fromFullBucketMs = (writes: number): number => Math.max(0, writes - callBurst) / callsPerSecond * 1000
  const api = new ApiDouble({ historyLimit: 10_000 })
  const started = await api.start()
  const scenarios = new Scenarios(api, 'production', log)
  // Built before the clock starts (no I/O until start()), so the finally can always stop it.
  const view = liveView(started)
  try {
    api.create(namespaceObject(OPTIONS.credentialsNamespace))
    for (let tenant = 0; tenant < tenants; tenant++) api.create(credentialSecret(`t${tenant}-registry`, `t${tenant}`, ownAuths(tenant)))
    api.create(credentialSecret('platform-mirror', null, sharedAuths('v1')))
    const tenantOf = new Map<string, number>()
    const filled = Array.from({ length: count }, (_, i) => `tenant-${i % tenants}-ns-${i}`)
    filled.forEach((ns, i) => {
      tenantOf.set(ns, i % tenants)
      api.create(namespaceObject(ns, `t${i % tenants}`))
    })
    const rotated = { 'registry.t7.example': auth('t7', 'pw-2') }
    /** what every Secret holds once the shared source is at `version` (and t7's, once rotated) */
    const content = (version: string, t7Rotated = false) => (ns: string): string => {
      const tenant = tenantOf.get(ns) as number
      return dockerConfig({ ...(tenant === 7 && t7Rotated ? rotated : ownAuths(tenant)), ...sharedAuths(version) })
    }

    await scenarios.run('fill', `initial fill, ${count} namespaces (start → every Secret exact)`, count, fromFullBucketMs(count), async () => {
      view.start()
      await waitUntilAll(api, filled, content('v1'), 'the initial fill')
    })

    // Created already labelled, the informer's event is what starts the projector; one at a time.
    const late = Array.from({ length: labelTrials }, (_, i) => `late-${i}`)
    scenarios.open('labelled', `namespace labelled → its Secret exists (${labelTrials} trials)`, labelTrials)
    for (const ns of late) {
      tenantOf.set(ns, 3)
      await scenarios.time(async () => {
        api.create(namespaceObject(ns, 't3'))
        await waitUntilAll(api, [ns], content('v1'), `${ns}'s Secret`)
      })
    }
    scenarios.report()
    // The fill spent the burst: start the rotation from a full bucket, as after any quiet spell.
    await sleep(callBurst / callsPerSecond * 1000)

    const every = [...filled, ...late]
    await scenarios.run('shared-rotation', `shared source rotated → all ${every.length} copies updated (from a full bucket)`, every.length, fromFullBucketMs(every.length), async () => {
      api.apply(credentialSecret('platform-mirror', null, sharedAuths('v2')))
      await waitUntilAll(api, every, content('v2'), 'the shared rotation')
    })

    // Right after the shared rotation, as in the old test: the bucket is empty again.
    const t7 = filled.filter(ns => tenantOf.get(ns) === 7)
    await scenarios.run('tenant-rotation', `one tenant's source rotated → its ${t7.length} copies updated`, t7.length, t7.length / callsPerSecond * 1000, async () => {
      api.apply(credentialSecret('t7-registry', 't7', rotated))
      await waitUntilAll(api, t7, content('v2', true), 'the tenant rotation')
    })

    const repaired = filled[0] as string
    await scenarios.run('repair', `managed copy deleted by someone → recreated (${settleDelayMs} ms settle delay included)`, 1, settleDelayMs, async () => {
      api.remove('Secret', repaired, SECRET)
      await waitUntilAll(api, [repaired], content('v2', true), 'the repair')
    })

    // A Pod in a namespace created a moment ago: the lookup (unless the watch was faster) and the
    // admission-time ensure, through the same ReviewService and timeouts serve uses.
    const service = new ReviewService(view, OPTIONS, {
      namespaceLookupTimeoutMs: DEFAULT_CONFIG.namespaceLookupTimeoutMs,
      ensureTimeoutMs: DEFAULT_CONFIG.ensureTimeoutMs
    })
    const fresh = 'brand-new'
    tenantOf.set(fresh, 1)
    const review = reviewIn(fresh)
    let ensured: string | undefined
    await scenarios.run('review-new-namespace', 'namespace created, then a Pod review at once → answered with the Secret ensured', 1, undefined, async () => {
      api.create(namespaceObject(fresh, 't1'))
      ensured = (await service.review(review, LOGGER)).summary.secret
    })
    if (ensured !== 'created' && ensured !== 'unchanged') throw new Error(`review in a new namespace: the Secret was not ensured (${ensured ?? 'no ensure'})`)
    if (!holds(api, fresh, content('v2', true))) throw new Error('review in a new namespace: answered, but its Secret is not exact')
    return await scenarios.close()
  } finally {
    await view.stop()
    await api.close()
  }
}

/** One shared source, `count` namespaces of a tenant each, the workers with the token bucket out of the way. */
async function unpacedScenarios (count: number, log: (line: string) => void): Promise<ConvergenceRow[]> {
  const api = new ApiDouble({ historyLimit: 10_000 })
  const started = await api.start()
  const scenarios = new Scenarios(api, 'unpaced', log)
  const workers = DEFAULT_PROJECTOR_TUNING.workers
  const size = count.toLocaleString('en')
  const view = liveView(started, { callsPerSecond: UNPACED_CALLS_PER_SECOND, callBurst: UNPACED_CALLS_PER_SECOND })
  try {
    api.create(namespaceObject(OPTIONS.credentialsNamespace))
    api.create(credentialSecret('platform-mirror', null, sharedAuths('v1')))
    const namespaces = Array.from({ length: count }, (_, i) => `big-${i}`)
    for (const ns of namespaces) api.create(namespaceObject(ns, `t${ns}`))

    await scenarios.run('unpaced-fill', `initial fill, ${size} namespaces, ${workers} workers, unpaced`, count, undefined, async () => {
      view.start()
      await waitUntilAll(api, namespaces, () => dockerConfig(sharedAuths('v1')), 'the unpaced fill')
    })
    await scenarios.run('unpaced-rotation', `shared source rotated → ${size} copies updated, ${workers} workers, unpaced`, count, undefined, async () => {
      api.apply(credentialSecret('platform-mirror', null, sharedAuths('v2')))
      await waitUntilAll(api, namespaces, () => dockerConfig(sharedAuths('v2')), 'the unpaced rotation')
    })
    return await scenarios.close()
  } finally {
    await view.stop()
    await api.close()
  }
}

interface OpenScenario {
  head: Pick<ConvergenceRow, 'id' | 'what' | 'pacing' | 'namespaces' | 'pacingFloorMs'>
  /** index of the first request in the double's log that belongs to it */
  from: number
  trialsMs: number[]
  cpuUs: number
}

/**
 * The scenarios in order, each timed (once, or over trials), with the successful Secret writes it
 * cost from the double's request log. A scenario's write window runs until the next one opens, so a
 * late extra write still counts against the change that caused it; the last closes after a quiet
 * spell, once every request has been answered.
 */
class Scenarios {
  private readonly scenarios: OpenScenario[] = []
  private readonly api: ApiDouble
  private readonly pacing: ConvergenceRow['pacing']
  private readonly log: (line: string) => void

  constructor (api: ApiDouble, pacing: ConvergenceRow['pacing'], log: (line: string) => void) {
    this.api = api
    this.pacing = pacing
    this.log = log
  }

  /** opens the scenario, times the change once and prints it */
  async run (id: ScenarioId, what: string, namespaces: number, pacingFloorMs: number | undefined, change: () => Promise<void>): Promise<void> {
    this.open(id, what, namespaces, pacingFloorMs)
    await this.time(change)
    this.report()
  }

  open (id: ScenarioId, what: string, namespaces: number, pacingFloorMs?: number): void {
    const head = { id, what, pacing: this.pacing, namespaces, ...(pacingFloorMs !== undefined && { pacingFloorMs: round(pacingFloorMs, 1) }) }
    this.scenarios.push({ head, from: this.api.requests.length, trialsMs: [], cpuUs: 0 })
  }

  /** one timed trial of the open scenario: wall time and this process's CPU time */
  async time (change: () => Promise<void>): Promise<void> {
    const current = this.current()
    const cpu = process.cpuUsage()
    const startedAt = performance.now()
    await change()
    current.trialsMs.push(performance.now() - startedAt)
    const used = process.cpuUsage(cpu)
    current.cpuUs += used.user + used.system
  }

  report (): void {
    const { head, trialsMs } = this.current()
    this.log(`convergence: ${head.what}: ${trialsMs.map(ms => Math.round(ms)).join(', ')} ms`)
  }

  async close (): Promise<ConvergenceRow[]> {
    await sleep(QUIET_MS)
    const requests = this.api.requests
    return this.scenarios.map(({ head, from, trialsMs, cpuUs }, i) => {
      const to = this.scenarios[i + 1]?.from ?? requests.length
      const sorted = Float64Array.from(trialsMs).sort()
      return {
        ...head,
        ms: round(quantile(sorted, 0.5), 1),
        ...(trialsMs.length > 1 && { trialsMs: trialsMs.map(ms => round(ms, 1)), maxMs: round(sorted.at(-1) as number, 1) }),
        processCpuMs: round(cpuUs / 1000, 1),
        writes: requests.slice(from, to).filter(isSecretWrite).length
      }
    })
  }

  private current (): OpenScenario {
    const current = this.scenarios.at(-1)
    if (current === undefined) throw new Error('no scenario open')
    return current
  }
}

function isSecretWrite (r: RequestRecord): boolean {
  return WRITE_VERBS.has(r.verb) && r.resource === 'secrets' && r.status !== undefined && r.status < 300
}

// Warnings (a failed ensure, a lost watch) go to stderr with the progress lines, not into the table.
const LOGGER = createLogger({ level: 'warn', destination: process.stderr })

/** the live view as serve builds it, not started: production tuning unless overridden here */
function liveView (started: StartedApiDouble, projector?: LiveClusterViewOptions['projector']): InstanceType<typeof LiveClusterView> {
  return new LiveClusterView({
    kubeConfig: started.kubeConfig(),
    options: OPTIONS,
    logger: LOGGER,
    registry: new Registry(),
    resyncSeconds: DEFAULT_CONFIG.resyncSeconds,
    ...(projector !== undefined && { projector })
  })
}

/**
 * Polls until every namespace's Secret holds its expected bytes. Namespaces already exact are not
 * looked at again (nothing else writes here), so a poll stops at the first one still behind and
 * costs little beside the view; a last full pass confirms the whole set.
 */
async function waitUntilAll (api: ApiDouble, namespaces: readonly string[], expected: (ns: string) => string, what: string): Promise<void> {
  const deadline = performance.now() + CONVERGENCE_TIMEOUT_MS
  let next = 0
  for (;;) {
    while (next < namespaces.length && holds(api, namespaces[next] as string, expected)) next++
    if (next === namespaces.length) break
    if (performance.now() > deadline) throw new Error(`convergence: timed out after ${CONVERGENCE_TIMEOUT_MS} ms waiting for ${what} (${next} of ${namespaces.length} exact)`)
    await sleep(POLL_MS)
  }
  const behind = namespaces.filter(ns => !holds(api, ns, expected))
  if (behind.length > 0) throw new Error(`convergence: ${what}: ${behind.length} Secrets changed again after being exact, e.g. ${behind[0]}`)
}

function holds (api: ApiDouble, ns: string, expected: (ns: string) => string): boolean {
  const data = (api.get('Secret', ns, SECRET) as { data?: Record<string, string> } | undefined)?.data?.['.dockerconfigjson']
  return data !== undefined && Buffer.from(data, 'base64').toString('utf8') === expected(ns)
}

// -- the cluster's objects, written independently of pullguard's code --------------------------

const auth = (user: string, password: string): { auth: string } => ({ auth: Buffer.from(`${user}:${password}`).toString('base64') })
const ownAuths = (tenant: number): Record<string, { auth: string }> => ({ [`registry.t${tenant}.example`]: auth(`t${tenant}`, 'pw') })
const sharedAuths = (password: string): Record<string, { auth: string }> => ({ 'mirror.platform.example': auth('mirror', password) })

/** the dockerconfigjson bytes pullguard must write for these merged auths (keys sorted) */
function dockerConfig (auths: Record<string, unknown>): string {
  return JSON.stringify({ auths: Object.fromEntries(Object.keys(auths).sort().map(key => [key, auths[key]])) })
}

function namespaceObject (name: string, tenant?: string): KubeObjectInput {
  const labels = tenant === undefined ? undefined : { [OPTIONS.tenantLabel]: tenant, 'kubernetes.io/metadata.name': name }
  const metadata = { name, ...(labels !== undefined && { labels }) }
  return { apiVersion: 'v1', kind: 'Namespace', metadata }
}

/** tenant: that tenant's source; null: shared with every tenant */
function credentialSecret (name: string, tenant: string | null, auths: Record<string, unknown>): KubeObjectInput & Record<string, unknown> {
  const labels = tenant === null ? { [OPTIONS.sharedLabel]: 'true' } : { [OPTIONS.tenantLabel]: tenant }
  const metadata = { name, namespace: OPTIONS.credentialsNamespace, labels }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata,
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths })).toString('base64') }
  }
}

/** the committed Pod CREATE review, moved into `namespace` */
function reviewIn (namespace: string): ReturnType<typeof loadReview> {
  const review = copy(loadReview())
  const request = review.request as NonNullable<typeof review.request>
  request.namespace = namespace
  const pod = podOf(review)
  if (pod.metadata !== undefined) pod.metadata.namespace = namespace
  return review
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
