// The AdmissionReview envelope: what makes a body a review we can answer, and the answer's wrapper.
// A body that fails here is a protocol error (HTTP 400 / CLI exit 2), never a policy decision.

import {
  ADMISSION_API_VERSIONS,
  type AdmissionApiVersion,
  type AdmissionResponse,
  type AdmissionReview,
  type Operation
} from './types.js'

const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT']

export type ParsedReview = { ok: true, review: AdmissionReview } | { ok: false, error: string }

export function parseAdmissionReview (body: unknown): ParsedReview {
  if (!isObject(body)) return fail('body is not a JSON object')
  const { apiVersion, kind, request } = body
  if (!ADMISSION_API_VERSIONS.includes(apiVersion as AdmissionApiVersion)) {
    return fail(`apiVersion must be one of ${ADMISSION_API_VERSIONS.join(', ')}, got ${describe(apiVersion)}`)
  }
  if (kind !== 'AdmissionReview') return fail(`kind must be AdmissionReview, got ${describe(kind)}`)
  if (!isObject(request)) return fail('request is missing or not an object')
  if (typeof request.uid !== 'string' || request.uid === '') return fail('request.uid is missing or empty')
  if (!OPERATIONS.includes(request.operation as Operation)) {
    return fail(`request.operation must be one of ${OPERATIONS.join(', ')}, got ${describe(request.operation)}`)
  }
  // The decision reads these; a wrong type is a malformed envelope, not a policy question.
  for (const field of ['namespace', 'name', 'subResource'] as const) {
    if (request[field] !== undefined && typeof request[field] !== 'string') return fail(`request.${field} is not a string`)
  }
  if (request.dryRun !== undefined && request.dryRun !== null && typeof request.dryRun !== 'boolean') return fail('request.dryRun is not a boolean')
  if (request.resource !== undefined && !isObject(request.resource)) return fail('request.resource is not an object')
  if (request.userInfo !== undefined && request.userInfo !== null) {
    if (!isObject(request.userInfo)) return fail('request.userInfo is not an object')
    if (request.userInfo.username !== undefined && typeof request.userInfo.username !== 'string') return fail('request.userInfo.username is not a string')
  }
  for (const field of ['object', 'oldObject'] as const) {
    const value = request[field]
    if (value !== undefined && value !== null && !isObject(value)) return fail(`request.${field} is not an object`)
  }
  return { ok: true, review: body as unknown as AdmissionReview }
}

/** The answer: same apiVersion as the request (the API server rejects a mismatch), uid echoed. */
export function answerReview (request: AdmissionReview, response: AdmissionResponse): AdmissionReview {
  return { apiVersion: request.apiVersion, kind: 'AdmissionReview', response }
}

export function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function fail (error: string): ParsedReview {
  return { ok: false, error }
}

// Echo enough of a bad value to debug with, never a whole (possibly huge or secret-bearing) object.
function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value)
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  return Array.isArray(value) ? 'an array' : typeof value
}
