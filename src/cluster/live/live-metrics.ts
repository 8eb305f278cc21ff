// Live mode's metrics, on the process registry (src/server/metrics.ts). Gauges are computed at scrape
// time from the caches and the queue, so they cannot drift from what they describe.

import { Counter, Gauge, type Registry } from 'prom-client'

/** created/updated/deleted: a write landed; unchanged: already right; conflict: a foreign Secret holds the name; error: retried with backoff */
export type ReconcileResult = 'created' | 'updated' | 'deleted' | 'unchanged' | 'conflict' | 'error'

export interface LiveMetricsSources {
  queueDepth: () => number
  managedSecrets: () => number
  /** cache name → seconds since last contact */
  cacheAges: () => Iterable<[string, number]>
}

export interface LiveMetrics {
  reconciles: Counter<'result'>
  conflicts: Counter
}

export function registerLiveMetrics (registry: Registry, sources: LiveMetricsSources): LiveMetrics {
  new Gauge({
    name: 'pullguard_reconcile_queue_depth',
    help: 'Namespaces waiting to be reconciled, including those waiting out a retry backoff',
    registers: [registry],
    collect () { this.set(sources.queueDepth()) }
  })
  new Gauge({
    name: 'pullguard_managed_secrets',
    help: 'Managed Secrets (labelled app.kubernetes.io/managed-by=pullguard) in the cache',
    registers: [registry],
    collect () { this.set(sources.managedSecrets()) }
  })
  new Gauge({
    name: 'pullguard_cache_age_seconds',
    help: 'Seconds since this cache last heard from the API server (list, watch opened, or watch event incl. bookmarks); grows while the API server is unreachable',
    labelNames: ['cache'] as const,
    registers: [registry],
    collect () {
      for (const [cache, age] of sources.cacheAges()) this.set({ cache }, age)
    }
  })
  return {
    reconciles: new Counter({
      name: 'pullguard_reconcile_total',
      help: 'Reconciliations of a namespace\'s managed Secret, by result',
      labelNames: ['result'] as const,
      registers: [registry]
    }),
    conflicts: new Counter({
      name: 'pullguard_managed_secret_conflicts_total',
      help: 'Times a Secret with the managed name but without pullguard\'s managed-by label was found (left untouched); counted once per version of that Secret',
      registers: [registry]
    })
  }
}
