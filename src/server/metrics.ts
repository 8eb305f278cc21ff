// Prometheus metrics: one Registry per process (not prom-client's global one, so tests and embedders
// get their own), and the plain-HTTP /metrics listener. Other modules add their metrics with
// `registers: [metrics.registry]`.

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Logger } from '../logging.js'

/** `rejected`: the envelope was refused with a 4xx; `error`: a bug answered with 500. */
export type AdmissionResult = 'patched' | 'allowed' | 'denied' | 'rejected' | 'error'

export interface Metrics {
  readonly registry: Registry
  readonly admissionRequests: Counter<'operation' | 'result'>
  readonly admissionDuration: Histogram<'operation'>
  readonly tlsReloads: Counter<'result'>
  readonly tlsCertificateExpiry: Gauge
  readonly buildInfo: Gauge<'version' | 'node'>
}

export interface MetricsOptions {
  /** process_* and nodejs_* metrics; off in tests that create many registries */
  defaultMetrics?: boolean
  /** pullguard's version, for pullguard_build_info */
  version?: string
}

export function createMetrics ({ defaultMetrics = true, version = 'unknown' }: MetricsOptions = {}): Metrics {
  const registry = new Registry()
  if (defaultMetrics) collectDefaultMetrics({ register: registry })
  // The usual *_build_info: constant 1, so `count by (version)` shows a rollout's progress.
  const buildInfo = new Gauge({
    name: 'pullguard_build_info',
    help: 'Always 1; the labels say which pullguard version runs on which Node.js',
    labelNames: ['version', 'node'] as const,
    registers: [registry]
  })
  buildInfo.set({ version, node: process.version }, 1)
  return {
    buildInfo,
    registry,
    admissionRequests: new Counter({
      name: 'pullguard_admission_requests_total',
      help: 'AdmissionReviews received on /mutate, by operation and outcome (rejected = refused with 4xx, error = 500)',
      labelNames: ['operation', 'result'] as const,
      registers: [registry]
    }),
    admissionDuration: new Histogram({
      name: 'pullguard_admission_duration_seconds',
      help: 'Time from a /mutate request being routed to its answer being sent',
      labelNames: ['operation'] as const,
      // A review is sub-millisecond to a few ms; the tail reaches API calls (managed Secret writes) and
      // ends at 10 s, the API server's default webhook timeout.
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry]
    }),
    tlsReloads: new Counter({
      name: 'pullguard_tls_reloads_total',
      help: 'Serving certificate reloads after the files changed; failure = the new pair was refused and the old one kept',
      labelNames: ['result'] as const,
      registers: [registry]
    }),
    tlsCertificateExpiry: new Gauge({
      name: 'pullguard_tls_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the serving certificate in use, as a Unix timestamp',
      registers: [registry]
    })
  }
}

export interface MetricsServer {
  readonly url: string
  readonly port: number
  close (): Promise<void>
}

/** GET /metrics over plain HTTP (scraped inside the cluster network); 404 for anything else. */
export async function startMetricsServer (
  { registry, host, port, logger }: { registry: Registry, host: string, port: number, logger: Logger }
): Promise<MetricsServer> {
  const server: Server = createServer({
    // A scrape is one small GET: anything slower than this is a stuck or hostile client.
    headersTimeout: 10_000,
    requestTimeout: 15_000
  }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    registry.metrics().then(body => {
      res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : body)
    }, (err: unknown) => {
      logger.error({ err }, 'collecting metrics failed')
      res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n')
    })
  })
  // Far shorter than any scrape interval: an idle connection is closed long before a scraper would
  // reuse it (so the two never race), and idle scrapers never hold shutdown open.
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const actualPort = (server.address() as AddressInfo).port
  const url = `http://${urlHost(host)}:${actualPort}/metrics`
  logger.info({ url }, 'metrics listening')
  return {
    url,
    port: actualPort,
    close: () => new Promise<void>((resolve, reject) => {
      server.close(err => { if (err === undefined) resolve(); else reject(err) })
      server.closeIdleConnections()
    })
  }
}

/** host as it goes into a URL: IPv6 literals in brackets, wildcard binds as loopback */
export function urlHost (host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return host.includes(':') ? `[${host}]` : host
}
