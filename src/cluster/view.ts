// The cluster as the review service sees it: a snapshot for the pure decision, plus the I/O around
// it (a namespace lookup, the managed Secret's ensure). The static and the live view implement it.

import type { ClusterSnapshot, ManagedSecretSpec } from '../admission/cluster-snapshot.js'

export type EnsureResult =
  | { outcome: 'unchanged' | 'created' | 'updated' }
  | { outcome: 'conflict', message: string } // a Secret of that name exists that pullguard does not manage
  | { outcome: 'failed', message: string }

export interface ClusterView {
  /** the current state, read synchronously; taking it has no side effect */
  snapshot(): ClusterSnapshot
  /** fetch a namespace the snapshot does not know yet (created a moment ago); resolves either way */
  lookupNamespace(namespace: string, timeoutMs: number): Promise<void>
  /** create or update the managed Secret when missing or stale; never throws */
  ensureManagedSecret(spec: ManagedSecretSpec, timeoutMs: number): Promise<EnsureResult>
  /** every cache has synced at least once */
  isReady(): boolean
}
