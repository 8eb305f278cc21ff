// Shared setup for the live-mode tests: an API double seeded with tenants and credentials, and a
// LiveClusterView talking to it through the real client, with timings shrunk so tests stay fast.

import { createHash } from 'node:crypto'
import type { Test } from 'tap'
import { DEFAULT_ADMISSION_OPTIONS, type AdmissionOptions } from '../../src/admission/options.js'
import { LiveClusterView, type LiveClusterViewOptions } from '../../src/cluster/live/live-view.js'
import { createMetrics, type Metrics } from '../../src/server/metrics.js'
import { captureLog, type CapturedLog } from '../server/log-capture.js'
import { ApiDouble, POLL_DEADLINE_MS, waitFor, type ApiDoubleOptions, type KubeObject, type StartedApiDouble } from '../support/api-double.js'
import { auth, credentialSecret, namespace } from '../support/cluster.js'

export { waitFor }
export const OPTIONS: AdmissionOptions = DEFAULT_ADMISSION_OPTIONS
export const SECRET = OPTIONS.managedSecretName

/** retry and restart delays in tens of milliseconds, no write pacing: tests measure logic, not patience */
export const FAST: Pick<LiveClusterViewOptions, 'informers' | 'projector' | 'resyncSeconds'> = {
  resyncSeconds: 60,
  // above the double's 1 s bookmark interval: a quiet, healthy watch stays fresh
  informers: { listTimeoutMs: 2000, restartBaseDelayMs: 20, restartMaxDelayMs: 200, staleAfterMs: 2500 },
  projector: { retryBaseDelayMs: 10, retryMaxDelayMs: 200, callTimeoutMs: 1000, callsPerSecond: 10_000, callBurst: 10_000, settleDelayMs: 50, staleRecheckMs: 20 }
}

export async function startApi (t: Test, options?: ApiDoubleOptions): Promise<{ api: ApiDouble, started: StartedApiDouble }> {
  const api = new ApiDouble(options)
  const started = await api.start()
  t.teardown(() => api.close())
  return { api, started }
}

export const ACME_AUTHS = { 'registry.acme.example': auth('acme', 'pw-acme') }
export const GLOBEX_AUTHS = { 'ghcr.io/globex': auth('globex', 'pw-globex') }
export const MIRROR_AUTHS = { 'mirror.platform.example': auth('mirror', 'pw-mirror') }

/** credentials namespace; acme (team-a) and globex (team-b) with own sources; initech (sandbox) with none; default */
export function seed (api: ApiDouble, { shared = false }: { shared?: boolean } = {}): void {
  for (const object of [
    namespace(OPTIONS.credentialsNamespace),
    namespace('team-a', 'acme'),
    namespace('team-b', 'globex'),
    namespace('sandbox', 'initech'),
    namespace('default'),
    credentialSecret({ name: 'acme-registry', tenant: 'acme', auths: ACME_AUTHS }),
    credentialSecret({ name: 'globex-ghcr', tenant: 'globex', auths: GLOBEX_AUTHS }),
    ...(shared ? [credentialSecret({ name: 'platform-mirror', tenant: null, auths: MIRROR_AUTHS })] : [])
  ]) api.create(object as KubeObject)
}

export interface LiveHarness {
  view: LiveClusterView
  log: CapturedLog
  metrics: Metrics
}

export function startView (t: Test, started: StartedApiDouble, overrides: Partial<LiveClusterViewOptions> = {}): LiveHarness {
  const log = overrides.logger === undefined ? captureLog('debug') : undefined
  const logger = overrides.logger ?? log!.logger
  const metrics = createMetrics({ defaultMetrics: false })
  const view = new LiveClusterView({
    kubeConfig: started.kubeConfig(),
    options: OPTIONS,
    logger,
    registry: metrics.registry,
    ...FAST,
    ...overrides,
    informers: { ...FAST.informers, ...overrides.informers },
    projector: { ...FAST.projector, ...overrides.projector }
  })
  view.start()
  t.teardown(() => view.stop())
  return { view, log: log ?? captureLog(), metrics }
}

export async function startSyncedView (t: Test, started: StartedApiDouble, overrides: Partial<LiveClusterViewOptions> = {}): Promise<LiveHarness> {
  const harness = startView(t, started, overrides)
  await withTimeout(harness.view.whenSynced(), POLL_DEADLINE_MS, 'the view to sync')
  // Synced is listed; writes also wait for every watch to be open (inputsFresh). A minter on a fake
  // clock rechecks stale inputs only when the test advances it, so tests start from fresh inputs.
  await waitFor(() => harness.view.inputsFresh(), 'every cache to be watching', POLL_DEADLINE_MS)
  return harness
}

export function managedSecret (api: ApiDouble, ns: string): KubeObject | undefined {
  return api.get('Secret', ns, SECRET)
}

/** the decoded .dockerconfigjson of a Secret */
export function dockerConfigOf (secret: KubeObject | undefined): string | undefined {
  const data = (secret as { data?: Record<string, string> } | undefined)?.data?.['.dockerconfigjson']
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8')
}

/** the dockerconfigjson bytes pullguard must write for these merged auths (keys sorted) */
export function expectedConfig (auths: Record<string, unknown>): string {
  const sorted = Object.fromEntries(Object.keys(auths).sort().map(key => [key, auths[key]]))
  return JSON.stringify({ auths: sorted })
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

/** waits until the namespace's managed Secret holds exactly these bytes */
export function waitForConfig (api: ApiDouble, ns: string, config: string, timeoutMs = POLL_DEADLINE_MS): Promise<void> {
  return waitFor(() => dockerConfigOf(managedSecret(api, ns)) === config, `${ns}'s managed secret content`, timeoutMs)
}

export function waitForNoSecret (api: ApiDouble, ns: string, timeoutMs = POLL_DEADLINE_MS): Promise<void> {
  return waitFor(() => managedSecret(api, ns) === undefined, `${ns}'s managed secret to be gone`, timeoutMs)
}

/** one sample of a metric, 0 when absent */
export async function metricValue (metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name)
  if (metric === undefined) throw new Error(`no metric ${name}`)
  const { values } = await metric.get()
  const sample = values.find(v => Object.entries(labels).every(([key, value]) => v.labels[key] === value))
  return sample?.value ?? 0
}

export function withTimeout<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms) })
  ])
}

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** successful writes (create/update/delete answered 2xx) on managed Secrets since the log was cleared */
export function managedWrites (api: ApiDouble): number {
  return api.requests.filter(r => ['create', 'update', 'patch', 'delete'].includes(r.verb) && r.resource === 'secrets' &&
    r.status !== undefined && r.status < 300).length
}

/** polls a metric until the check passes */
export async function waitForMetric (metrics: Metrics, name: string, labels: Record<string, string>, check: (value: number) => boolean, timeoutMs = POLL_DEADLINE_MS): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await metricValue(metrics, name, labels)
    if (check(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${name}${JSON.stringify(labels)}, last ${value}`)
    await sleep(10)
  }
}
