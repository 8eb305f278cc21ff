// Memory of one cluster view, measured in a fresh process so that nothing else the bench allocated
// is counted. Run with --expose-gc: the heap is collected before each reading.
//
//   node --expose-gc bench/scale-rss.ts NAMESPACES TENANTS [--no-reviews]   → one JSON result on stdout
//
// NAMESPACES 0 builds an empty view: the process's own footprint (Node, the project's modules).

import { DEFAULT_ADMISSION_OPTIONS, ReviewService, StaticClusterView, createLogger } from './dist.ts'
import { loadReview, reviewInNamespace, syntheticCluster } from './fixtures.ts'

export interface MemoryReading {
  rssBytes: number
  heapUsedBytes: number
  externalBytes: number
}

export interface RssResult {
  namespaces: number
  tenants: number
  buildMs: number
  /** the view built, the listed objects dropped (an informer would hold them instead) */
  afterBuild: MemoryReading
  /** after one Pod CREATE in every tenant namespace: the standalone view keeps every managed Secret */
  afterReviews: MemoryReading | undefined
}

function collect (): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) return
  gc()
  gc()
}

function reading (): MemoryReading {
  collect()
  const usage = process.memoryUsage()
  return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed, externalBytes: usage.external }
}

async function measure (namespaces: number, tenants: number, reviews: boolean): Promise<RssResult> {
  if (namespaces === 0) {
    const start = performance.now()
    const view = new StaticClusterView([], DEFAULT_ADMISSION_OPTIONS)
    const buildMs = performance.now() - start
    const afterBuild = reading()
    if (view.snapshot() === undefined) throw new Error('no snapshot')
    return { namespaces, tenants, buildMs, afterBuild, afterReviews: undefined }
  }
  const cluster = syntheticCluster({ namespaces, tenants })
  const start = performance.now()
  const view = new StaticClusterView(cluster.objects, DEFAULT_ADMISSION_OPTIONS)
  const buildMs = performance.now() - start
  cluster.objects.length = 0
  const afterBuild = reading()
  if (!reviews) return { namespaces, tenants, buildMs, afterBuild, afterReviews: undefined }

  const service = new ReviewService(view, DEFAULT_ADMISSION_OPTIONS)
  const log = createLogger({ level: 'silent' })
  // one review at a time: the reading should show what the view keeps, not the reviews' garbage
  const base = loadReview()
  for (let i = 0; i < cluster.tenantNamespaces.length; i++) await service.review(reviewInNamespace(cluster, i, base), log)
  return { namespaces, tenants, buildMs, afterBuild, afterReviews: reading() }
}

if (import.meta.main) {
  const [namespaces, tenants] = process.argv.slice(2).map(Number)
  if (namespaces === undefined || tenants === undefined || Number.isNaN(namespaces) || Number.isNaN(tenants)) {
    throw new Error('usage: scale-rss.ts NAMESPACES TENANTS')
  }
  process.stdout.write(JSON.stringify(await measure(namespaces, tenants, !process.argv.includes('--no-reviews'))))
}
