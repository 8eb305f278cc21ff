// `pullguard serve`: wires config → cluster view → review service → HTTPS server.

import { registerCredentialHealthMetrics } from '../cluster/credential-metrics.js'
import { StaticClusterView } from '../cluster/static-view.js'
import type { ClusterView } from '../cluster/view.js'
import { hostname } from 'node:os'
import type { LeaderElectionSettings } from '../cluster/live/live-view.js'
import { admissionOptionsOf, loadConfig, type Config } from '../config/config.js'
import { asynchronousDestination, createLogger } from '../logging.js'
import { ReviewService } from '../review-service.js'
import { createMetrics } from '../server/metrics.js'
import { startServer } from '../server/serve.js'
import type { CliIo } from './cli-io.js'
import { describeStartupError, StartupError } from './startup-error.js'
import { logStandaloneSummary } from './startup-summary.js'
import { pullguardVersion } from './version.js'

export async function runServe (argv: string[], io: CliIo): Promise<number> {
  const { config, origins } = loadConfig('serve', argv, io.env)
  // Asynchronous stdout: one review line per request must not cost a blocking write(2) on the event loop.
  // The server flushes it before its exit; the other ends below return, and the event loop drains it.
  const logger = createLogger({ level: config.logLevel, destination: asynchronousDestination(1) })
  const version = pullguardVersion()
  logger.info({ version, node: process.version }, 'pullguard starting')
  const options = admissionOptionsOf(config)
  // One registry for everything: live mode's controller metrics and the server's admission metrics.
  const metrics = createMetrics({ version })

  let view: ClusterView & { stop?: () => Promise<void> }
  if (config.objects.length > 0) {
    const standalone = await StaticClusterView.fromFiles(config.objects, options)
    logger.info({ objects: config.objects }, 'standalone mode: cluster view from manifests, writes kept in memory')
    logStandaloneSummary(logger, standalone)
    registerCredentialHealthMetrics(metrics.registry, () => standalone.model.credentialHealth())
    view = standalone
  } else {
    // Loaded only here: @kubernetes/client-node alone adds ~75 MB of RSS a standalone server never uses.
    const [{ LiveClusterView }, { loadKubeConfig }] = await Promise.all([
      import('../cluster/live/live-view.js'),
      import('../cluster/live/kube-client.js')
    ])
    let loaded
    try {
      loaded = loadKubeConfig({
        env: io.env,
        ...(config.kubeconfig !== undefined && { file: config.kubeconfig }),
        ...(io.env.HOME !== undefined && { home: io.env.HOME })
      })
    } catch (err) {
      logger.error({ error: (err as Error).message }, 'live mode: no usable cluster configuration')
      return 1
    }
    logger.info({ kubeconfig: loaded.source, server: loaded.server, resyncSeconds: config.resyncSeconds }, 'live mode: watching the cluster')
    // Not yet synced: /readyz turns 200 once it is.
    const live = new LiveClusterView({
      kubeConfig: loaded.kubeConfig,
      options,
      logger,
      registry: metrics.registry,
      resyncSeconds: config.resyncSeconds,
      ...(config.leaderElection && { leaderElection: leaderElectionOf(config, io.env) }),
      tokens: { environment: { pluginDir: config.credentialProviderDir } }
    })
    live.start()
    view = live
  }
  logger.info({ settings: origins }, 'configuration loaded')

  const service = new ReviewService(view, options, {
    ensureTimeoutMs: config.ensureTimeoutMs,
    namespaceLookupTimeoutMs: config.namespaceLookupTimeoutMs
  })
  try {
    await startServer({
      service,
      view,
      logger,
      metrics,
      onShutdown: async () => { await view.stop?.() },
      // The server reads its ServerSettings out of the config under the same names.
      settings: config
    })
  } catch (err) {
    // A port in use, an unreadable certificate: the live view's informers would go on retrying the API
    // (and logging it) for seconds after the process has failed.
    await view.stop?.()
    const line = describeStartupError(err, config)
    throw line === undefined ? err : new StartupError(line, { cause: err })
  }
  // The process now lives until SIGTERM/SIGINT; the server's shutdown sets the exit code.
  return 0
}

/** The Lease in pullguard's own namespace, held under the Pod's name (the chart sets both from the downward API). */
function leaderElectionOf (config: Config, env: NodeJS.ProcessEnv): LeaderElectionSettings {
  return {
    namespace: config.leaderElectionNamespace ?? nonEmpty(env.POD_NAMESPACE) ?? config.credentialsNamespace,
    leaseName: config.leaderElectionLeaseName,
    identity: config.leaderElectionIdentity ?? nonEmpty(env.POD_NAME) ?? hostname(),
    leaseDurationSeconds: config.leaseDurationSeconds,
    renewDeadlineSeconds: config.renewDeadlineSeconds,
    retryPeriodSeconds: config.retryPeriodSeconds
  }
}

const nonEmpty = (value: string | undefined): string | undefined => value === '' ? undefined : value
