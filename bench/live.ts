// Live mode at scale: the built `pullguard serve --kubeconfig` against the in-test Kubernetes API
// server double (test/support/api-double.ts, in this process), seeded with a synthetic cluster whose
// managed Secrets already hold exactly what pullguard would write, so the server syncs its informer
// caches and then has nothing to project. Measured on the server process: time from spawn to /readyz
// 200, RSS (and peak RSS) once ready, after a settling pause, and after a run of Pod CREATE reviews
// over HTTPS, the reviews' latency, and every request the server made to the API (the double's log).

import { Agent, request } from 'node:https'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type * as CredentialStateModule from '../src/cluster/credential-state.js'
import type * as ManagedSecret from '../src/cluster/managed-secret.js'
import type { AdmissionReview } from '../src/admission/types.js'
import type { SecretObject } from '../src/admission/credentials.js'
import { ApiDouble, type RequestRecord } from '../test/support/api-double.ts'
import { HOST, IMAGE_NODE_FLAGS, cpuSecondsOf, freePort, rssBytesOf, spawnNode, stopChild, waitForHttps } from './children.ts'
import { CLI_PATH, DEFAULT_ADMISSION_OPTIONS, load } from './dist.ts'
import { CREDENTIALS_NAMESPACE, loadReview, reviewInNamespace, syntheticCluster, type ClusterSize } from './fixtures.ts'
import { quantile, round } from './stats.ts'

const { CredentialState } = await load<typeof CredentialStateModule>('cluster/credential-state.js')
const { managedSecretObject } = await load<typeof ManagedSecret>('cluster/managed-secret.js')

export interface LiveConfig {
  sizes: readonly ClusterSize[]
  /** Pod CREATE reviews sent one after another over one keep-alive connection, spread over the namespaces */
  reviews: number
  /** pause after /readyz before the idle reading (the first projector pass runs, the heap settles) */
  settleSec: number
  cli?: string
}

export interface LiveRow extends ClusterSize {
  /** objects seeded into the double */
  seeded: { namespaces: number, credentialSecrets: number, managedSecrets: number }
  /** spawn → first /readyz 200 (polled every 50 ms, a fresh TLS connection each) */
  readyMs: number
  /** the server's CPU (user + system) from spawn to ready: steadier than readyMs on a busy machine */
  cpuSecToReady: number
  rssAtReadyBytes: number
  /** after settleSec more seconds idle */
  rssIdleBytes: number
  rssAfterReviewsBytes: number
  /** VmHWM at the end: the most the process ever held (startup lists included) */
  rssPeakBytes: number
  /** at the very end, after a full GC forced through the inspector: what the process really retains */
  afterGc: { rssBytes: number, heapUsedBytes: number, heapTotalBytes: number, externalBytes: number } | undefined
  reviews: number
  latencyMs: { p50: number, p90: number, p99: number, max: number }
  /** the server's CPU while the reviews ran, per review (TLS, HTTP, decision and GC) */
  cpuUsPerReview: number
  /** API requests from spawn to the idle reading (lists, watches, and writes if the content differed) */
  startupRequests: RequestSummary
  /** API requests while the reviews ran: steady state, should be none */
  reviewRequests: RequestSummary
}

export interface RequestSummary {
  total: number
  writes: number
  /** get/list: reads that are not watches */
  reads: number
  watches: number
  byVerb: Record<string, number>
}

export interface LiveResult {
  rows: LiveRow[]
  settleSec: number
}

const READY_TIMEOUT_MS = 180_000
const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete'])
/** sent before the measured reviews, unrecorded (their CPU is in cpuUsPerReview) */
const WARM_UP_REVIEWS = 20

export async function runLive (config: LiveConfig, dir: string, log: (line: string) => void): Promise<LiveResult> {
  const rows: LiveRow[] = []
  for (const size of config.sizes) rows.push(await measureSize(size, config, dir, log))
  return { rows, settleSec: config.settleSec }
}

