// What the token minter does next, as a pure step: given the token sources, the derived Secrets as
// cached, the failed attempts and the time, which sources to mint now, which derived Secrets to
// delete, and when to look again. The minter runs it after every change and at the wake-up it asks for.

import type { DerivedToken } from './derived-token.js'
import { derivedSecretName } from './derived-token.js'
import type { TokenSource, TokenSourceReading } from '../../tokens/token-source.js'

/** consecutive failed mints of one version of a source, and when the next try is due */
export interface MintAttempts {
  /** a changed source (fixed settings, new labels) is tried at once, whatever the backoff */
  sourceVersion: string
  failures: number
  retryAtMs: number
}

export interface RefreshPlanInput {
  /** token sources, usable or not (readings of kind 'ignored' are left out) */
  sources: ReadonlyArray<Exclude<TokenSourceReading, { kind: 'ignored' }>>
  derived: readonly DerivedToken[]
  attempts: ReadonlyMap<string, MintAttempts>
  /** sources whose mint is under way */
  minting: ReadonlySet<string>
  nowMs: number
}

export type RemovalReason = 'expired' | 'source deleted' | 'source relabelled' | 'not its source\'s derived name'

export interface RefreshPlan {
  mint: TokenSource[]
  remove: Array<{ token: DerivedToken, reason: RemovalReason }>
  /** epoch ms of the next refresh, expiry or retry; undefined: nothing is due ever, until a change */
  nextWakeMs: number | undefined
}

export function planRefresh ({ sources, derived, attempts, minting, nowMs }: RefreshPlanInput): RefreshPlan {
  const byName = new Map(sources.map(reading => [reading.kind === 'source' ? reading.source.name : reading.name, reading]))
  const plan: RefreshPlan = { mint: [], remove: [], nextWakeMs: undefined }
  const wakeAt = (ms: number): void => {
    if (ms > nowMs && (plan.nextWakeMs === undefined || ms < plan.nextWakeMs)) plan.nextWakeMs = ms
  }

  const current = new Map<string, DerivedToken>()
  for (const token of derived) {
    const reading = byName.get(token.source)
    const owner = reading === undefined ? undefined : reading.kind === 'source' ? reading.source.owner : reading.owner
    let reason: RemovalReason | undefined
    if (reading === undefined) reason = 'source deleted'
    // A relabelled source no longer grants the old owner anything, however fresh the token.
    else if (owner !== token.owner) reason = 'source relabelled'
    else if (token.secretName !== derivedSecretName(token.source)) reason = 'not its source\'s derived name'
    // An expired token is removed, not served; a fresh one is minted once the removal is seen.
    else if (nowMs >= token.expiresAtMs) reason = 'expired'
    if (reason !== undefined) {
      plan.remove.push({ token, reason })
      continue
    }
    current.set(token.source, token)
    // A source whose settings went bad keeps serving its token until expiry, like any bad source.
    wakeAt(token.expiresAtMs)
  }
  const removing = new Set(plan.remove.map(({ token }) => token.source))

  for (const reading of sources) {
    if (reading.kind !== 'source') continue
    const { source } = reading
    if (minting.has(source.name) || removing.has(source.name)) continue
    const token = current.get(source.name)
    const due = token === undefined || token.sourceVersion !== source.version || nowMs >= token.refreshAtMs
    if (!due) {
      wakeAt(token.refreshAtMs)
      continue
    }
    const attempt = attempts.get(source.name)
    const retryAtMs = attempt?.sourceVersion === source.version ? attempt.retryAtMs : -Infinity
    if (nowMs < retryAtMs) wakeAt(retryAtMs)
    else plan.mint.push(source)
  }
  return plan
}
