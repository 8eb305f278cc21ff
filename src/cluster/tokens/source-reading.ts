// One Secret of the credentials namespace as credential health reads it: a static source as the
// kubelet would (readCredentialSource), and a token source by its settings, so a token source that
// cannot be minted is reported like any unusable source (Event, gauge, status) instead of only logged.

import type { CredentialSourceOptions, SecretObject, SourceReading } from '../../admission/credentials.js'
import { readCredentialSource } from '../../admission/credentials.js'
import { readTokenSource } from './token-source.js'

export function readSource (secret: SecretObject, options: CredentialSourceOptions): SourceReading {
  const reading = readCredentialSource(secret, options)
  if (reading.kind !== 'ignored' || reading.why !== 'token source') return reading
  const token = readTokenSource(secret, options)
  if (token.kind !== 'invalid') return reading
  return { kind: 'invalid', name: token.name, tenant: token.owner, problems: [{ reason: 'InvalidTokenSource', detail: `token source: ${token.reason}` }] }
}
