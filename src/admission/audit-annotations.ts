// What bounds an audit annotation value. The API server prefixes each key with the webhook's name and
// copies the annotations into every audit event of the request, so a value as long as the Pod is wide
// (one entry per container or image) must stop somewhere.

import { joinWithinUtf8 } from './bounded-text.js'

/**
 * UTF-8 bytes per value. Kubernetes sets no limit on a webhook's values, but an audit event larger
 * than --audit-log-truncate-max-event-size (100 KiB by default) first loses its request and response
 * objects and is then dropped whole, and Kubernetes cuts its own ValidatingAdmissionPolicy audit
 * values at 10 KB. Three values of 4 KiB keep pullguard's share of an event small, and 4 KiB still
 * names about 150 containers, enough to see what happened.
 */
export const MAX_AUDIT_VALUE_BYTES = 4096

/** Entries joined by ',', as many as fit in MAX_AUDIT_VALUE_BYTES, then `+N more`. */
export function auditList<T> (items: readonly T[], format: (item: T) => string): string {
  return joinWithinUtf8(items, format, ',', MAX_AUDIT_VALUE_BYTES, left => `+${left} more`)
}
