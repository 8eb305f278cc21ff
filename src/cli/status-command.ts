// `pullguard status`: is everything pullguard keeps in order? Offline from manifests (--objects) or
// live (--kubeconfig: one list of each collection, never a watch or a write). Exits STATUS_EXIT.attention
// when something needs an admin, so a CronJob or a CI step can alert on it.

import { X509Certificate } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import type { SecretObject } from '../admission/credentials.js'
import { isObject } from '../admission/envelope.js'
import type { NamespaceObject } from '../cluster/cluster-model.js'
import { ManifestError, readManifestFile } from '../cluster/static-view.js'
import { statusReport, type CertificateReading, type InputReading, type LeaseObject, type StatusInput } from '../cluster/status-report.js'
import { ConfigError } from '../config/config.js'
import { writeAll, type CliIo } from './cli-io.js'
import { KUBECONFIG_FLAG, OUTPUT_FLAG, parseInspectCommandLine, type InspectFlag } from './inspect-flags.js'
import { renderStatusTable } from './status-output.js'

export const STATUS_EXIT = {
  /** nothing needs attention */
  ok: 0,
  /** the cluster (or a file) could not be read */
  failure: 1,
  usage: 2,
  /** read fine, and something needs attention: the report's `attention` says what */
  attention: 4
} as const

export const DEFAULT_CERTIFICATE_WARNING_DAYS = 14
// the chart's Secrets for release name `pullguard`, one per TLS mode (charts/pullguard: `<fullname>-helm-tls`,
// `<fullname>-cert-manager-tls`): the first that exists is the one served
export const DEFAULT_TLS_SECRET = 'pullguard-helm-tls,pullguard-cert-manager-tls'
// serve's defaults (config.ts): the Lease's name, in the credentials namespace unless POD_NAMESPACE said otherwise
const DEFAULT_LEASE_NAME = 'pullguard'
// each API call; a CronJob must end even when the API server hangs
const CALL_TIMEOUT_MS = 10_000

export const STATUS_FLAGS: readonly InspectFlag[] = [
  OUTPUT_FLAG,
  KUBECONFIG_FLAG,
  { name: 'leader-election-namespace', kind: 'string', help: 'namespace of the Lease (default: the credentials namespace)' },
  { name: 'leader-election-lease-name', kind: 'string', default: DEFAULT_LEASE_NAME, help: 'name of the Lease' },
  { name: 'tls-cert', kind: 'string', help: 'the webhook\'s PEM certificate file to check (live default: the chart\'s TLS Secret)' },
  { name: 'tls-secret', kind: 'string', default: DEFAULT_TLS_SECRET, help: 'live: [NAMESPACE/]NAME[,NAME...] of the kubernetes.io/tls Secret the webhook serves, the first that exists (namespace: the Lease\'s)' },
  { name: 'certificate-warning-days', kind: 'string', default: String(DEFAULT_CERTIFICATE_WARNING_DAYS), help: 'a certificate expiring within this many days needs attention' }
]

export async function runStatus (argv: string[], io: CliIo, now: () => Date = () => new Date()): Promise<number> {
  const { config, flags } = parseInspectCommandLine('status', STATUS_FLAGS, 0, argv, io.env)
  const kubeconfig = flags.kubeconfig as string | undefined
  const problems: string[] = []
  if ((kubeconfig === undefined) === (config.objects.length === 0)) problems.push('status needs either --objects FILE (offline) or --kubeconfig FILE (live)')
  const warningDays = Number(flags['certificate-warning-days'])
  if (!Number.isInteger(warningDays) || warningDays < 0) problems.push('--certificate-warning-days: must be a whole number of days, 0 or more')
  if (problems.length > 0) throw new ConfigError(problems)

  const options = {
    tenantLabel: config.tenantLabel,
    sharedLabel: 'pullguard.dev/shared',
    credentialsNamespace: config.credentialsNamespace,
    managedSecretName: config.managedSecretName,
    publicRegistries: config.publicRegistries
  }
  const lease = { namespace: (flags['leader-election-namespace'] as string | undefined) ?? config.credentialsNamespace, name: flags['leader-election-lease-name'] as string }
  const tlsCert = flags['tls-cert'] as string | undefined

  let reading: Pick<StatusInput, 'namespaces' | 'secrets' | 'lease' | 'inputs' | 'notes' | 'certificate'>
  try {
    reading = kubeconfig === undefined
      ? await readObjects(config.objects, lease, now)
      : await readLive(kubeconfig, options, lease, flags['tls-secret'] as string, tlsCert, now)
  } catch (error) {
    if (error instanceof ManifestError) io.stderr.write(`pullguard: objects file ${error.message}\n`)
    else io.stderr.write(`pullguard: ${(error as Error).message}\n`)
    return STATUS_EXIT.failure
  }
  if (tlsCert !== undefined) reading.certificate = await certificateFromFile(tlsCert)

  const report = statusReport({ ...reading, leaseName: `${lease.namespace}/${lease.name}`, now: now(), certificateWarningDays: warningDays, options })
  const text = flags.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderStatusTable(report, options.managedSecretName)
  await writeAll(io.stdout, text)
  return report.attention.length === 0 ? STATUS_EXIT.ok : STATUS_EXIT.attention
}

