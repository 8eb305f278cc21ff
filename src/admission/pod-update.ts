// Pod UPDATE. A Pod's images are mutable, its imagePullPolicy is not (the API server rejects any change
// of it). A container that is not pulled Always (a Pod created before its namespace joined a tenant,
// or while the guard was off) could have another tenant's private image, cached on the node, swapped
// in and started without the registry ever checking a credential. No patch can make that safe, so such
// an update is denied, and the way out is a new Pod, which pullguard admits with Always. An update
// that changes no image, or only images pulled Always (or exempt), passes untouched.
//
// Images are compared as written, by container name within each list and by volume name for image
// volumes: the API server forbids changing volumes on UPDATE, but a mutating webhook runs before that
// validation, so pullguard sees whatever the client sent. The pull policy read is the new object's:
// a client that also flips it to Always is refused by that same validation. The always-pull
// ValidatingAdmissionPolicy applies the same rule in CEL (charts/pullguard/files/policies/always-pull.yaml).

import { isAlwaysPullExempt } from './always-pull-exempt.js'
import { auditList } from './audit-annotations.js'
import { truncateCodePoints } from './bounded-text.js'
import { isObject } from './envelope.js'
import { parseImageName } from './image-reference.js'
import type { AdmissionOptions } from './options.js'
import type { AdmissionRequest, AdmissionResponse } from './types.js'

/** decide()'s answer to a Pod UPDATE: never a patch, never a Secret to ensure. */
export interface PodUpdateDecision {
  response: AdmissionResponse
  summary: { decision: 'allowed' | 'denied', reason: string, tenant?: string, patchOperations: 0, warnings: 0 }
}

type SlotList = 'initContainers' | 'containers' | 'ephemeralContainers' | 'volumes'

/** One place of a Pod that names an image: a container of one list, or an image volume. */
interface ImageSlot {
  list: SlotList
  /** unique within its list */
  name: string
  image: string | undefined
  pullPolicy: string | undefined
}

/** Each list's slots by name, or what makes the spec unreadable (named by its JSON path). */
type Slots = { ok: true, slots: Map<SlotList, Map<string, ImageSlot>> } | { ok: false, problem: string }

const SLOT_LISTS = ['initContainers', 'containers', 'ephemeralContainers', 'volumes'] as const
/** where each kind of slot keeps its image and pull policy */
const CONTAINER_FIELDS = { within: undefined, image: 'image', pullPolicy: 'imagePullPolicy' } as const
const VOLUME_FIELDS = { within: 'image', image: 'reference', pullPolicy: 'pullPolicy' } as const
const NOUNS: Record<SlotList, string> = {
  initContainers: 'init container',
  containers: 'container',
  ephemeralContainers: 'ephemeral container',
  volumes: 'image volume'
}

// The denial reaches the client and the audit note the audit log: both stay short whatever the Pod.
const CHANGES_NAMED_IN_DENIAL = 3
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
  for (const [list, slots] of after.slots) {
    const previous = before.slots.get(list)
    for (const slot of slots.values()) {
      // A slot the stored Pod lacks counts as changed: a container cannot be added by an UPDATE,
      // and one that is must not bring an image the node may have cached.
      const old = previous?.get(slot.name)
      if (old !== undefined && old.image === slot.image) continue
      changed++
      if (slot.pullPolicy === 'Always') continue
      // Parsing is the costly step, and only an exemption needs it.
      const exempt = options.alwaysPullExempt.length > 0 && slot.image !== undefined &&
        isAlwaysPullExempt(parseImageName(slot.image), options.alwaysPullExempt)
      if (!exempt) refused.push(slot)
    }
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

function imageSlotsOf (spec: Record<string, unknown>, side: 'object' | 'oldObject'): Slots {
  const slots = new Map<SlotList, Map<string, ImageSlot>>()
  const fail = (problem: string): Slots => ({ ok: false, problem })
  for (const list of SLOT_LISTS) {
    const entries = listAt(spec[list])
    if (entries === undefined) return fail(`${side}.spec.${list} is not a list`)
    const byName = new Map<string, ImageSlot>()
    slots.set(list, byName)
    const fields = list === 'volumes' ? VOLUME_FIELDS : CONTAINER_FIELDS
    const within = fields.within === undefined ? '' : `.${fields.within}`
    for (let index = 0; index < entries.length; index++) {
      // Paths are spelt out only for an error: this loop runs for every container of large Pods.
      const entry = entries[index]
      if (!isObject(entry)) return fail(`${pathOf(side, list, index)} is not an object`)
      // A volume without `image` is some other kind of volume.
      if (list === 'volumes' && (entry.image === undefined || entry.image === null)) continue
      const source = fields.within === undefined ? entry : entry[fields.within]
      if (!isObject(source)) return fail(`${pathOf(side, list, index, within)} is not an object`)
      const { name } = entry
      const image = source[fields.image]
      const pullPolicy = source[fields.pullPolicy]
      if (typeof name !== 'string' || name === '') return fail(`${pathOf(side, list, index, '.name')} is not a non-empty string`)
      if (!isOptionalString(image)) return fail(`${pathOf(side, list, index, `${within}.${fields.image}`)} is not a string`)
      if (!isOptionalString(pullPolicy)) return fail(`${pathOf(side, list, index, `${within}.${fields.pullPolicy}`)} is not a string`)
      if (byName.has(name)) return fail(`${pathOf(side, list, index, '.name')} "${truncateCodePoints(name, SHOWN_NAME_LENGTH)}" is not unique`)
      byName.set(name, { list, name, image: nonEmpty(image), pullPolicy: nonEmpty(pullPolicy) })
    }
  }
  return { ok: true, slots }
}

function pathOf (side: string, list: SlotList, index: number, field = ''): string {
  return `${side}.spec.${list}[${index}]${field}`
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
    `${NOUNS[slot.list]} "${truncateCodePoints(slot.name, SHOWN_NAME_LENGTH)}" (${(slot.list === 'volumes' ? VOLUME_FIELDS : CONTAINER_FIELDS).pullPolicy} ${slot.pullPolicy ?? 'unset'})` +
    ` to ${slot.image === undefined ? 'no image' : `"${truncateCodePoints(slot.image, SHOWN_IMAGE_LENGTH)}"`}`)
  const more = refused.length - named.length
  return `pullguard: this update changes the image of ${named.join(', ')}${more > 0 ? ` and ${more} more` : ''};` +
    ' in a tenant namespace an image may change only where it is pulled Always (a node\'s image cache is shared by all tenants),' +
    ' and a Pod\'s pull policy cannot be changed:' +
    ' recreate the Pod (or roll out its Deployment, StatefulSet, DaemonSet or Job) so that pullguard sets imagePullPolicy Always'
}

// Audit logs are read by cluster admins: the containers and images, bounded as every audit value is.
function imageChangeNote (refused: readonly ImageSlot[]): string {
  return auditList(refused, slot => `${slot.list}/${truncateCodePoints(slot.name, SHOWN_NAME_LENGTH)}=${truncateCodePoints(slot.image ?? '', SHOWN_IMAGE_LENGTH)}`)
}

function malformed (uid: string, tenant: string | undefined, problem: string): PodUpdateDecision {
  return {
    response: { uid, allowed: false, status: { code: 400, reason: 'BadRequest', message: `pullguard: cannot check this Pod UPDATE: ${problem}` } },
    summary: { decision: 'denied', reason: 'malformed pod update', tenant, patchOperations: 0, warnings: 0 }
  }
}

/** At most `max` UTF-16 units, cut on a code point boundary and marked as cut. */
