// Every warning pullguard returns to the client (kubectl prints them), in one place. Warnings reach
// the tenant, so they never name another tenant; audit annotations, read by admins only, may.
//
// Kubernetes asks webhooks to keep a warning under 120 characters if possible; the API server may cut
// one past 256 code points, keeps at most 4,096 code points of warnings per request from all webhooks
// together, and drops a warning holding a control character (kubernetes.io "Dynamic Admission
// Control"; apiserver's WithWarningRecorder). So each value shown is escaped and cut, each warning
// stays within MAX_WARNING_CODE_POINTS, and one review's warnings stay few: see MAX_IMAGE_WARNINGS.

import { truncateCodePoints } from './bounded-text.js'

/** the API server may cut a warning past this many code points; ours are whole or cut by us, marked */
export const MAX_WARNING_CODE_POINTS = 256

/**
 * Warnings about single images (invalid, foreign) in one review; the rest are counted in one more
 * line. A Pod may have thousands of images: kubectl prints each warning on a line of its own, and
 * past a few the reader learns nothing new. With the one-per-review warnings (tenant, credentials,
 * the managed Secret) that is at most 8 warnings, 2,048 code points: half of what the API server keeps
 * of one request's warnings, the rest left to other webhooks and the API server's own.
 */
export const MAX_IMAGE_WARNINGS = 5

/**
 * An image reference, name or scope shown in a warning: a reference has no length limit, and the
 * rest of the sentence says what is wrong, so the value is cut rather than the sentence. A reference
 * pinned by digest (about 140 characters) stays whole.
 */
const MAX_VALUE_CODE_POINTS = 160

export const WARNINGS = {
  tenantUnknown: (namespace: string) =>
    fitWarning(`pullguard: the tenant of namespace ${quoted(namespace)} is not known yet; pull policy enforced, no pull secret added`),
  noCredentials: (tenant: string) =>
    fitWarning(`pullguard: tenant ${quoted(tenant)} has no registry credentials; no pull secret was added`),
  invalidImage: (reference: string) =>
    fitWarning(`pullguard: image ${quoted(reference)} is not a valid image reference`),
  foreignImage: (image: string, scope: string) =>
    fitWarning(`pullguard: image ${quoted(image)} is in registry ${shown(scope)}, which belongs to another tenant`),
  moreImages: (invalid: number, foreign: number) =>
    `pullguard: and ${invalid + foreign} more image warnings (` +
    [invalid > 0 && `${invalid} invalid image reference${invalid === 1 ? '' : 's'}`,
      foreign > 0 && `${foreign} image${foreign === 1 ? '' : 's'} in other tenants' registries`].filter(Boolean).join(', ') + ')',
  managedSecretConflict: (secretName: string) =>
    fitWarning(`pullguard: a Secret named ${quoted(secretName)} exists here and is not managed by pullguard; registry credentials were not installed`),
  managedSecretNotReady: (secretName: string) =>
    fitWarning(`pullguard: registry credentials Secret ${quoted(secretName)} is not ready yet; image pulls may fail until it is`)
} as const

/** the denial's message when images reach into other tenants' registries */
export function foreignImageDenial (first: { image: string, scope: string }, tenant: string | undefined, more: number): string {
  return `pullguard: image ${quoted(first.image)} is in registry ${shown(first.scope)}, which belongs to another tenant;` +
    ` tenant ${quoted(String(tenant))} has no credentials for it${more > 0 ? ` (and ${more} more)` : ''}`
}

/** a warning cut to what the API server keeps whole, marked as cut */
export function fitWarning (message: string): string {
  return truncateCodePoints(message, MAX_WARNING_CODE_POINTS)
}

export type ImageProblem = 'invalid' | 'foreign'

/**
 * One review's warnings, in order, each once. Those about single images are capped at
 * MAX_IMAGE_WARNINGS and only built when shown; the rest are counted into one last line.
 */
export class ReviewWarnings {
  // at most a handful: a linear search is the cheapest de-duplication
  private readonly texts: string[] = []
  /** images already warned about or counted; made on the first, as most reviews have none */
  private seenImages: Record<ImageProblem, Set<string>> | undefined
  private readonly notShown: Record<ImageProblem, number> = { invalid: 0, foreign: 0 }
  private imagesShown = 0

  /** a warning about the review as a whole: always kept */
  add (text: string): void {
    if (!this.texts.includes(text)) this.texts.push(text)
  }

  /** a warning about one image; the same image twice is one warning */
  image (problem: ImageProblem, reference: string, text: () => string): void {
    this.seenImages ??= { invalid: new Set(), foreign: new Set() }
    const seen = this.seenImages[problem]
    if (seen.has(reference)) return
    seen.add(reference)
    if (this.imagesShown < MAX_IMAGE_WARNINGS) {
      this.imagesShown++
      this.add(text())
    } else {
      this.notShown[problem]++
    }
  }

  list (): string[] {
    const { invalid, foreign } = this.notShown
    return invalid + foreign === 0 ? this.texts : [...this.texts, WARNINGS.moreImages(invalid, foreign)]
  }
}

// Go's unicode.IsControl, less what JSON.stringify already escapes
const C1_CONTROL = /[\u007f-\u009f]/g

/** A value in double quotes. */
function quoted (value: string): string {
  return `"${shown(value)}"`
}

// printable ASCII but for '"' and '\\': what nearly every value is, shown as it is
const PLAIN_VALUE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** A value cut, and escaped as in JSON (control characters, quotes, lone surrogates). */
function shown (value: string): string {
  if (value.length <= MAX_VALUE_CODE_POINTS && PLAIN_VALUE.test(value)) return value
  return JSON.stringify(truncateCodePoints(value, MAX_VALUE_CODE_POINTS)).slice(1, -1).replace(C1_CONTROL, escapeUnit)
}

function escapeUnit (unit: string): string {
  return `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`
}
