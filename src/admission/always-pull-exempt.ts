// --always-pull-exempt: repositories that keep the pull policy their Pods give them. One rule for every
// place that asks (Pod CREATE, kubectl debug, Pod UPDATE); the always-pull ValidatingAdmissionPolicy
// states the same rule in CEL (charts/pullguard/files/policies/always-pull.yaml, `violations`).

import type { ImageName } from './image-reference.js'

/** An exact normalised name, or a prefix ending in `/*` that covers every repository below it. */
export function isAlwaysPullExempt (image: ImageName | undefined, patterns: readonly string[]): boolean {
  if (image === undefined) return false
  return patterns.some(pattern => pattern.endsWith('/*')
    ? image.name.startsWith(pattern.slice(0, -1))
    : image.name === pattern)
}
