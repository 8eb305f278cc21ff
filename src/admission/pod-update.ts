// Pod UPDATE. A Pod's images are mutable, its imagePullPolicy is not (the API server rejects any change
// of it). A container that is not pulled Always (a Pod created before its namespace joined a tenant,
// or while the guard was off) could have another tenant's private image, cached on the node, swapped
// in and started without the registry ever checking a credential. No patch can make that safe, so such
// an update is denied, and the way out is a new Pod, which pullguard admits with Always. An update
// that changes no image, or only images pulled Always (or exempt), passes untouched.
//
// Images are compared as written, by container name within each list and by volume name for image
// volumes: the API server forbids changing volumes on UPDATE, but a mutating webhook runs before that
// validation, so pullguard sees whatever the client sent. The always-pull ValidatingAdmissionPolicy
// applies the same rule in CEL (charts/pullguard/files/policies/always-pull.yaml).

import { isAlwaysPullExempt } from './always-pull-exempt.js'
import { isObject } from './envelope.js'
import { parseImageName } from './image-reference.js'
import type { AdmissionOptions } from './options.js'
import type { AdmissionRequest, AdmissionResponse } from './types.js'

/** decide()'s answer to a Pod UPDATE: never a patch, never a Secret to ensure. */
export interface PodUpdateDecision {
  response: AdmissionResponse
  summary: { decision: 'allowed' | 'denied', reason: string, tenant?: string, patchOperations: 0, warnings: 0 }
}

/** One place of a Pod that names an image: a container of one list, or an image volume. */
interface ImageSlot {
  /** `containers/web`, `volumes/models`: unique within a Pod, and the audit note's spelling */
  key: string
  /** how the denial names it: `container "web"` */
  label: string
  /** the field that holds its pull policy */
  policyField: 'imagePullPolicy' | 'pullPolicy'
  image: string | undefined
  pullPolicy: string | undefined
}

type Slots = { ok: true, slots: Map<string, ImageSlot> } | { ok: false, problem: string }

const CONTAINER_LISTS = [
  ['initContainers', 'init container'],
  ['containers', 'container'],
  ['ephemeralContainers', 'ephemeral container']
] as const

// The denial reaches the client and the audit note the audit log: both stay short whatever the Pod.
const CHANGES_NAMED_IN_DENIAL = 3
const CHANGES_NAMED_IN_AUDIT = 20
const SHOWN_NAME_LENGTH = 64
const SHOWN_IMAGE_LENGTH = 160

/** `spec` is the new Pod's (decide() skips a Pod UPDATE without one: nothing in it could run). */
export function decidePodUpdate (request: AdmissionRequest, spec: object, tenant: string | undefined, options: AdmissionOptions): PodUpdateDecision {
  const uid = request.uid
  const oldPod = request.oldObject
  // The API server always sends the stored Pod with an UPDATE; without it nothing can be compared.
  if (!isObject(oldPod) || !isObject(oldPod.spec)) return malformed(uid, tenant, 'oldObject.spec is missing (an UPDATE review carries the stored Pod)')
  const before = imageSlotsOf(oldPod.spec, 'oldObject')
  if (!before.ok) return malformed(uid, tenant, before.problem)
  const after = imageSlotsOf(spec as Record<string, unknown>, 'object')
  if (!after.ok) return malformed(uid, tenant, after.problem)

  let changed = 0
  const refused: ImageSlot[] = []
  for (const slot of after.slots.values()) {
    // A slot that did not exist before counts as changed: a container cannot be added by an UPDATE,
    // and one that is must not bring an image the node may have cached.
    const previous = before.slots.get(slot.key)
    if (previous !== undefined && previous.image === slot.image) continue
    changed++
    if (slot.pullPolicy === 'Always') continue
    const name = slot.image === undefined ? undefined : parseImageName(slot.image)
    if (!isAlwaysPullExempt(name, options.alwaysPullExempt)) refused.push(slot)
  }
  if (refused.length === 0) {
    return {
      response: { uid, allowed: true },
      summary: { decision: 'allowed', reason: changed === 0 ? 'no image changed' : 'changed images are pulled Always or exempt', tenant, patchOperations: 0, warnings: 0 }
    }
  }
  return {
    response: {
      uid,
      allowed: false,
      status: { code: 403, reason: 'Forbidden', message: imageChangeDenial(refused) },
      auditAnnotations: { 'image-change-denied': imageChangeNote(refused) }
    },
    summary: { decision: 'denied', reason: 'image changed where not pulled Always', tenant, patchOperations: 0, warnings: 0 }
  }
}

