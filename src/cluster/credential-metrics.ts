// pullguard_credential_source_problems, computed at scrape time from the cluster model, so it
// cannot drift from what it describes and a fixed source drops out at the next scrape. Every
// replica exports it (each has the same caches); only the leader writes Events.

import { Gauge, type Registry } from 'prom-client'
import { problemCounts, type CredentialHealth } from './credential-health.js'

export function registerCredentialHealthMetrics (registry: Registry, health: () => CredentialHealth): void {
  new Gauge({
    name: 'pullguard_credential_source_problems',
    help: 'Problems of the credential source Secrets, by tenant ("(shared)" for shared sources) and reason; TenantWithoutCredentials counts tenants left with none',
    labelNames: ['tenant', 'reason'] as const,
    registers: [registry],
    collect () {
      // reset first: a label set whose problem is gone must vanish, not keep its last value
      this.reset()
      for (const { tenant, reason, count } of problemCounts(health())) this.set({ tenant, reason }, count)
    }
  })
}
