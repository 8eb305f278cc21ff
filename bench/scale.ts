// Scale: the decision's cost and the view's memory as the cluster grows. The decision must not scan
// namespaces, tenants or credentials per review, so its cost at 10,000 namespaces / 1,000 tenants should
// match the cost at 10 / 10. Memory is read in a fresh process per size (scale-rss.ts).

import type { AdmissionRequest } from '../src/admission/types.js'
import { spawnNode, jsonResultOf } from './children.ts'
import { DEFAULT_ADMISSION_OPTIONS, StaticClusterView, decide } from './dist.ts'
import { reviewsFor, syntheticCluster, type ClusterSize } from './fixtures.ts'
import type { RssResult } from './scale-rss.ts'
import { interleaved, median, nsPerOp, type Timed } from './stats.ts'

export interface ScaleConfig {
  sizes: readonly ClusterSize[]
  rounds: number
  budgetMs: number
  /** also read memory after one review in every tenant namespace (a second or two at 10,000) */
  reviewEveryNamespace: boolean
}

export interface ScaleRow extends ClusterSize {
  credentialSecrets: number
  credentialKeys: number
  /** building the view from the listed objects (credential merge, registry index) */
  buildMs: number
  /** CPU ns per review: the least of the interleaved rounds */
  nsPerReview: number
  nsPerReviewMedian: number
  reviewsPerSec: number
  /** ns/review relative to the smallest size */
  relative: number
  memory: RssResult
}

export interface ScaleResult {
  rows: ScaleRow[]
  /** the fresh process with an empty view: Node, the TS loader the bench needs, the project's core */
  emptyProcess: RssResult
  /** ns/review at the largest size ÷ at the smallest */
  costRatio: number
  /** median wall ÷ CPU time of the rounds: 1 on an idle machine */
  contention: number
}

// Enough distinct namespaces that a run does not sit on one hot map entry.
const REVIEWS_PER_SIZE = 64
const SCRIPT = new URL('scale-rss.ts', import.meta.url).pathname

export async function runScale (config: ScaleConfig): Promise<ScaleResult> {
  const prepared = config.sizes.map(size => {
    const cluster = syntheticCluster(size)
    const start = performance.now()
    const view = new StaticClusterView(cluster.objects, DEFAULT_ADMISSION_OPTIONS)
    const buildMs = performance.now() - start
    const requests = reviewsFor(cluster, REVIEWS_PER_SIZE).map(review => review.request as AdmissionRequest)
    for (const request of requests) checkDecision(request, view, size)
    return { size, cluster: { credentialSecrets: cluster.credentialSecrets, credentialKeys: cluster.credentialKeys }, view, buildMs, requests }
  })

  const cases: Timed[] = prepared.map(({ size, view, requests }) => {
    const snapshot = view.snapshot()
    let next = 0
    const one = (): unknown => decide(requests[next++ % REVIEWS_PER_SIZE] as AdmissionRequest, snapshot, DEFAULT_ADMISSION_OPTIONS)
    return { name: label(size), run: budgetMs => nsPerOp(one, budgetMs) }
  })
  const timings = await interleaved(cases, config.rounds, config.budgetMs)

  // Fresh processes, all at once: a process's memory does not depend on what else runs (its buildMs does,
  // which is why the table's build time comes from this process).
  const [emptyProcess, ...memories] = await Promise.all([{ namespaces: 0, tenants: 0 }, ...config.sizes].map(async size => await memoryOf(size, config.reviewEveryNamespace))) as [RssResult, ...RssResult[]]
  const rows: ScaleRow[] = prepared.map(({ size, cluster, buildMs }, i) => {
    const ns = timings.get(label(size))?.best ?? Number.NaN
    return {
      ...size,
      ...cluster,
      buildMs,
      nsPerReview: ns,
      nsPerReviewMedian: timings.get(label(size))?.median ?? Number.NaN,
      reviewsPerSec: 1e9 / ns,
      relative: Number.NaN,
      memory: memories[i] as RssResult
    }
  })
  const smallest = rows[0]?.nsPerReview ?? Number.NaN
  for (const row of rows) row.relative = row.nsPerReview / smallest
  return {
    rows,
    emptyProcess,
    costRatio: (rows.at(-1)?.nsPerReview ?? Number.NaN) / smallest,
    contention: median([...timings.values()].map(t => t.contention))
  }
}

function label ({ namespaces, tenants }: ClusterSize): string {
  return `${namespaces} ns / ${tenants} tenants`
}

async function memoryOf ({ namespaces, tenants }: ClusterSize, reviews: boolean): Promise<RssResult> {
  const args = [String(namespaces), String(tenants), ...reviews ? [] : ['--no-reviews']]
  const child = spawnNode(`scale-rss ${namespaces}`, SCRIPT, args, { nodeFlags: ['--expose-gc'], captureStdout: true })
  return await jsonResultOf<RssResult>(child, 120_000)
}

/** The reviews must exercise what they claim: own and shared images covered, one foreign image flagged. */
function checkDecision (request: AdmissionRequest, view: InstanceType<typeof StaticClusterView>, size: ClusterSize): void {
  const { response, summary } = decide(request, view.snapshot(), DEFAULT_ADMISSION_OPTIONS)
  const foreign = response.auditAnnotations?.['foreign-registry'] ?? ''
  const ok = summary.decision === 'patched' && response.patch !== undefined &&
    foreign.split(',').length === 1 && foreign.includes('/worker:')
  if (!ok) throw new Error(`${label(size)}: unexpected decision for namespace ${request.namespace ?? '?'}: ${JSON.stringify(response)}`)
}
