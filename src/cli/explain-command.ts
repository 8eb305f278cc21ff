// `pullguard explain [MANIFEST | -]`: why this Pod (or the Pods of this workload) would get credentials
// and `Always`, or be denied, against the cluster in --objects (offline) or --kubeconfig (live,
// read-only). The decision is the webhook's own; see src/cluster/explain-report.ts.

import { readFile } from 'node:fs/promises'
import { text } from 'node:stream/consumers'
import type { SecretObject } from '../admission/credentials.js'
import { parseAdmissionReview } from '../admission/envelope.js'
import type { AdmissionOptions } from '../admission/options.js'
import type { ClusterModel } from '../cluster/cluster-model.js'
import { explain, type Explanation } from '../cluster/explain-report.js'
import { ManifestError, StaticClusterView } from '../cluster/static-view.js'
import { modelOf } from '../cluster/status-report.js'
import { admissionOptionsOf, ConfigError } from '../config/config.js'
import { writeAll, type CliIo } from './cli-io.js'
import { KUBECONFIG_FLAG, OUTPUT_FLAG, parseInspectCommandLine, type InspectFlag } from './inspect-flags.js'
import { createReviewOf, parseManifest, podInputOf } from './pod-input.js'
import { table } from './table.js'

export const EXPLAIN_EXIT = { explained: 0, failure: 1, usage: 2 } as const

// each API call; explain must end even when the API server hangs
const CALL_TIMEOUT_MS = 10_000

export const EXPLAIN_FLAGS: readonly InspectFlag[] = [
  OUTPUT_FLAG,
  KUBECONFIG_FLAG,
  { name: 'namespace', short: 'n', kind: 'string', help: 'namespace of a manifest without metadata.namespace' }
]

export async function runExplain (argv: string[], io: CliIo): Promise<number> {
  const { config, flags, positionals } = parseInspectCommandLine('explain', EXPLAIN_FLAGS, 1, argv, io.env)
  const kubeconfig = flags.kubeconfig as string | undefined
  if ((kubeconfig === undefined) === (config.objects.length === 0)) {
    throw new ConfigError(['explain needs either --objects FILE (offline) or --kubeconfig FILE (live)'])
  }
  const options = admissionOptionsOf(config)
  const file = positionals[0] === '-' ? undefined : positionals[0]
  const where = file ?? 'stdin'

  let input: string
  try {
    input = file === undefined ? await text(io.stdin) : await readFile(file, 'utf8')
  } catch (error) {
    return fail(io, `${where}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`, EXPLAIN_EXIT.failure)
  }
  const manifest = parseManifest(input)
  if (!manifest.ok) return fail(io, `${where}: ${manifest.error}`, EXPLAIN_EXIT.usage)
  const pod = podInputOf(manifest.value, flags.namespace as string | undefined)
  if (!pod.ok) return fail(io, `${where}: ${pod.error}`, EXPLAIN_EXIT.usage)
  const review = parseAdmissionReview(createReviewOf(pod.value))
  if (!review.ok || review.review.request === undefined) return fail(io, `${where}: ${review.ok ? 'no request' : review.error}`, EXPLAIN_EXIT.usage)

  let cluster: { model: ClusterModel, secrets: SecretObject[] }
  try {
    cluster = kubeconfig === undefined ? await offline(config.objects, options) : await live(kubeconfig, options)
  } catch (error) {
    return fail(io, error instanceof ManifestError ? `objects file ${error.message}` : (error as Error).message, EXPLAIN_EXIT.failure)
  }
  const explanation = explain({ request: review.review.request, ...cluster, options })
  const out = flags.output === 'json' ? `${JSON.stringify(explanation, null, 2)}\n` : renderExplanation(explanation, pod.value.origin, options)
  await writeAll(io.stdout, out)
  return EXPLAIN_EXIT.explained
}

// The same view `review` decides against, so both commands give one answer for one manifest.
async function offline (files: readonly string[], options: AdmissionOptions): Promise<{ model: ClusterModel, secrets: SecretObject[] }> {
  const view = await StaticClusterView.fromFiles(files, options)
  return { model: view.model, secrets: [...view.secrets.values()] }
}

async function live (kubeconfig: string, options: AdmissionOptions): Promise<{ model: ClusterModel, secrets: SecretObject[] }> {
  // client-node (~75 MB) only for live mode
  const { loadKubeConfig } = await import('../cluster/live/kube-client.js')
  const { readLiveStatus } = await import('../cluster/live/status-reading.js')
  const reading = await readLiveStatus({
    kubeConfig: loadKubeConfig({ file: kubeconfig }).kubeConfig,
    credentialsNamespace: options.credentialsNamespace,
    managedSecretName: options.managedSecretName,
    timeoutMs: CALL_TIMEOUT_MS,
    now: () => new Date()
  })
  return { model: modelOf(reading.namespaces, reading.secrets, options), secrets: reading.secrets }
}

export function renderExplanation (explanation: Explanation, origin: string, options: AdmissionOptions): string {
  const { tenant } = explanation
  const sections: string[] = []
  const whose = tenant === undefined
    ? `namespace ${explanation.namespace} is not in the cluster view (tenant unknown)`
    : tenant === null
      ? `namespace ${explanation.namespace} is not a tenant (no ${options.tenantLabel} label)`
      : `namespace ${explanation.namespace}, tenant ${tenant}, credentials: ${explanation.credentialSources.length === 0 ? 'none' : explanation.credentialSources.join(', ')}`
  sections.push(`${origin}: ${whose}`)
  sections.push(table(['WHERE', 'IMAGE', 'CREDENTIALS FROM', 'FOREIGN', 'PULL POLICY', 'EXEMPT'], explanation.images.map(image => [
    image.where,
    image.repository === undefined ? `${image.image} (invalid reference)` : image.image,
    image.coveredBy.length === 0 ? 'none' : image.coveredBy.map(key => `${key.source} ${key.key} (${key.standing})`).join(', '),
    image.foreign === undefined ? '-' : `${image.foreign.owner} (${image.foreign.scope})`,
    image.policyBefore === image.policyAfter ? `${image.policyBefore} (kept)` : `${image.policyBefore} -> ${image.policyAfter}`,
    image.exempt ? 'yes' : 'no'
  ])))
  const secret = explanation.managedSecret
  sections.push(`managed Secret ${options.managedSecretName}: ${secret === undefined ? 'none kept here' : `${secret.state} (${secret.detail})`}`)
  sections.push(explanation.patch.length === 0
    ? 'patch: none'
    : ['patch:', ...explanation.patch.map(op => `  ${op.op} ${op.path} ${JSON.stringify(op.value)}`)].join('\n'))
  if (explanation.warnings.length > 0) sections.push(['warnings:', ...explanation.warnings.map(w => `  - ${w}`)].join('\n'))
  const { verdict } = explanation
  sections.push(`verdict: ${verdict.allowed ? `allowed (${verdict.decision}: ${verdict.reason})` : `denied: ${verdict.message ?? verdict.reason}`}`)
  return `${sections.join('\n\n')}\n`
}

function fail (io: CliIo, message: string, code: number): number {
  io.stderr.write(`pullguard: ${message}\n`)
  return code
}
