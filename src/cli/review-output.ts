// What `pullguard review --output` prints. The webhook's answer carries its patch base64-encoded, as
// the API server wants it; a person or a CI step wants to read the operations, or the Pod they yield.

import jsonpatch from 'fast-json-patch'
import type { AdmissionResponse, AdmissionReview, PatchOperation } from '../admission/types.js'
import type { ReviewOutput } from './review-flags.js'

export interface RenderedReview {
  /** what goes to stdout; undefined prints nothing (a denied Pod has no patch and no patched form) */
  stdout?: string
  /** why nothing was printed, for stderr */
  note?: string
}

/** The operations of a response's patch; none when it has no patch. */
export function decodedPatch (response: AdmissionResponse): PatchOperation[] {
  if (response.patch === undefined) return []
  return JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as PatchOperation[]
}

/**
 * `answer`: the AdmissionReview as the webhook returns it, on one line as before, plus
 * `response.patchDecoded` beside the base64 `patch` (Kubernetes ignores the extra field).
 * `patch`: the operations. `patched`: the reviewed object with them applied (strictly: a patch that
 * does not apply is a bug, and throws). The last two are indented, for reading and diffing.
 */
export function renderReview (output: ReviewOutput, review: AdmissionReview, answer: AdmissionReview): RenderedReview {
  const response = answer.response
  if (response === undefined) throw new TypeError('an answer without a response')
  if (output === 'answer') {
    return { stdout: `${JSON.stringify({ ...answer, response: withPatchDecoded(response) })}\n` }
  }
  if (!response.allowed) return { note: `--output ${output}: nothing to print, the request is denied` }
  const operations = decodedPatch(response)
  if (output === 'patch') return { stdout: `${JSON.stringify(operations, null, 2)}\n` }
  const object = review.request?.object
  if (object === undefined || object === null) return { note: '--output patched: the request has no object to patch' }
  const patched: unknown = jsonpatch.applyPatch(structuredClone(object), operations as jsonpatch.Operation[], true, false).newDocument
  return { stdout: `${JSON.stringify(patched, null, 2)}\n` }
}

function withPatchDecoded (response: AdmissionResponse): AdmissionResponse & { patchDecoded?: PatchOperation[] } {
  if (response.patch === undefined) return response
  // Rebuilt key by key so that the decoded copy sits right after the encoded one.
  const result: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(response)) {
    result[key] = value
    if (key === 'patch') result.patchDecoded = decodedPatch(response)
  }
  return result as unknown as AdmissionResponse & { patchDecoded?: PatchOperation[] }
}
