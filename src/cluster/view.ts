// The cluster as the admission path sees it. A snapshot is plain, precomputed data read synchronously by
// the pure decision; the view around it does the I/O (loading manifests, informers, API writes).

import type { MergedCredentials } from '../admission/credentials.js'
import type { RegistryIndex } from '../admission/registry-index.js'

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

export type EnsureResult =
  | { outcome: 'unchanged' | 'created' | 'updated' }
  | { outcome: 'conflict', message: string } // a Secret of that name exists that pullguard does not manage
  | { outcome: 'failed', message: string }

export interface ClusterView {
  snapshot(): ClusterSnapshot
  /** fetch a namespace the snapshot does not know yet (created a moment ago); resolves either way */
  lookupNamespace(namespace: string, timeoutMs: number): Promise<void>
  /** create or update the managed Secret when missing or stale; never throws */
  ensureManagedSecret(spec: ManagedSecretSpec, timeoutMs: number): Promise<EnsureResult>
  /** every cache has synced at least once */
  isReady(): boolean
}
