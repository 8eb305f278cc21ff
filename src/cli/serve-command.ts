// `pullguard serve`: wires config → cluster view → review service → HTTPS server.

import { StaticClusterView } from '../cluster/static-view.js'
import type { ClusterView } from '../cluster/view.js'
import { admissionOptionsOf, loadConfig } from '../config/config.js'
import { createLogger } from '../logging.js'
import { ReviewService } from '../review-service.js'
import { startServer } from '../server/serve.js'

export async function runServe (argv: string[]): Promise<number> {
  const { config, origins } = loadConfig('serve', argv, process.env)
  const logger = createLogger({ level: config.logLevel })
  const options = admissionOptionsOf(config)

  let view: ClusterView
  if (config.objects.length > 0) {
    view = await StaticClusterView.fromFiles(config.objects, options)
    logger.info({ objects: config.objects }, 'standalone mode: cluster view from manifests, writes kept in memory')
  } else {
    logger.error('live cluster mode is not available yet; pass --objects FILE for standalone mode')
    return 1
  }
  logger.info({ settings: origins }, 'configuration loaded')

  const service = new ReviewService(view, options, {
    ensureTimeoutMs: config.ensureTimeoutMs,
    namespaceLookupTimeoutMs: config.namespaceLookupTimeoutMs
  })
  await startServer({
    service,
    view,
    logger,
    config: {
      host: config.host,
      port: config.port,
      metricsPort: config.metricsPort,
      tlsCertFile: config.tlsCert,
      tlsKeyFile: config.tlsKey,
      bodyLimitBytes: config.bodyLimit,
      shutdownDelaySeconds: config.shutdownDelaySeconds
    }
  })
  // The process now lives until SIGTERM/SIGINT; the server's shutdown sets the exit code.
  return 0
}
