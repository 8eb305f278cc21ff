// `pullguard review --objects FILE < review.json`: the whole decision path without a server, for
// scripts, CI checks of a policy change, and debugging a surprising admission.

import { text } from 'node:stream/consumers'
import { pino } from 'pino'
import { parseAdmissionReview } from '../admission/envelope.js'
import { StaticClusterView } from '../cluster/static-view.js'
import { admissionOptionsOf, loadConfig } from '../config/config.js'
import { createLogger } from '../logging.js'
import { ReviewService } from '../review-service.js'
import { logStandaloneSummary } from './startup-summary.js'

export class UsageError extends Error {}

export async function runReview (argv: string[]): Promise<number> {
  const { config } = loadConfig('review', argv, process.env)
  if (config.objects.length === 0) {
    throw new UsageError('review needs --objects FILE (the Namespaces and Secrets to decide against)')
  }
  // stdout carries the answer, so logs go to stderr.
  const logger = createLogger({ level: config.logLevel, destination: pino.destination({ dest: 2, sync: true }) })
  const options = admissionOptionsOf(config)
  const view = await StaticClusterView.fromFiles(config.objects, options)
  logStandaloneSummary(logger, view)

  let body: unknown
  try {
    body = JSON.parse(await text(process.stdin))
  } catch (error) {
    process.stderr.write(`pullguard: stdin is not valid JSON: ${(error as Error).message}\n`)
    return 2
  }
  const parsed = parseAdmissionReview(body)
  if (!parsed.ok) {
    process.stderr.write(`pullguard: stdin is not an AdmissionReview: ${parsed.error}\n`)
    return 2
  }
  const outcome = await new ReviewService(view, options).review(parsed.review, logger)
  logger.info({ ...outcome.summary, uid: parsed.review.request?.uid }, 'review')
  // No process.exit here: returning lets a large answer drain fully into a pipe.
  await new Promise<void>((resolve, reject) => {
    process.stdout.write(`${JSON.stringify(outcome.response)}\n`, error => error != null ? reject(error) : resolve())
  })
  return 0
}
