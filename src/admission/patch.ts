// The few JSON Patch operations pullguard ever emits, built directly rather than by diffing a copy:
// every path is a fixed field name or an array index, so no pointer escaping is involved, and `add`
// both creates and replaces an object member, which matters because the API server sends defaulted
// objects (imagePullPolicy is usually present) but not always (image volumes, hand-written reviews).

import type { PatchOperation } from './types.js'

export type ContainerList = 'initContainers' | 'containers' | 'ephemeralContainers'

export function forceContainerPullPolicy (list: ContainerList, index: number): PatchOperation {
  return { op: 'add', path: `/spec/${list}/${index}/imagePullPolicy`, value: 'Always' }
}

export function forceImageVolumePullPolicy (index: number): PatchOperation {
  return { op: 'add', path: `/spec/volumes/${index}/image/pullPolicy`, value: 'Always' }
}

/** Appends the managed Secret to imagePullSecrets, keeping existing entries; undefined when present. */
export function addPullSecret (current: unknown, secretName: string): PatchOperation | undefined {
  if (!Array.isArray(current)) {
    // Absent or null: the array itself must be created; `/-` on a missing array fails to apply.
    return { op: 'add', path: '/spec/imagePullSecrets', value: [{ name: secretName }] }
  }
  const present = current.some(entry => typeof entry === 'object' && entry !== null && entry.name === secretName)
  return present ? undefined : { op: 'add', path: '/spec/imagePullSecrets/-', value: { name: secretName } }
}

export function encodePatch (operations: readonly PatchOperation[]): string {
  return Buffer.from(JSON.stringify(operations)).toString('base64')
}
