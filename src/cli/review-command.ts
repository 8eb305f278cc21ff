// `pullguard review --objects FILE [MANIFEST]`: the whole decision path without a server, for scripts,
// CI checks of a manifest or a policy change, and debugging a surprising admission. The input is an
// AdmissionReview as the API server sends it, or a Pod or workload manifest as the admin writes it.

import { readFile } from 'node:fs/promises'
import { text } from 'node:stream/consumers'
import { parseAdmissionReview } from '../admission/envelope.js'
import { StaticClusterView } from '../cluster/static-view.js'
import { admissionOptionsOf, loadConfig } from '../config/config.js'
import { createLogger } from '../logging.js'
import { ReviewService } from '../review-service.js'
import { writeAll, type CliIo } from './cli-io.js'
import { EXIT } from './exit-codes.js'
import { createReviewOf, isAdmissionReviewManifest, parseManifest, podInputOf } from './pod-input.js'
import { REVIEW_COMMAND_LINE, type ReviewOutput } from './review-flags.js'
import { renderReview } from './review-output.js'
import { logStandaloneSummary } from './startup-summary.js'

export async function runReview (argv: string[], io: CliIo): Promise<number> {
  const { config, flags, positionals } = loadConfig('review', argv, io.env, REVIEW_COMMAND_LINE)
  const output = flags.output as ReviewOutput
  const namespace = flags.namespace as string | undefined
  const file = positionals[0] === '-' ? undefined : positionals[0]
  // stdout carries the answer, so logs go to stderr (synchronous for files, pipes and terminals on Linux).
  const logger = createLogger({ level: config.logLevel, destination: io.stderr })
  const options = admissionOptionsOf(config)
  const view = await StaticClusterView.fromFiles(config.objects, options)
  logStandaloneSummary(logger, view)

  const where = file ?? 'stdin'
  const input = await readInput(file, io)
  if (!input.ok) return fail(io, `${where}: ${input.error}`)
  const manifest = parseManifest(input.text)
  if (!manifest.ok) return fail(io, `${where}: ${manifest.error}`)
  let body: unknown = manifest.value
  if (isAdmissionReviewManifest(body)) {
    if (namespace !== undefined) return fail(io, '--namespace: does not apply to an AdmissionReview (its request.namespace is reviewed)')
  } else {
    const pod = podInputOf(body, namespace)
    if (!pod.ok) return fail(io, `${where}: ${pod.error}`)
    body = createReviewOf(pod.value)
  }
  const parsed = parseAdmissionReview(body)
  if (!parsed.ok) return fail(io, `${where}: not an AdmissionReview: ${parsed.error}`)

  const outcome = await new ReviewService(view, options).review(parsed.review, logger)
  logger.info({ ...outcome.summary, uid: parsed.review.request?.uid }, 'review')
  const response = outcome.response.response
  const denied = response?.allowed === false
  if (denied) io.stderr.write(`pullguard: denied: ${(response.status?.message ?? 'no reason given').replace(/^pullguard: /, '')}\n`)
  const rendered = renderReview(output, parsed.review, outcome.response)
  if (rendered.note !== undefined) io.stderr.write(`pullguard: ${rendered.note}\n`)
  // No process.exit here: returning lets a large answer drain fully into a pipe.
  if (rendered.stdout !== undefined) await writeAll(io.stdout, rendered.stdout)
  return denied && flags['fail-on-deny'] === true ? EXIT.denied : EXIT.ok
}

async function readInput (file: string | undefined, io: CliIo): Promise<{ ok: true, text: string } | { ok: false, error: string }> {
  if (file !== undefined) {
    try {
      return { ok: true, text: await readFile(file, 'utf8') }
    } catch (error) {
      return { ok: false, error: `cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})` }
    }
  }
  // A person who typed the command without a file would otherwise face a silent wait.
  if (io.stdin.isTTY === true) io.stderr.write('pullguard: reading the manifest from stdin (end with Ctrl-D)\n')
  return { ok: true, text: await text(io.stdin) }
}

function fail (io: CliIo, message: string): number {
  io.stderr.write(`pullguard: ${message}\n`)
  return EXIT.usage
}
