// The ports of the decision: what it reads of the cluster, and the Secret it asks the caller to
// ensure. They belong to the core; the cluster views (static and live) implement them.

import type { MergedCredentials } from './credentials.js'
import type { RegistryIndex } from './registry-index.js'

export interface ClusterSnapshot {
  /**
   * The namespace's tenant: a string when it carries the tenant label, null when it exists without
   * it, undefined when this snapshot has never seen the namespace (the view may then look it up).
   */
  tenantOf(namespace: string): string | null | undefined
  /** merged credentials of a tenant (own + shared); undefined when it has none */
  credentialsOf(tenant: string): MergedCredentials | undefined
  /** which tenants' credentials cover which registries; answers in time independent of cluster size */
  readonly registries: RegistryIndex
}

/** The managed Secret a tenant namespace must hold; produced by the decision, applied by the view. */
export interface ManagedSecretSpec {
  namespace: string
  name: string
  tenant: string
  dockerConfigJson: string
  contentHash: string
}

/** One rule for what a Namespace's tenant label means: absent or empty is no tenant. */
export function tenantFromLabels (labels: Record<string, string> | null | undefined, tenantLabel: string): string | null {
  const tenant = labels?.[tenantLabel]
  return tenant === undefined || tenant === '' ? null : tenant
}
