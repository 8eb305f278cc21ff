// Large Pods: one Pod CREATE with thousands of containers whose images are all distinct and all
// reported (not valid references, or in another tenant's registry) — a review anyone who may create
// Pods can send, well under the API server's 3 MB request limit. Two questions: what that one review
// costs, and whether it holds the event loop. A served pullguard answers one review at a time on one
// thread, so while it is busy every other tenant's review waits; with failurePolicy Ignore, a review
// that times out admits its Pod without the pull secret. So the large review goes to `pullguard serve`
// over HTTPS while small reviews (the committed example) are sent one after another on another
// connection, and their latency is the figure: the longest one is about the longest stall.

import { performance } from 'node:perf_hooks'
import { Agent, request } from 'node:https'
import type { AdmissionRequest, AdmissionReview } from '../src/admission/types.js'
import { cpuSecondsOf, HOST, stopChild } from './children.ts'
import { CLI_PATH, DEFAULT_ADMISSION_OPTIONS, StaticClusterView, decide, readManifestFile } from './dist.ts'
import { EXAMPLE_CLUSTER_FILE, loadReview, reviewWithBadImages } from './fixtures.ts'
import { startPullguard } from './http.ts'
import { median } from './stats.ts'

export interface LargePodsConfig {
  containers: readonly number[]
  /** measured rounds per size, after one unmeasured */
  rounds: number
}

export interface LargePodRow {
  containers: number
  reviewBytes: number
  /** decide() in-process: CPU ms of one call, least of the rounds */
  decideMs: number
  answerBytes: number
  warnings: number
  /** the longest audit annotation value, in UTF-8 bytes */
  longestAuditValueBytes: number
  /** over HTTPS: the large review from send to the whole answer, median of the rounds */
  reviewMs: number
  /** the server's CPU time while the large review was in flight (the small ones' share is small), median; /proc ticks */
  serverCpuMs: number | undefined
  /** small reviews sent back to back on another connection while the large one was in flight */
  meanwhile: { reviews: number, p50Ms: number, maxMs: number }
}

export interface LargePodsResult {
  /** a small review's latency with nothing else in flight: the reference for `meanwhile` */
  idleSmallReviewMs: number
  rows: LargePodRow[]
}

const IDLE_SAMPLES = 50

export async function runLargePods (config: LargePodsConfig, log: (line: string) => void): Promise<LargePodsResult> {
  const view = new StaticClusterView(await readManifestFile(EXAMPLE_CLUSTER_FILE), DEFAULT_ADMISSION_OPTIONS)
  const server = await startPullguard('pullguard', CLI_PATH, 'warn')
  // One connection each, kept alive: the small reviews never queue behind the large one in the client.
  const largeAgent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false })
  const smallAgent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false })
  const small = Buffer.from(JSON.stringify(loadReview()))
  try {
    const idle: number[] = []
    for (let i = 0; i < IDLE_SAMPLES + 5; i++) {
      const { ms } = await post(server.port, smallAgent, small)
      if (i >= 5) idle.push(ms)
    }

    const rows: LargePodRow[] = []
    let variant = 0
    for (const count of config.containers) {
      const decideCpuMs: number[] = []
      const reviewMs: number[] = []
      const serverCpuMs: number[] = []
      const meanwhile: number[] = []
      let last: { body: Buffer, answer: string } | undefined
      for (let round = 0; round <= config.rounds; round++) {
        const review = reviewWithBadImages(count, ++variant)
        const cpu = process.cpuUsage()
        decide(review.request as AdmissionRequest, view.snapshot(), DEFAULT_ADMISSION_OPTIONS)
        const { user, system } = process.cpuUsage(cpu)

        // a fresh variant again: the server's parse cache has not seen these either
        const served = reviewWithBadImages(count, ++variant)
        const body = Buffer.from(JSON.stringify(served))
        const cpuBefore = cpuSecondsOf(server.child.pid)
        const large = post(server.port, largeAgent, body)
        let done = false
        void large.then(() => { done = true }, () => { done = true })
        const latencies: number[] = []
        while (!done) latencies.push((await post(server.port, smallAgent, small)).ms)
        const answer = await large
        const cpuAfter = cpuSecondsOf(server.child.pid)
        check(served, answer.text, count)
        if (round === 0) continue // JIT warm-up, connection set-up
        decideCpuMs.push((user + system) / 1000)
        reviewMs.push(answer.ms)
        if (cpuBefore !== undefined && cpuAfter !== undefined) serverCpuMs.push((cpuAfter - cpuBefore) * 1000)
        meanwhile.push(...latencies)
        last = { body, answer: answer.text }
      }
      if (last === undefined) throw new Error('no measured round')
      const response = (JSON.parse(last.answer) as AdmissionReview).response
      const row: LargePodRow = {
        containers: count,
        reviewBytes: last.body.length,
        decideMs: Math.min(...decideCpuMs),
        answerBytes: Buffer.byteLength(last.answer),
        warnings: response?.warnings?.length ?? 0,
        longestAuditValueBytes: Math.max(0, ...Object.values(response?.auditAnnotations ?? {}).map(value => Buffer.byteLength(value))),
        reviewMs: median(reviewMs),
        serverCpuMs: serverCpuMs.length === 0 ? undefined : median(serverCpuMs),
        meanwhile: { reviews: meanwhile.length, p50Ms: median(meanwhile), maxMs: Math.max(...meanwhile) }
      }
      rows.push(row)
      log(`large pod, ${count} containers: decide ${row.decideMs.toFixed(1)} ms CPU, over HTTPS ${row.reviewMs.toFixed(1)} ms` +
        ` (server CPU ${row.serverCpuMs?.toFixed(0) ?? '?'} ms);` +
        ` small reviews meanwhile p50 ${row.meanwhile.p50Ms.toFixed(2)} / max ${row.meanwhile.maxMs.toFixed(1)} ms`)
    }
    return { idleSmallReviewMs: median(idle), rows }
  } finally {
    largeAgent.destroy()
    smallAgent.destroy()
    await stopChild(server.child)
  }
}

async function post (port: number, agent: Agent, body: Buffer): Promise<{ ms: number, text: string }> {
  const started = performance.now()
  return await new Promise((resolve, reject) => {
    const req = request({
      host: HOST, port, path: '/mutate', method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': body.length }
    }, res => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => { chunks.push(chunk) })
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        if (res.statusCode === 200) resolve({ ms: performance.now() - started, text })
        else reject(new Error(`POST /mutate: ${res.statusCode ?? '?'} ${text.slice(0, 200)}`))
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** The large review was answered, not refused: allowed, uid echoed, one patch operation per container at least. */
function check (review: AdmissionReview, text: string, count: number): void {
  const response = (JSON.parse(text) as AdmissionReview).response
  if (response?.uid !== review.request?.uid || response?.allowed !== true || response.patch === undefined) {
    throw new Error(`${count} containers: unexpected answer ${text.slice(0, 300)}`)
  }
  const operations = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as unknown[]
  if (operations.length < count) throw new Error(`${count} containers: only ${operations.length} patch operations`)
}
