// The kubelet's credential provider protocol, credentialprovider.kubelet.k8s.io/v1: one
// CredentialProviderRequest on the plugin's stdin, one CredentialProviderResponse on its stdout.
// Pure: the request's text, and the response read into logins and a lifetime (or a reason that never
// quotes the response, which holds passwords).

import type { RegistryLogin } from '../derived-token.js'
import { parseGoDuration } from '../../../tokens/go-duration.js'

export const CREDENTIAL_PROVIDER_API_VERSION = 'credentialprovider.kubelet.k8s.io/v1'

export function credentialProviderRequest (image: string, serviceAccountToken?: string): string {
  return JSON.stringify({
    apiVersion: CREDENTIAL_PROVIDER_API_VERSION,
    kind: 'CredentialProviderRequest',
    image,
    // service-account-token mode (KubeletServiceAccountTokenForCredentialProviders); annotations are
    // not read: pullguard may create tokens for the ServiceAccount, not get it
    ...(serviceAccountToken !== undefined && { serviceAccountToken, serviceAccountAnnotations: {} })
  })
}

export type ProviderAnswer =
  | { ok: true, logins: Record<string, RegistryLogin>, cacheDurationMs: number | undefined }
  | { ok: false, reason: string }

export function readCredentialProviderResponse (stdout: string): ProviderAnswer {
  let parsed: unknown
  try {
    parsed = JSON.parse(stdout)
  } catch {
    return { ok: false, reason: 'the plugin\'s output is not JSON' }
  }
  if (!isRecord(parsed)) return { ok: false, reason: 'the plugin\'s output is not a JSON object' }
  if (parsed.kind !== 'CredentialProviderResponse' || parsed.apiVersion !== CREDENTIAL_PROVIDER_API_VERSION) {
    return { ok: false, reason: `the plugin answered ${safe(parsed.apiVersion)} ${safe(parsed.kind)}, expected ${CREDENTIAL_PROVIDER_API_VERSION} CredentialProviderResponse` }
  }
  let cacheDurationMs: number | undefined
  if (parsed.cacheDuration !== undefined) {
    cacheDurationMs = typeof parsed.cacheDuration === 'string' ? parseGoDuration(parsed.cacheDuration) : undefined
    if (cacheDurationMs === undefined) return { ok: false, reason: 'cacheDuration is not a duration' }
    // 0 is the kubelet's "do not cache": a Secret is a cache, so there is nothing pullguard can keep
    if (cacheDurationMs === 0) return { ok: false, reason: 'cacheDuration is 0 (do not cache): a token that may not be kept cannot be written to a Secret' }
  }
  if (!isRecord(parsed.auth)) return { ok: false, reason: 'the response has no auth map' }
  const logins: Record<string, RegistryLogin> = {}
  for (const [key, entry] of Object.entries(parsed.auth)) {
    if (!isRecord(entry) || typeof entry.username !== 'string' || typeof entry.password !== 'string') {
      return { ok: false, reason: 'an auth entry lacks a string username or password' }
    }
    logins[key] = { username: entry.username, password: entry.password }
  }
  if (Object.keys(logins).length === 0) return { ok: false, reason: 'the response\'s auth map is empty' }
  return { ok: true, logins, cacheDurationMs }
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// apiVersion and kind are quoted when wrong, bounded; anything else about the answer is not.
function safe (value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 60)) : typeof value
}
