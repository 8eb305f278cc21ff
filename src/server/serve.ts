// Runs the webhook: HTTPS app + plain-HTTP metrics, certificate rotation, and graceful shutdown.
// Shutdown order matters in Kubernetes: endpoints are removed asynchronously after SIGTERM, and the
// API server keeps sending reviews for a few seconds, over connections it already has open too
// (kubernetes/kubernetes#127335). So: fail readiness at once and keep answering for
// shutdownDelaySeconds, each answer telling its client to close the connection; then stop accepting,
// close the connections left idle, and let the reviews in flight finish. Nothing that reached us is
// reset or refused with a 503.

import type { Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import closeWithGrace from 'close-with-grace'
import type { ClusterView } from '../cluster/view.js'
import { flushLogs, type Logger } from '../logging.js'
import { buildApp, SERVER_TIMEOUTS, type Reviewer } from './app.js'
import type { ServerSettings } from './limits.js'
import { createMetrics, startMetricsServer, urlHost, type Metrics, type MetricsServer } from './metrics.js'
import {
  inspectKeyPair,
  KeyPairError,
  readKeyPair,
  secureContextOptions,
  selfSignedKeyPair,
  watchKeyPair,
  type CertificateInfo,
  type KeyPair,
  type KeyPairWatcher
} from './tls.js'

/** The one timer the drain needs: the delay. A fake clock in tests. */
export interface DrainTimers {
  setTimeout (callback: () => void, delayMs: number): unknown
}

export interface StartServerOptions {
  service: Reviewer
  view: Pick<ClusterView, 'isReady'>
  logger: Logger
  /** the config's own settings, by the names the flags have (a whole Config fits) */
  settings: ServerSettings
  /** backstop for missed certificate file events; default DEFAULT_CERT_POLL_INTERVAL_MS */
  certPollIntervalMs?: number
  /** a registry other modules have already added to; a fresh one when absent */
  metrics?: Metrics
  /** SIGTERM/SIGINT (and uncaught errors) shut down gracefully, flush the logger and exit the process; default true */
  handleSignals?: boolean
  /** runs once the last review has been answered: stop what feeds the service (informers, queues) */
  onShutdown?: () => Promise<void>
  /** the clock certificates' validity is checked against; the system clock when absent */
  now?: () => Date
  /** times the shutdown delay; the system's timers when absent */
  timers?: DrainTimers
}

export interface ServerHandle {
  /** https://host:port, with the port actually bound (port 0 picks one) */
  readonly url: string
  readonly port: number
  readonly metricsUrl: string
  readonly metrics: Metrics
  /** graceful shutdown without exiting the process; idempotent */
  close (): Promise<void>
}

// Rotation is usually caught by fs.watch within milliseconds; polling bounds the worst case.
export const DEFAULT_CERT_POLL_INTERVAL_MS = 10_000
// After the delay, in-flight reviews end by the request timeout at the latest; past that (plus a
// margin) something is stuck and the process exits non-zero rather than hang until the kubelet kills
// it. The chart's terminationGracePeriodSeconds covers the delay plus this.
export const DRAIN_TIMEOUT_MS = SERVER_TIMEOUTS.requestTimeoutMs + 5_000

export async function startServer (options: StartServerOptions): Promise<ServerHandle> {
  const { service, view, logger, settings } = options
  const metrics = options.metrics ?? createMetrics()
  const now = options.now ?? (() => new Date())
  const timers: DrainTimers = options.timers ?? { setTimeout: (callback, delayMs) => setTimeout(callback, delayMs) }
  const initial = await initialKeyPair(settings, logger, now)
  metrics.tlsCertificateExpiry.set(initial.info.notAfter.getTime() / 1000)

  let draining = false
  const app = buildApp({
    service,
    isReady: () => view.isReady(),
    isDraining: () => draining,
    logger,
    metrics,
    bodyLimitBytes: settings.bodyLimitBytes,
    https: secureContextOptions(initial.pair)
  })

  let watcher: KeyPairWatcher | undefined
  let metricsServer: MetricsServer | undefined
  try {
    await app.listen({ host: settings.host, port: settings.port })
    const server = app.server as unknown as HttpsServer
    if (settings.tlsCert !== undefined && settings.tlsKey !== undefined) {
      watcher = watchKeyPair({
        certFile: settings.tlsCert,
        keyFile: settings.tlsKey,
        current: initial.pair,
        pollIntervalMs: options.certPollIntervalMs ?? DEFAULT_CERT_POLL_INTERVAL_MS,
        logger,
        // Only new handshakes use the new context; open connections keep theirs and are not dropped.
        onChange: (pair, info) => {
          server.setSecureContext(secureContextOptions(pair))
          metrics.tlsReloads.inc({ result: 'success' })
          metrics.tlsCertificateExpiry.set(info.notAfter.getTime() / 1000)
        },
        onRejected: () => { metrics.tlsReloads.inc({ result: 'failure' }) },
        now
      })
    }
    metricsServer = await startMetricsServer({
      registry: metrics.registry,
      host: settings.host,
      port: settings.metricsPort,
      logger
    })
  } catch (err) {
    watcher?.close()
    await app.close()
    throw err
  }

  const metricsListener = metricsServer
  const port = (app.server.address() as AddressInfo).port
  const url = `https://${urlHost(settings.host)}:${port}`
  const metricsUrl = metricsListener.url
  logger.info({ url, metricsUrl, serialNumber: initial.info.serialNumber }, 'pullguard serving')

  let closing: Promise<void> | undefined
  /** when a stop was first asked for (a signal, an error, or the first SIGINT) */
  let stopAskedAt: number | undefined
  const grace = options.handleSignals === false
    ? undefined
    : closeWithGrace({
      delay: settings.shutdownDelaySeconds * 1000 + DRAIN_TIMEOUT_MS,
      // SIGINT is counted below, not by close-with-grace (which exits at any second signal)
      skip: ['SIGINT'],
      logger: { error: (message: unknown) => { logger.error({ detail: String(message) }, 'shutdown') } }
    }, async ({ signal, err, manual }) => {
      stopAskedAt ??= performance.now()
      if (err !== undefined) logger.fatal({ err }, 'uncaught error, shutting down')
      else logger.info({ signal: signal ?? (manual === true ? 'SIGINT' : undefined) }, 'signal received, shutting down')
      try {
        await shutdown()
      } finally {
        // close-with-grace calls process.exit as soon as this settles: nothing may be in flight then.
        await flushLogs(logger)
      }
    })
  // Ctrl-C under `npm start` arrives twice at once: the terminal's SIGINT and npm's forwarded copy.
  // Interrupts within INTERRUPT_REPEAT_MS of the first stop request are that one request; a later one
  // is the impatient second Ctrl-C, which exits at once (as close-with-grace does for other signals).
  const onInterrupt = (): void => {
    if (stopAskedAt === undefined) {
      stopAskedAt = performance.now()
      void grace?.close()
    } else if (performance.now() - stopAskedAt >= INTERRUPT_REPEAT_MS) {
      logger.error({ detail: 'second SIGINT, exiting' }, 'shutdown')
      process.exit(1)
    }
  }
  if (grace !== undefined) process.on('SIGINT', onInterrupt)

  async function shutdown (): Promise<void> {
    closing ??= (async () => {
      // Readiness fails and every answer says Connection: close: clients move to other replicas,
      // connection by connection, while each review that still comes here is answered.
      draining = true
      logger.info({ shutdownDelaySeconds: settings.shutdownDelaySeconds }, 'draining: readiness failing, still answering reviews')
      const delayMs = settings.shutdownDelaySeconds * 1000
      if (delayMs > 0) await new Promise<void>(resolve => { timers.setTimeout(resolve, delayMs) })
      watcher?.close()
      logger.info('drain delay over: closing idle connections, finishing the reviews in flight')
      // Stops accepting, closes idle keep-alive connections (Node's server.close), and waits for the
      // requests in flight, which are answered (return503OnClosing: false) with Connection: close.
      await app.close()
      await metricsListener.close()
      await options.onShutdown?.()
      logger.info('shut down')
    })()
    return closing
  }

  return {
    url,
    port,
    metricsUrl,
    metrics,
    close: () => {
      // Called by the embedder: the process stays up, so signals go back to their defaults.
      grace?.uninstall()
      process.removeListener('SIGINT', onInterrupt)
      return shutdown()
    }
  }
}

/** SIGINTs this close together are one Ctrl-C (see onInterrupt) */
const INTERRUPT_REPEAT_MS = 1000

async function initialKeyPair (settings: ServerSettings, logger: Logger, now: () => Date): Promise<{ pair: KeyPair, info: CertificateInfo }> {
  const { tlsCert, tlsKey } = settings
  if (tlsCert === undefined && tlsKey === undefined) {
    const pair = await selfSignedKeyPair()
    logger.warn(
      'NO TLS CERTIFICATE GIVEN: serving a freshly generated SELF-SIGNED certificate for localhost. ' +
      'Fine on a laptop; an API server will not trust it. Pass --tls-cert and --tls-key in a cluster.'
    )
    return { pair, info: inspectKeyPair(pair, now()) }
  }
  if (tlsCert === undefined || tlsKey === undefined) {
    throw new Error('TLS needs both a certificate file and a key file')
  }
  try {
    const pair = await readKeyPair(tlsCert, tlsKey)
    return { pair, info: inspectKeyPair(pair, now()) }
  } catch (err) {
    // One line for the operator: which files and why, an expired certificate's dates included.
    throw new KeyPairError(`TLS certificate ${tlsCert} (key ${tlsKey}): ${(err as Error).message}`,
      err instanceof KeyPairError ? err.certificate : undefined, { cause: err })
  }
}