/** Every image slot of a spec by key, or what makes the spec unreadable (named by its JSON path). */
function imageSlotsOf (spec: Record<string, unknown>, side: 'object' | 'oldObject'): Slots {
  const slots = new Map<string, ImageSlot>()
  const add = (slot: ImageSlot, path: string): string | undefined => {
    if (slots.has(slot.key)) return `${path}.name "${shown(slot.key.slice(slot.key.indexOf('/') + 1), SHOWN_NAME_LENGTH)}" is not unique`
    slots.set(slot.key, slot)
    return undefined
  }
  for (const [list, noun] of CONTAINER_LISTS) {
    const entries = listAt(spec[list])
    if (entries === undefined) return { ok: false, problem: `${side}.spec.${list} is not a list` }
    for (let index = 0; index < entries.length; index++) {
      const path = `${side}.spec.${list}[${index}]`
      const container = entries[index]
      if (!isObject(container)) return { ok: false, problem: `${path} is not an object` }
      const { name, image, imagePullPolicy } = container
      if (typeof name !== 'string' || name === '') return { ok: false, problem: `${path}.name is not a non-empty string` }
      if (!isOptionalString(image)) return { ok: false, problem: `${path}.image is not a string` }
      if (!isOptionalString(imagePullPolicy)) return { ok: false, problem: `${path}.imagePullPolicy is not a string` }
      const problem = add({ key: `${list}/${name}`, label: `${noun} "${shown(name, SHOWN_NAME_LENGTH)}"`, policyField: 'imagePullPolicy', image: nonEmpty(image), pullPolicy: nonEmpty(imagePullPolicy) }, path)
      if (problem !== undefined) return { ok: false, problem }
    }
  }
  const volumes = listAt(spec.volumes)
  if (volumes === undefined) return { ok: false, problem: `${side}.spec.volumes is not a list` }
  for (let index = 0; index < volumes.length; index++) {
    const path = `${side}.spec.volumes[${index}]`
    const volume = volumes[index]
    if (!isObject(volume)) return { ok: false, problem: `${path} is not an object` }
    if (volume.image === undefined || volume.image === null) continue
    const { name, image } = volume
    if (typeof name !== 'string' || name === '') return { ok: false, problem: `${path}.name is not a non-empty string` }
    if (!isObject(image)) return { ok: false, problem: `${path}.image is not an object` }
    if (!isOptionalString(image.reference)) return { ok: false, problem: `${path}.image.reference is not a string` }
    if (!isOptionalString(image.pullPolicy)) return { ok: false, problem: `${path}.image.pullPolicy is not a string` }
    const problem = add({ key: `volumes/${name}`, label: `image volume "${shown(name, SHOWN_NAME_LENGTH)}"`, policyField: 'pullPolicy', image: nonEmpty(image.reference), pullPolicy: nonEmpty(image.pullPolicy) }, path)
    if (problem !== undefined) return { ok: false, problem }
  }
  return { ok: true, slots }
}

/** A list field: absent and null are the empty list (JSON omits empty lists); anything else is not one. */
function listAt (value: unknown): unknown[] | undefined {
  if (value === undefined || value === null) return []
  return Array.isArray(value) ? value : undefined
}

function isOptionalString (value: unknown): value is string | undefined | null {
  return value === undefined || value === null || typeof value === 'string'
}

// The API server omits empty strings from a Pod (omitempty), so '' and absent are one value.
function nonEmpty (value: string | undefined | null): string | undefined {
  return value === '' || value === null ? undefined : value
}

/** The denial says what to do: the pull policy cannot be fixed in place, a new Pod gets Always. */
function imageChangeDenial (refused: readonly ImageSlot[]): string {
  const named = refused.slice(0, CHANGES_NAMED_IN_DENIAL).map(slot =>
    `${slot.label} (${slot.policyField} ${slot.pullPolicy ?? 'unset'}) to ${slot.image === undefined ? 'no image' : `"${shown(slot.image, SHOWN_IMAGE_LENGTH)}"`}`)
  const more = refused.length - named.length
  return `pullguard: this update changes the image of ${named.join(', ')}${more > 0 ? ` and ${more} more` : ''};` +
    ' in a tenant namespace an image may change only where it is pulled Always (a node\'s image cache is shared by all tenants),' +
    ' and a Pod\'s pull policy cannot be changed:' +
    ' recreate the Pod (or roll out its Deployment, StatefulSet, DaemonSet or Job) so that pullguard sets imagePullPolicy Always'
}

// Audit logs are read by cluster admins: the keys and images, bounded.
function imageChangeNote (refused: readonly ImageSlot[]): string {
  const named = refused.slice(0, CHANGES_NAMED_IN_AUDIT)
    .map(slot => `${shown(slot.key, SHOWN_NAME_LENGTH + 24)}=${shown(slot.image ?? '', SHOWN_IMAGE_LENGTH)}`)
  const more = refused.length - named.length
  return `${named.join(',')}${more > 0 ? ` and ${more} more` : ''}`
}

function malformed (uid: string, tenant: string | undefined, problem: string): PodUpdateDecision {
  return {
    response: { uid, allowed: false, status: { code: 400, reason: 'BadRequest', message: `pullguard: cannot check this Pod UPDATE: ${problem}` } },
    summary: { decision: 'denied', reason: 'malformed pod update', tenant, patchOperations: 0, warnings: 0 }
  }
}

/** At most `max` UTF-16 units, cut on a code point boundary and marked as cut. */
function shown (text: string, max: number): string {
  if (text.length <= max) return text
  let end = max - 1
  const last = text.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end--
  return `${text.slice(0, end)}…`
}
