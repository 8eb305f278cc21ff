// Shared setup for the server tests: the real review service over the standard static test cluster,
// the app built on it with readiness and draining switchable, and a fresh metrics registry.

import { DEFAULT_ADMISSION_OPTIONS } from '../../src/admission/options.js'
import type { AdmissionReview } from '../../src/admission/types.js'
import { StaticClusterView } from '../../src/cluster/static-view.js'
import type { LogLevel } from '../../src/logging.js'
import { ReviewService } from '../../src/review-service.js'
import { buildApp, type AppDeps } from '../../src/server/app.js'
import { createMetrics, type Metrics } from '../../src/server/metrics.js'
import { podCreateReview, standardCluster } from '../support/cluster.js'
import { captureLog, type CapturedLog } from './log-capture.js'

export { captureLog, type CapturedLog }

export function reviewService (cluster: object[] = standardCluster()): { service: ReviewService, view: StaticClusterView } {
  const view = new StaticClusterView(cluster, DEFAULT_ADMISSION_OPTIONS)
  return { service: new ReviewService(view, DEFAULT_ADMISSION_OPTIONS), view }
}

export interface TestApp {
  app: ReturnType<typeof buildApp>
  metrics: Metrics
  log: CapturedLog
  state: { ready: boolean, draining: boolean }
}

/** The app over the real service; `state` flips readiness and draining as serve.ts would. */
export function testApp (overrides: Partial<AppDeps> & { logLevel?: LogLevel } = {}): TestApp {
  const log = captureLog(overrides.logLevel)
  const metrics = createMetrics({ defaultMetrics: false })
  const state = { ready: true, draining: false }
  const { service } = reviewService()
  const app = buildApp({
    service,
    isReady: () => state.ready,
    isDraining: () => state.draining,
    logger: log.logger,
    metrics,
    ...overrides
  })
  return { app, metrics, log, state }
}

/** A Pod CREATE in team-a (tenant acme): the real service answers it with a patch. */
export function podCreate (uid = 'c5a0d3b2-8e51-4b0c-a9f3-2f6c1d9e7b44'): AdmissionReview {
  const review = podCreateReview()
  if (review.request !== undefined) review.request.uid = uid
  return review
}

export async function counterValue (metrics: Metrics, labels: { operation: string, result: string }): Promise<number> {
  const { values } = await metrics.admissionRequests.get()
  return values.find(v => v.labels.operation === labels.operation && v.labels.result === labels.result)?.value ?? 0
}
