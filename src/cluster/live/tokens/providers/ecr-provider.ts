// `ecr`: GetAuthorizationToken with pullguard's own identity from the SDK's standard chain (IRSA, EKS
// Pod Identity, env), or, per tenant, with a role assumed through STS (with its external id) so the
// token covers only that role's repositories. Nothing of AWS is hand-written: signing, retries and
// the credential chain are the SDK's.

import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import type { RegistryLogin } from '../derived-token.js'
import type { EcrSettings } from '../../../tokens/token-source.js'
import { MintError, type Mint, type ProviderEnvironment } from './provider.js'

// 15 minutes, STS's minimum: the role's session only has to last for the GetAuthorizationToken call
const ASSUMED_ROLE_SECONDS = 900
// RoleSessionName: [\w+=,.@-]{2,64}; it names the tenant in the role's CloudTrail entries
const SESSION_NAME_MAX = 64

export function ecrProvider (environment: ProviderEnvironment): Mint<EcrSettings> {
  const endpoints = environment.aws ?? {}
  return async (settings, context) => {
    const { region } = settings
    const abortSignal = context.signal
    let credentials: { accessKeyId: string, secretAccessKey: string, sessionToken?: string } | undefined
    if (settings.roleArn !== undefined) {
      const sts = new STSClient({ region, ...(endpoints.stsEndpoint !== undefined && { endpoint: endpoints.stsEndpoint }) })
      try {
        const assumed = await sts.send(new AssumeRoleCommand({
          RoleArn: settings.roleArn,
          RoleSessionName: sessionName(context.source.owner),
          DurationSeconds: ASSUMED_ROLE_SECONDS,
          ...(settings.externalId !== undefined && { ExternalId: settings.externalId })
        }), { abortSignal })
        const given = assumed.Credentials
        if (given?.AccessKeyId === undefined || given.SecretAccessKey === undefined) throw new MintError('sts AssumeRole returned no credentials')
        credentials = { accessKeyId: given.AccessKeyId, secretAccessKey: given.SecretAccessKey, ...(given.SessionToken !== undefined && { sessionToken: given.SessionToken }) }
      } catch (err) {
        throw awsError('sts AssumeRole', err)
      } finally {
        sts.destroy()
      }
    }
    const ecr = new ECRClient({
      region,
      ...(credentials !== undefined && { credentials }),
      ...(endpoints.ecrEndpoint !== undefined && { endpoint: endpoints.ecrEndpoint })
    })
    try {
      const answer = await ecr.send(new GetAuthorizationTokenCommand(settings.registryIds.length > 0 ? { registryIds: settings.registryIds } : {}), { abortSignal })
      const logins: Record<string, RegistryLogin> = {}
      let expiresAtMs = Infinity
      for (const data of answer.authorizationData ?? []) {
        const decoded = Buffer.from(data.authorizationToken ?? '', 'base64').toString('utf8')
        const colon = decoded.indexOf(':')
        const host = hostOf(data.proxyEndpoint)
        if (colon < 0 || host === undefined) throw new MintError('ecr GetAuthorizationToken: an authorizationData entry lacks a token or proxyEndpoint')
        logins[host] = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
        expiresAtMs = Math.min(expiresAtMs, data.expiresAt?.getTime() ?? Infinity)
      }
      if (Object.keys(logins).length === 0) throw new MintError('ecr GetAuthorizationToken returned no authorizationData')
      if (!Number.isFinite(expiresAtMs)) throw new MintError('ecr GetAuthorizationToken returned no expiresAt')
      return { logins, expiresAtMs }
    } catch (err) {
      throw awsError('ecr GetAuthorizationToken', err)
    } finally {
      ecr.destroy()
    }
  }
}

function sessionName (owner: string | null): string {
  return `pullguard-${owner ?? 'shared'}`.replace(/[^\w+=,.@-]/g, '-').slice(0, SESSION_NAME_MAX)
}

function hostOf (endpoint: string | undefined): string | undefined {
  if (endpoint === undefined) return undefined
  try {
    return new URL(endpoint).host
  } catch {
    return undefined
  }
}

// The SDK's errors carry the service's error code and message (AccessDenied: "User ... is not
// authorized"), never request credentials; keep only those.
function awsError (call: string, err: unknown): MintError {
  if (err instanceof MintError) return err
  const { name, message } = err as { name?: string, message?: string }
  return new MintError(`${call}: ${name ?? 'Error'}: ${(message ?? String(err)).slice(0, 300)}`)
}