async function measureSize (size: ClusterSize, config: LiveConfig, dir: string, log: (line: string) => void): Promise<LiveRow> {
  const label = `${size.namespaces.toLocaleString('en')} ns / ${size.tenants.toLocaleString('en')} tenants`
  const cluster = syntheticCluster(size, 42, { allOptedIn: true })
  // Bookmarks at about the apiserver's pace, not the double's test default of one a second.
  const api = new ApiDouble({ bookmarkIntervalMs: 60_000 })
  const started = await api.start()
  try {
    const seeded = seed(api, cluster.objects, cluster.tenantNamespaces)
    const kubeconfig = await started.writeKubeconfig(dir)
    api.clearRequests()
    log(`live ${label}: seeded ${seeded.namespaces} namespaces, ${seeded.credentialSecrets} credential and ${seeded.managedSecrets} managed Secrets`)

    const port = await freePort()
    const args = ['serve', '--kubeconfig', kubeconfig, '--host', HOST, '--port', String(port), '--metrics-port', String(await freePort()), '--log-level', 'warn',
      '--shutdown-delay-seconds', '0']
    // The inspector only listens (no session) until the very end, when it forces a GC for the last reading.
    const inspectPort = await freePort()
    const spawnedAt = performance.now()
    const child = spawnNode(`pullguard live ${size.namespaces}`, config.cli ?? CLI_PATH, args, { nodeFlags: [...IMAGE_NODE_FLAGS, `--inspect=${HOST}:${inspectPort}`] })
    try {
      await waitForHttps(child, port, '/readyz', READY_TIMEOUT_MS)
      const readyMs = performance.now() - spawnedAt
      const cpuSecToReady = cpuSecondsOf(child.pid) ?? Number.NaN
      const rssAtReadyBytes = rssBytesOf(child.pid) ?? Number.NaN
      await sleep(config.settleSec * 1000)
      const rssIdleBytes = rssBytesOf(child.pid) ?? Number.NaN
      const startupRequests = summarise(api.requests)
      log(`live ${label}: ready in ${Math.round(readyMs)} ms, ${Math.round(rssIdleBytes / 2 ** 20)} MB idle; ${startupRequests.total} API requests (${startupRequests.writes} writes)`)

      api.clearRequests()
      const cpuBeforeReviews = cpuSecondsOf(child.pid) ?? Number.NaN
      const latencies = await sendReviews(port, cluster, config.reviews)
      const cpuUsPerReview = ((cpuSecondsOf(child.pid) ?? Number.NaN) - cpuBeforeReviews) * 1e6 / (WARM_UP_REVIEWS + latencies.length)
      const reviewRequests = summarise(api.requests)
      const rssAfterReviewsBytes = rssBytesOf(child.pid) ?? Number.NaN
      const rssPeakBytes = peakRssOf(child.pid) ?? Number.NaN
      const afterGc = await collectedMemory(inspectPort).catch((error: unknown) => {
        log(`live ${label}: no reading after GC: ${(error as Error).message}`)
        return undefined
      })
      const sorted = Float64Array.from(latencies).sort()
      return {
        ...size,
        seeded,
        readyMs: Math.round(readyMs),
        cpuSecToReady: round(cpuSecToReady, 2),
        rssAtReadyBytes,
        rssIdleBytes,
        rssAfterReviewsBytes,
        rssPeakBytes,
        afterGc,
        reviews: latencies.length,
        latencyMs: { p50: round(quantile(sorted, 0.5), 3), p90: round(quantile(sorted, 0.9), 3), p99: round(quantile(sorted, 0.99), 3), max: round(sorted.at(-1) ?? Number.NaN, 3) },
        cpuUsPerReview: round(cpuUsPerReview, 1),
        startupRequests,
        reviewRequests
      }
    } finally {
      const code = await stopChild(child)
      if (code !== 0 && code !== null) log(`live ${label}: server exited with ${code}: ${child.stderr().trim().slice(-500)}`)
    }
  } finally {
    await api.close()
  }
}

/**
 * Namespaces and credential Secrets as generated, then every tenant namespace's managed Secret with
 * the content pullguard computes (the built CredentialState and managedSecretObject), so the first
 * projector pass finds nothing to write.
 */
function seed (api: ApiDouble, objects: readonly object[], tenantNamespaces: ReadonlyArray<{ namespace: string, tenant: string }>): LiveRow['seeded'] {
  const options = DEFAULT_ADMISSION_OPTIONS
  const credentials: SecretObject[] = []
  let namespaces = 0
  // Namespaces first: a Secret's namespace must exist. apply() drops the generated resourceVersions.
  for (const obj of objects) {
    if ((obj as { kind?: string }).kind === 'Namespace') {
      api.apply(obj)
      namespaces++
    }
  }
  for (const obj of objects) {
    const secret = obj as SecretObject & { kind?: string }
    if (secret.kind !== 'Secret') continue
    api.apply(obj)
    if (secret.metadata?.namespace === CREDENTIALS_NAMESPACE) credentials.push(secret)
  }
  if (options.credentialsNamespace !== CREDENTIALS_NAMESPACE) throw new Error(`the fixtures put credentials in ${CREDENTIALS_NAMESPACE}, pullguard reads ${options.credentialsNamespace}`)
  const state = CredentialState.build(credentials, options)
  let managedSecrets = 0
  for (const { namespace, tenant } of tenantNamespaces) {
    const merged = state.credentialsOf(tenant)
    if (merged === undefined) continue
    api.apply(managedSecretObject({ namespace, name: options.managedSecretName, tenant, dockerConfigJson: merged.dockerConfigJson, contentHash: merged.contentHash }, options.tenantLabel))
    managedSecrets++
  }
  return { namespaces, credentialSecrets: credentials.length, managedSecrets }
}