async function readObjects (files: readonly string[], lease: { namespace: string, name: string }, now: () => Date): Promise<Awaited<ReturnType<typeof readLive>>> {
  const namespaces: NamespaceObject[] = []
  const secrets: SecretObject[] = []
  const inputs: InputReading[] = []
  let leaseObject: LeaseObject | undefined
  for (const file of files) {
    const objects = await readManifestFile(file)
    const { mtime } = await stat(file)
    inputs.push({ name: 'objects', from: file, readAt: now(), asOf: mtime })
    for (const object of objects) {
      if (!isObject(object)) continue
      const metadata = isObject(object.metadata) ? object.metadata : {}
      if (object.apiVersion === 'v1' && object.kind === 'Namespace') namespaces.push(object as NamespaceObject)
      else if (object.apiVersion === 'v1' && object.kind === 'Secret') secrets.push(object as SecretObject)
      else if (object.apiVersion === 'coordination.k8s.io/v1' && object.kind === 'Lease' &&
        metadata.name === lease.name && metadata.namespace === lease.namespace) leaseObject = object as LeaseObject
    }
  }
  // the rule standalone mode applies: no Namespace, no tenant to report on
  if (namespaces.length === 0) throw new ManifestError(files.join(', '), 'holds no Namespace: pullguard finds tenants by their label on Namespaces; add them (kubectl get namespaces -o yaml)')
  return {
    namespaces,
    secrets,
    lease: leaseObject ?? { notChecked: `no Lease ${lease.namespace}/${lease.name} in the objects files (add kubectl get lease -n ${lease.namespace} ${lease.name} -o yaml)` },
    inputs,
    notes: ['offline: the managed Secrets as the files hold them (serve --objects keeps its copies in memory only)'],
    certificate: { kind: 'not-checked', reason: 'offline: pass --tls-cert FILE to check the webhook certificate' }
  }
}

async function readLive (kubeconfig: string, options: { credentialsNamespace: string, managedSecretName: string }, lease: { namespace: string, name: string },
  tlsSecret: string, tlsCert: string | undefined, now: () => Date): Promise<Pick<StatusInput, 'namespaces' | 'secrets' | 'lease' | 'inputs' | 'notes' | 'certificate'>> {
  // client-node (~75 MB) only for live mode
  const { loadKubeConfig } = await import('../cluster/live/kube-client.js')
  const { readLiveStatus } = await import('../cluster/live/status-reading.js')
  const [secretNamespace, secretNames] = tlsSecret.includes('/') ? tlsSecret.split('/', 2) as [string, string] : [lease.namespace, tlsSecret]
  const reading = await readLiveStatus({
    kubeConfig: loadKubeConfig({ file: kubeconfig }).kubeConfig,
    credentialsNamespace: options.credentialsNamespace,
    managedSecretName: options.managedSecretName,
    lease,
    ...(tlsCert === undefined && { tlsSecret: { namespace: secretNamespace, names: secretNames.split(',').filter(name => name !== '') } }),
    timeoutMs: CALL_TIMEOUT_MS,
    now
  })
  const tls = reading.tlsCertificate
  const certificate: CertificateReading = tls === undefined
    ? { kind: 'not-checked', reason: 'read from --tls-cert' }
    : 'pem' in tls ? certificateOf(tls.pem, `Secret ${secretNamespace}/${tls.secret}`) : { kind: 'unreadable', source: `Secret ${secretNamespace}/${secretNames}`, reason: tls.reason }
  return {
    ...reading,
    notes: ['live: listed from the API server just now; each replica\'s own cache age is pullguard_cache_age_seconds on its /metrics'],
    certificate
  }
}

async function certificateFromFile (file: string): Promise<CertificateReading> {
  let pem: string
  try {
    pem = await readFile(file, 'utf8')
  } catch (error) {
    return { kind: 'unreadable', source: file, reason: `cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})` }
  }
  return certificateOf(pem, file)
}

/** the leaf (first) certificate of a PEM bundle */
function certificateOf (pem: string, source: string): CertificateReading {
  try {
    const certificate = new X509Certificate(pem)
    return { kind: 'read', source, subject: certificate.subject.replace(/\n/g, ', '), notAfter: certificate.validToDate }
  } catch (error) {
    return { kind: 'unreadable', source, reason: `certificate does not parse: ${(error as Error).message}` }
  }
}
