// `google`: an OAuth2 access token for Artifact Registry and GCR, username oauth2accesstoken, with
// pullguard's own identity from Application Default Credentials (GKE Workload Identity, a key file),
// or, per tenant, a service account impersonated through the IAM Credentials API.

import { GoogleAuth, Impersonated, type AuthClient } from 'google-auth-library'
import type { RegistryLogin } from '../derived-token.js'
import type { GoogleSettings } from '../../../tokens/token-source.js'
import { MintError, type Mint, type ProviderEnvironment } from './provider.js'

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform'
// the IAM Credentials default, and what an Artifact Registry login needs at most
const IMPERSONATED_LIFETIME_SECONDS = 3600
// what Artifact Registry and GCR expect as the username for an access token
const ACCESS_TOKEN_USERNAME = 'oauth2accesstoken'

export function googleProvider (environment: ProviderEnvironment): Mint<GoogleSettings> {
  const endpoints = environment.google ?? {}
  return async (settings, context) => {
    try {
      // A new client per mint: a cached token would carry less of its lifetime into the Secret.
      const auth = new GoogleAuth({
        scopes: [CLOUD_PLATFORM],
        ...(endpoints.tokenUrl !== undefined && { clientOptions: { endpoints: { oauth2TokenUrl: endpoints.tokenUrl } } })
      })
      const own = await auth.getClient() as AuthClient
      const client = settings.serviceAccount === undefined
        ? own
        : new Impersonated({
          sourceClient: own,
          targetPrincipal: settings.serviceAccount,
          targetScopes: [CLOUD_PLATFORM],
          delegates: [],
          lifetime: IMPERSONATED_LIFETIME_SECONDS,
          ...(endpoints.iamCredentialsEndpoint !== undefined && { endpoint: endpoints.iamCredentialsEndpoint })
        })
      if (context.signal.aborted) throw new MintError('aborted')
      const { token } = await client.getAccessToken()
      const expiresAtMs = client.credentials.expiry_date
      if (token == null || token === '') throw new MintError('google: no access token returned')
      if (typeof expiresAtMs !== 'number') throw new MintError('google: the access token came without an expiry')
      const logins: Record<string, RegistryLogin> = {}
      for (const host of settings.registries) logins[host] = { username: ACCESS_TOKEN_USERNAME, password: token }
      return { logins, expiresAtMs }
    } catch (err) {
      if (err instanceof MintError) throw err
      throw googleError(err)
    }
  }
}

// gaxios errors carry the request config (headers with the bearer token) and the response: keep the
// status and the API's own message only.
function googleError (err: unknown): MintError {
  const { message, status, response } = err as { message?: string, status?: number, response?: { status?: number, data?: unknown } }
  const data = response?.data as { error?: { message?: unknown } | string, error_description?: unknown } | undefined
  const apiMessage = typeof data?.error === 'object' && typeof data.error.message === 'string'
    ? data.error.message
    : typeof data?.error_description === 'string' ? data.error_description : typeof data?.error === 'string' ? data.error : undefined
  const code = status ?? response?.status
  return new MintError(`google: ${code !== undefined ? `HTTP ${code}: ` : ''}${(apiMessage ?? message ?? String(err)).slice(0, 300)}`)
}
