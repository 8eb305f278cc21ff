// The managed Secret: exactly what pullguard writes, and what to do about one namespace's copy given
// what it should hold and what is there. Pure: the live projector executes the plan against the API
// (and re-plans from a fresh read when a write loses a race); the static view applies it to memory.

import { createHash } from 'node:crypto'
import { DOCKER_CONFIG_JSON_KEY, DOCKER_CONFIG_JSON_TYPE, type SecretObject } from '../admission/credentials.js'
import { CONTENT_HASH_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../admission/options.js'
import type { ManagedSecretSpec } from '../admission/cluster-snapshot.js'

/**
 * The stored Secret as the plan reads it, and as the cache keeps it: metadata, type, immutable, and
 * a digest of each data value instead of the value (10,000 namespaces' copies of the credentials
 * need not sit in memory to be compared). Made only by `storedSecret()`.
 */
export interface StoredSecret {
  metadata?: {
    name?: string
    namespace?: string
    uid?: string
    resourceVersion?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
  }
  type?: string
  immutable?: boolean
  /** data key → `dataDigest()` of its (base64) value */
  dataDigests?: Record<string, string>
}

/** A Secret as the API returns it (a watch event's plain object, a V1Secret, or our own body). */
export interface ApiSecret extends SecretObject {
  metadata?: SecretObject['metadata'] & { uid?: string }
  immutable?: boolean | null
}

/** What stands for one data value: sha256 of the base64 string, as the API server returns it. */
export function dataDigest (base64: string): string {
  return createHash('sha256').update(base64).digest('base64')
}

/**
 * The one trim from an API Secret to what the plan reads, for the watch, the list, our own writes'
 * results and the re-read after a lost race alike, so the plan always sees one shape.
 */
export function storedSecret (secret: ApiSecret): StoredSecret {
  const meta = secret.metadata ?? {}
  const metadata: NonNullable<StoredSecret['metadata']> = {}
  if (meta.name !== undefined) metadata.name = meta.name
  if (meta.namespace !== undefined) metadata.namespace = meta.namespace
  if (meta.uid !== undefined) metadata.uid = meta.uid
  if (meta.resourceVersion !== undefined) metadata.resourceVersion = meta.resourceVersion
  if (meta.labels != null) metadata.labels = meta.labels
  if (meta.annotations != null) metadata.annotations = meta.annotations
  const stored: StoredSecret = { metadata }
  if (secret.type !== undefined) stored.type = secret.type
  if (secret.immutable != null) stored.immutable = secret.immutable
  if (secret.data != null) {
    const digests: Record<string, string> = {}
    for (const [key, value] of Object.entries(secret.data)) digests[key] = dataDigest(value)
    stored.dataDigests = digests
  }
  return stored
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
  if (stored === undefined) return { action: 'create', body: managedSecretObject(desired, tenantLabel) }
  if (!managed) return { action: 'conflict', existing: stored }
  // Every Pod creation lands here; in the usual case (up to date) nothing is built.
  if (matches(stored, desired, tenantLabel)) return { action: 'none' }
  // type cannot change and an immutable Secret cannot be edited: the only way forward is a new one
  if (stored.type !== DOCKER_CONFIG_JSON_TYPE || stored.immutable === true) {
    return { action: 'delete', resourceVersion: stored.metadata?.resourceVersion ?? '', recreate: true }
  }
  const want = managedSecretObject(desired, tenantLabel)
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

/** Exactly what pullguard writes: our labels, the content hash, the type, and the data (nothing more), by digest. */
function matches (stored: StoredSecret, desired: ManagedSecretSpec, tenantLabel: string): boolean {
  const digests = stored.dataDigests ?? {}
  const keys = Object.keys(digests)
  return stored.type === DOCKER_CONFIG_JSON_TYPE &&
    stored.metadata?.labels?.[tenantLabel] === desired.tenant &&
    stored.metadata?.annotations?.[CONTENT_HASH_ANNOTATION] === desired.contentHash &&
    keys.length === 1 && keys[0] === DOCKER_CONFIG_JSON_KEY &&
    digests[DOCKER_CONFIG_JSON_KEY] === configDigest(desired)
}

// The digest of each tenant's current merged config, so that an up-to-date Secret costs no hashing
// on the admission path. One entry per tenant, replaced when its config changes: a rotated config is
// not kept alive, and the data itself (not the hash label) decides whether the entry still holds.
const configDigests = new Map<string, { dockerConfigJson: string, digest: string }>()

function configDigest ({ tenant, dockerConfigJson }: ManagedSecretSpec): string {
  const known = configDigests.get(tenant)
  if (known !== undefined && known.dockerConfigJson === dockerConfigJson) return known.digest
  const digest = dataDigest(base64Of(dockerConfigJson))
  configDigests.set(tenant, { dockerConfigJson, digest })
  return digest
}

function base64Of (dockerConfigJson: string): string {
  return Buffer.from(dockerConfigJson).toString('base64')
}

/** The managed Secret as it is stored: the same object in standalone memory and in a live cluster. */
export function managedSecretObject (spec: ManagedSecretSpec, tenantLabel: string): SecretObject & { apiVersion: 'v1', kind: 'Secret' } {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [tenantLabel]: spec.tenant },
      annotations: { [CONTENT_HASH_ANNOTATION]: spec.contentHash }
    },
    type: DOCKER_CONFIG_JSON_TYPE,
    data: { [DOCKER_CONFIG_JSON_KEY]: base64Of(spec.dockerConfigJson) }
  }
}

/** the queue is paced and waits for changes to settle; an admission-time ensure does neither */
export type ReconcileCaller = 'queue' | 'admission'

export type ReconcileStep =
  /** the model does not know the namespace (or it is terminating): never delete on a guess */
  | { step: 'leave' }
  /** someone changed the Secret a moment ago: look again after this long instead of writing now */
  | { step: 'defer', deferMs: number }
  | { step: 'plan', plan: ManagedSecretPlan }

export interface ReconcileInput {
  /** as the model says (undefined: unknown or terminating; null: should not exist) */
  desired: ManagedSecretSpec | null | undefined
  stored: StoredSecret | undefined
  caller: ReconcileCaller
  /** since the cache last saw this namespace's managed Secret change (Infinity: never) */
  msSinceChange: number
  settleDelayMs: number
  tenantLabel: string
}

/** One namespace's next step, from what the model and the cache say. Pure: the projector acts on it. */
export function reconcileStep ({ desired, stored, caller, msSinceChange, settleDelayMs, tenantLabel }: ReconcileInput): ReconcileStep {
  if (desired === undefined) return { step: 'leave' }
  const plan = planManagedSecret(desired ?? undefined, stored, tenantLabel)
  if (caller === 'queue' && plan.action !== 'none' && plan.action !== 'conflict' && msSinceChange < settleDelayMs) {
    // Another replica, most likely, just changed it: our other caches may not have seen why yet
    // (watches of different resources are not ordered). Look again once that change has settled.
    return { step: 'defer', deferMs: settleDelayMs - msSinceChange }
  }
  return { step: 'plan', plan }
}
