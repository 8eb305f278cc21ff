// A provider mints one source's token. Each lives in its own module, imported only when a source of
// its kind exists: the AWS and Google SDKs cost start time and memory that a cluster without such
// sources (and standalone mode, always) should not pay.

import type { MintedToken } from '../derived-token.js'
import type { ExecSettings, TokenSettings, TokenSource } from '../../../tokens/token-source.js'

export interface MintContext {
  source: TokenSource
  /** aborts the mint when it runs too long or the minter stops */
  signal: AbortSignal
  /** epoch ms at the start of the mint */
  nowMs: number
  /** exec's service-account-token mode: a TokenRequest for that ServiceAccount */
  serviceAccountToken: (account: NonNullable<ExecSettings['serviceAccount']>) => Promise<string>
}

export type Mint<S extends TokenSettings = TokenSettings> = (settings: S, context: MintContext) => Promise<MintedToken>

/**
 * Where the providers find what they call. In production only pluginDir is set; the endpoints point
 * the real SDK clients at local doubles in tests (the AWS SDK also reads AWS_ENDPOINT_URL_ECR/_STS).
 */
export interface ProviderEnvironment {
  /** exec plugins live here (the kubelet's --image-credential-provider-bin-dir) */
  pluginDir: string
  /** per exec plugin run; the kubelet's own default is one minute */
  execTimeoutMs?: number
  aws?: { stsEndpoint?: string, ecrEndpoint?: string }
  google?: { tokenUrl?: string, iamCredentialsEndpoint?: string }
}

export const DEFAULT_PLUGIN_DIR = '/var/lib/pullguard/credential-providers'

/** A mint failed in a way that is safe to log: the message never holds token bytes. */
export class MintError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'MintError'
  }
}
