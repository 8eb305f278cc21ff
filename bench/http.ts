// Over the wire: pullguard against the limit (a bare node:https server), and pullguard's latency at a
// fixed rate. Every server is a child process of its own; the load generator is another child, so the
// bench process itself only waits. Servers are loaded one at a time, in alternating order (A B, B A, …),
// and each is summarised by its median run: a burst of load from elsewhere on the machine then lands on
// both sides rather than on one.
//
// Two figures per run: requests/s (what the issue's bar is about) and the server's CPU time per request
// (from /proc), which depends far less on how much of the machine the server got. On 2 cores the
// client takes most of one core; if the server's CPU share is well under 100 % in a run, that run's
// req/s measured the machine, and the CPU figure is the one to trust. CPU per request also falls as the
// rate rises (more work per wake-up), which is why the latency runs compare both servers at one rate.

import { readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { join } from 'node:path'
import type { AdmissionReview } from '../src/admission/types.js'
import {
  HOST, IMAGE_NODE_FLAGS, freePort, jsonResultOf, rssBytesOf, spawnNode, stopChild, waitForHttps, type NodeChild
} from './children.ts'
import { CLI_PATH } from './dist.ts'
import { EXAMPLE_CLUSTER_FILE, loadReview } from './fixtures.ts'
import type { LoadConfig, MaxResult, PacedResult } from './load-client.ts'
import { median } from './stats.ts'

const LOAD_CLIENT = new URL('load-client.ts', import.meta.url).pathname
const BASELINE_SERVER = new URL('baseline-server.ts', import.meta.url).pathname
const MUTATE_PATH = '/mutate'
const READY_TIMEOUT_MS = 30_000

export interface HttpConfig {
  connections: number
  /** once per server, before the first measured run */
  warmupSec: number
  /** before every measured run (connections are new each run) */
  runWarmupSec: number
  durationSec: number
  rounds: number
  /** also measure pullguard with --log-level info, the shipped default */
  infoLogging: boolean
  /** the build served as "pullguard"; default this checkout's dist/cli/main.js */
  cli?: string
  /** other builds' CLIs (dist/cli/main.js of copies) measured in the same rotation, for A/B of changes */
  candidateClis?: readonly string[]
  /** per candidate, by position: Node flags added to the image's */
  candidateNodeFlags?: ReadonlyArray<readonly string[]>
  latency: { rate: number, warmupSec: number, durationSec: number, baselineDurationSec: number }
}

export interface ServerSummary {
  medianRps: number
  /** server CPU microseconds per request, median over runs */
  cpuUsPerRequest: number
  /** share of one core the server used while loaded, median over runs */
  serverCpuShare: number
  runs: Array<MaxResult & { round: number, cpuUsPerRequest: number | undefined }>
}

export interface ThroughputResult {
  connections: number
  requestBytes: number
  answerBytes: number
  servers: Record<string, ServerSummary>
  /** pullguard ÷ baseline req/s: median of the per-round ratios */
  ratio: number
  /** pullguard ÷ baseline req/s, of the two medians */
  ratioOfMedians: number
  /** baseline ÷ pullguard CPU per request: about the req/s ratio if each had a core to itself */
  cpuRatio: number
  /** pullguard serve, standalone example cluster: right after start, and after the load */
  pullguardRssBytes: { idle: number | undefined, afterLoad: number | undefined }
}

export interface LatencyResult {
  connections: number
  pullguard: PacedResult
  baseline: PacedResult | undefined
}

export interface HttpResult {
  throughput: ThroughputResult
  latency: LatencyResult
}

export interface Server {
  name: string
  child: NodeChild
  port: number
}

/** The review as the API server sends it (compact JSON), in a file for the load client. */
export function writeReviewBody (dir: string): string {
  const bodyFile = join(dir, 'review.json')
  writeFileSync(bodyFile, JSON.stringify(loadReview()))
  return bodyFile
}

/** pullguard's answer to that review, which the baseline sends back at the same size. */
export function writeAnswer (dir: string, answer: { text: string }): string {
  const answerFile = join(dir, 'answer.json')
  writeFileSync(answerFile, answer.text)
  return answerFile
}

export async function runHttp (config: HttpConfig, dir: string, log: (line: string) => void): Promise<HttpResult> {
  const servers: Server[] = []
  try {
    const review = loadReview()
    const bodyFile = writeReviewBody(dir)
    const cli = config.cli ?? CLI_PATH
    const pullguard = await startPullguard('pullguard', cli, 'warn')
    servers.push(pullguard)
    const idleRss = rssBytesOf(pullguard.child.pid)
    const answer = await answerOf(pullguard.port, bodyFile, review)
    const answerFile = writeAnswer(dir, answer)

    const baseline = await startBaseline(answerFile)
    servers.push(baseline)
    const baselineAnswer = await answerOf(baseline.port, bodyFile, review)
    if (Buffer.byteLength(baselineAnswer.text) !== Buffer.byteLength(answer.text)) throw new Error('the baseline answers a different size')

    const rotation: Server[] = [pullguard, baseline]
    if (config.infoLogging) rotation.push(await startPullguard('pullguard (log info)', cli, 'info'))
    for (const [i, candidate] of (config.candidateClis ?? []).entries()) {
      const nodeFlags = [...config.candidateNodeFlags?.[i] ?? []]
      const name = `candidate ${i + 1}${nodeFlags.length > 0 ? ` (${nodeFlags.join(' ')})` : ''}`
      rotation.push(await startPullguard(name, candidate, 'warn', nodeFlags))
    }
    servers.push(...rotation.slice(2))

    const max = async (server: Server, warmupSec: number, durationSec: number): Promise<MaxResult> =>
      await load<MaxResult>({ mode: 'max', port: server.port, path: MUTATE_PATH, bodyFile, connections: config.connections, warmupSec, durationSec, serverPid: server.child.pid })

    for (const server of rotation) {
      log(`warm-up ${server.name} (${config.warmupSec} s)`)
      await max(server, 0, config.warmupSec)
    }
    const runs = new Map<string, ServerSummary['runs']>(rotation.map(s => [s.name, []]))
    for (let round = 0; round < config.rounds; round++) {
      // A B C, then B C A, …: no server always goes first
      for (let i = 0; i < rotation.length; i++) {
        const server = rotation[(i + round) % rotation.length] as Server
        const result = await max(server, config.runWarmupSec, config.durationSec)
        if (result.errors > 0 || result.non2xx > 0) throw new Error(`${server.name}: ${result.errors} errors, ${result.non2xx} non-2xx answers under load`)
        const cpuUsPerRequest = result.serverCpuSec === undefined ? undefined : result.serverCpuSec * 1e6 / result.requests
        runs.get(server.name)?.push({ ...result, round, cpuUsPerRequest })
        log(`round ${round + 1}/${config.rounds} ${server.name}: ${Math.round(result.rps)} req/s` +
          (cpuUsPerRequest === undefined ? '' : `, ${cpuUsPerRequest.toFixed(1)} µs CPU/req`))
      }
    }
    const afterLoadRss = rssBytesOf(pullguard.child.pid)

    const summaries: Record<string, ServerSummary> = {}
    for (const [name, list] of runs) {
      summaries[name] = {
        medianRps: median(list.map(r => r.rps)),
        cpuUsPerRequest: median(list.flatMap(r => r.cpuUsPerRequest ?? [])),
        serverCpuShare: median(list.flatMap(r => r.serverCpuSec === undefined ? [] : r.serverCpuSec / r.durationSec)),
        runs: list
      }
    }
    const pg = runs.get('pullguard') ?? []
    const base = runs.get('baseline') ?? []
    const perRound = pg.map((run, i) => run.rps / (base[i]?.rps ?? Number.NaN))
    const pgSummary = summaries.pullguard as ServerSummary
    const baseSummary = summaries.baseline as ServerSummary
    const throughput: ThroughputResult = {
      connections: config.connections,
      requestBytes: Buffer.byteLength(readFileSync(bodyFile)),
      answerBytes: Buffer.byteLength(answer.text),
      servers: summaries,
      ratio: median(perRound),
      ratioOfMedians: pgSummary.medianRps / baseSummary.medianRps,
      cpuRatio: baseSummary.cpuUsPerRequest / pgSummary.cpuUsPerRequest,
      pullguardRssBytes: { idle: idleRss, afterLoad: afterLoadRss }
    }

    const paced = async (server: Server, durationSec: number): Promise<PacedResult> => await load<PacedResult>({
      mode: 'paced',
      port: server.port,
      path: MUTATE_PATH,
      bodyFile,
      connections: config.connections,
      rate: config.latency.rate,
      warmupSec: config.latency.warmupSec,
      durationSec,
      serverPid: server.child.pid
    })
    log(`latency: pullguard at ${config.latency.rate} req/s for ${config.latency.durationSec} s`)
    const latency: LatencyResult = { connections: config.connections, pullguard: await paced(pullguard, config.latency.durationSec), baseline: undefined }
    if (config.latency.baselineDurationSec > 0) {
      log(`latency: baseline at ${config.latency.rate} req/s for ${config.latency.baselineDurationSec} s`)
      latency.baseline = await paced(baseline, config.latency.baselineDurationSec)
    }
    return { throughput, latency }
  } finally {
    for (const server of servers) await stopChild(server.child)
  }
}

/** `pullguard serve` on the standalone example cluster, as a user would start it. */
export async function startPullguard (name: string, cli: string, logLevel: string, nodeFlags: string[] = []): Promise<Server> {
  const port = await freePort()
  const args = [
    'serve', '--objects', EXAMPLE_CLUSTER_FILE, '--host', HOST, '--port', String(port),
    '--metrics-port', String(await freePort()), '--log-level', logLevel,
    // nothing to drain between phases: the 5 s default only slows each stop
    '--shutdown-delay-seconds', '0'
  ]
  return await startServer(name, cli, args, port, [...IMAGE_NODE_FLAGS, ...nodeFlags])
}

export async function startBaseline (answerFile: string, nodeFlags: string[] = []): Promise<Server> {
  const port = await freePort()
  return await startServer('baseline', BASELINE_SERVER, [String(port), answerFile], port, nodeFlags)
}

async function startServer (name: string, script: string, args: string[], port: number, nodeFlags: string[]): Promise<Server> {
  const child = spawnNode(name, script, args, { nodeFlags })
  try {
    await waitForHttps(child, port, '/healthz', READY_TIMEOUT_MS)
  } catch (error) {
    await stopChild(child)
    throw error
  }
  return { name, child, port }
}

export async function load<T> (config: LoadConfig): Promise<T> {
  const child = spawnNode('load client', LOAD_CLIENT, [JSON.stringify(config)], { captureStdout: true })
  return await jsonResultOf<T>(child, (config.warmupSec + config.durationSec) * 1000 + 60_000)
}

/** One review, checked: 200, the uid and apiVersion echoed, a patch. Returns the answer's text. */
export async function answerOf (port: number, bodyFile: string, review: AdmissionReview): Promise<{ text: string }> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = request({
      host: HOST, port, path: MUTATE_PATH, method: 'POST', rejectUnauthorized: false, agent: false,
      headers: { 'content-type': 'application/json' }
    }, res => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk })
      res.on('end', () => {
        if (res.statusCode === 200) resolve(body)
        else reject(new Error(`POST ${MUTATE_PATH}: ${res.statusCode ?? '?'} ${body}`))
      })
    })
    req.on('error', reject)
    req.end(readFileSync(bodyFile))
  })
  const answer = JSON.parse(text) as AdmissionReview
  if (answer.apiVersion !== review.apiVersion || answer.response?.uid !== review.request?.uid || answer.response?.patch === undefined) {
    throw new Error(`unexpected answer: ${text}`)
  }
  return { text }
}