/** One review at a time over one keep-alive TLS connection; each answer checked; wall ms per review. */
async function sendReviews (port: number, cluster: ReturnType<typeof syntheticCluster>, count: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false })
  const base = loadReview()
  const stride = cluster.tenantNamespaces.length / count
  const bodies = Array.from({ length: count }, (_, i) => {
    const review = reviewInNamespace(cluster, Math.floor(i * stride), base)
    return { uid: review.request?.uid, body: Buffer.from(JSON.stringify(review)) }
  })
  // warm the connection and the JIT on a few, unrecorded
  for (const { uid, body } of bodies.slice(0, WARM_UP_REVIEWS)) await post(agent, port, body, uid)
  const latencies: number[] = []
  try {
    for (const { uid, body } of bodies) {
      const start = performance.now()
      await post(agent, port, body, uid)
      latencies.push(performance.now() - start)
    }
  } finally {
    agent.destroy()
  }
  return latencies
}

async function post (agent: Agent, port: number, body: Buffer, uid: string | undefined): Promise<void> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = request({ host: HOST, port, path: '/mutate', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, res => {
      let answer = ''
      res.setEncoding('utf8').on('data', (chunk: string) => { answer += chunk })
      res.on('end', () => {
        if (res.statusCode === 200) resolve(answer)
        else reject(new Error(`POST /mutate: ${res.statusCode ?? '?'} ${answer}`))
      })
    })
    req.on('error', reject)
    req.end(body)
  })
  const answer = JSON.parse(text) as AdmissionReview
  const foreign = answer.response?.auditAnnotations?.['foreign-registry'] ?? ''
  // as in the scale phase: patched, and exactly the other tenant's image flagged
  if (answer.response?.uid !== uid || answer.response?.patch === undefined || foreign.split(',').length !== 1 || !foreign.includes('/worker:')) {
    throw new Error(`unexpected live answer: ${text.slice(0, 500)}`)
  }
}

function summarise (records: readonly RequestRecord[]): RequestSummary {
  const byVerb: Record<string, number> = {}
  for (const r of records) byVerb[r.verb] = (byVerb[r.verb] ?? 0) + 1
  const count = (verbs: (verb: string) => boolean): number => records.filter(r => verbs(r.verb)).length
  return {
    total: records.length,
    writes: count(v => WRITE_VERBS.has(v)),
    reads: count(v => v === 'get' || v === 'list'),
    watches: count(v => v === 'watch'),
    byVerb
  }
}

/** Through the inspector: HeapProfiler.collectGarbage, then process.memoryUsage() in the server. */
async function collectedMemory (inspectPort: number): Promise<LiveRow['afterGc']> {
  const targets = await (await fetch(`http://${HOST}:${inspectPort}/json/list`)).json() as Array<{ webSocketDebuggerUrl: string }>
  const url = targets[0]?.webSocketDebuggerUrl
  if (url === undefined) throw new Error('no inspector target')
  const ws = new WebSocket(url)
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject })
  const pending = new Map<number, (result: unknown) => void>()
  ws.onmessage = (event: MessageEvent) => {
    const message = JSON.parse(String(event.data)) as { id?: number, result?: unknown }
    if (message.id !== undefined) pending.get(message.id)?.(message.result)
  }
  let nextId = 0
  const call = async (method: string, params: object = {}): Promise<unknown> => await new Promise(resolve => {
    const id = ++nextId
    pending.set(id, resolve)
    ws.send(JSON.stringify({ id, method, params }))
  })
  try {
    await call('HeapProfiler.collectGarbage')
    await call('HeapProfiler.collectGarbage')
    const result = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true }) as { result?: { value?: string } }
    const usage = JSON.parse(result.result?.value ?? '{}') as NodeJS.MemoryUsage
    return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed, heapTotalBytes: usage.heapTotal, externalBytes: usage.external }
  } finally {
    ws.close()
  }
}

function peakRssOf (pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? undefined : Number(match[1]) * 1024
  } catch {
    return undefined
  }
}
