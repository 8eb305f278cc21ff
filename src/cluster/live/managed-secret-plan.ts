// What to do about one namespace's managed Secret, given what it should hold and what is there.
// Pure: the projector executes the plan, and re-plans from a fresh read when a write loses a race.

import { DOCKER_CONFIG_JSON_TYPE, type SecretObject } from '../../admission/credentials.js'
import { CONTENT_HASH_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../admission/options.js'
import { managedSecretObject } from '../static-view.js'
import type { ManagedSecretSpec } from '../view.js'

/** The stored Secret as the plan reads it (a cached V1Secret fits). */
export interface StoredSecret extends SecretObject {
  immutable?: boolean
}

export type ManagedSecretPlan =
  | { action: 'none' }
  /** a Secret of that name exists without pullguard's managed-by label: never touched, reported */
  | { action: 'conflict', existing: StoredSecret }
  | { action: 'create', body: SecretObject }
  /** PUT with the stored resourceVersion as precondition */
  | { action: 'replace', body: SecretObject }
  /** with the stored resourceVersion as precondition; `recreate`: create it afresh afterwards */
  | { action: 'delete', resourceVersion: string, recreate: boolean }

export function planManagedSecret (
  desired: ManagedSecretSpec | undefined,
  stored: StoredSecret | undefined,
  tenantLabel: string
): ManagedSecretPlan {
  const managed = stored?.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE
  if (desired === undefined) {
    // Only pullguard's own copy is removed; anyone else's Secret of that name is none of our business.
    if (stored === undefined || !managed) return { action: 'none' }
    return { action: 'delete', resourceVersion: stored.metadata?.resourceVersion ?? '', recreate: false }
  }
  const want = managedSecretObject(desired, tenantLabel)
  if (stored === undefined) return { action: 'create', body: want }
  if (!managed) return { action: 'conflict', existing: stored }
  // type cannot change and an immutable Secret cannot be edited: the only way forward is a new one
  if (stored.type !== want.type || stored.immutable === true) {
    if (matches(stored, want, tenantLabel)) return { action: 'none' }
    return { action: 'delete', resourceVersion: stored.metadata?.resourceVersion ?? '', recreate: true }
  }
  if (matches(stored, want, tenantLabel)) return { action: 'none' }
  // Labels and annotations others added (backup tools, policy engines) are kept; ours and the data win.
  return {
    action: 'replace',
    body: {
      ...want,
      metadata: {
        ...want.metadata,
        labels: { ...stored.metadata?.labels, ...want.metadata?.labels },
        annotations: { ...stored.metadata?.annotations, ...want.metadata?.annotations },
        ...(stored.metadata?.resourceVersion !== undefined && { resourceVersion: stored.metadata.resourceVersion })
      }
    }
  }
}

/** Exactly what pullguard writes: our labels, the content hash, the type, and the data (nothing more). */
function matches (stored: StoredSecret, want: SecretObject, tenantLabel: string): boolean {
  const labels = stored.metadata?.labels ?? {}
  const data = stored.data ?? {}
  const wanted = want.data ?? {}
  return stored.type === DOCKER_CONFIG_JSON_TYPE &&
    labels[tenantLabel] === want.metadata?.labels?.[tenantLabel] &&
    stored.metadata?.annotations?.[CONTENT_HASH_ANNOTATION] === want.metadata?.annotations?.[CONTENT_HASH_ANNOTATION] &&
    Object.keys(data).length === Object.keys(wanted).length &&
    Object.entries(wanted).every(([key, value]) => data[key] === value)
}
