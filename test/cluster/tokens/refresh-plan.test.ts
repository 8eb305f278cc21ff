// planRefresh: what the minter mints, deletes and waits for, from sources, derived tokens and the time.

import t from 'tap'
import { refreshAtMs, type DerivedToken } from '../../../src/cluster/live/tokens/derived-token.js'
import { planRefresh, type MintAttempts, type RefreshPlanInput } from '../../../src/cluster/live/tokens/refresh-plan.js'
import type { TokenSource } from '../../../src/cluster/tokens/token-source.js'

const H = 3_600_000
const NOW = 100 * H

const acme: TokenSource = { name: 'acme-ecr', uid: 'u1', version: '5', owner: 'acme', settings: { provider: 'ecr', region: 'eu-west-1', registryIds: [] } }
const ok = (source: TokenSource): RefreshPlanInput['sources'][number] => ({ kind: 'source', source })
const token = (over: Partial<DerivedToken> = {}): DerivedToken => ({
  secretName: 'acme-ecr-token', resourceVersion: '9', source: 'acme-ecr', owner: 'acme', provider: 'ecr', sourceVersion: '5',
  mintedAtMs: NOW - 2 * H, refreshAtMs: NOW + 4 * H, expiresAtMs: NOW + 10 * H, ...over
})

interface Case {
  name: string
  input: Partial<RefreshPlanInput>
  mint: string[]
  remove: Array<[string, string]>
  nextWakeMs: number | undefined
}

const cases: Case[] = [
  { name: 'a new source is minted at once', input: { sources: [ok(acme)] }, mint: ['acme-ecr'], remove: [], nextWakeMs: undefined },
  { name: 'a fresh token waits for its refresh time', input: { sources: [ok(acme)], derived: [token()] }, mint: [], remove: [], nextWakeMs: NOW + 4 * H },
  { name: 'refresh time reached: minted again, before expiry', input: { sources: [ok(acme)], derived: [token({ refreshAtMs: NOW })] }, mint: ['acme-ecr'], remove: [], nextWakeMs: NOW + 10 * H },
  { name: 'settings changed: minted again at once', input: { sources: [ok({ ...acme, version: '6' })], derived: [token()] }, mint: ['acme-ecr'], remove: [], nextWakeMs: NOW + 10 * H },
  {
    name: 'a failed refresh waits out its backoff, the token stays',
    input: { sources: [ok(acme)], derived: [token({ refreshAtMs: NOW - H })], attempts: new Map<string, MintAttempts>([['acme-ecr', { sourceVersion: '5', failures: 2, retryAtMs: NOW + 20_000 }]]) },
    mint: [], remove: [], nextWakeMs: NOW + 20_000
  },
  {
    name: 'the source changed during a backoff: tried at once',
    input: { sources: [ok({ ...acme, version: '6' })], derived: [token()], attempts: new Map([['acme-ecr', { sourceVersion: '5', failures: 2, retryAtMs: NOW + 20_000 }]]) },
    mint: ['acme-ecr'], remove: [], nextWakeMs: NOW + 10 * H
  },
  {
    name: 'backoff over: tried again',
    input: { sources: [ok(acme)], derived: [token({ refreshAtMs: NOW - H })], attempts: new Map([['acme-ecr', { sourceVersion: '5', failures: 2, retryAtMs: NOW }]]) },
    mint: ['acme-ecr'], remove: [], nextWakeMs: NOW + 10 * H
  },
  { name: 'expired: removed, not served', input: { sources: [ok(acme)], derived: [token({ refreshAtMs: NOW - 6 * H, expiresAtMs: NOW })] }, mint: [], remove: [['acme-ecr-token', 'expired']], nextWakeMs: undefined },
  { name: 'source deleted: its token goes', input: { sources: [], derived: [token()] }, mint: [], remove: [['acme-ecr-token', 'source deleted']], nextWakeMs: undefined },
  { name: 'source relabelled to another tenant: its token goes at once', input: { sources: [ok({ ...acme, owner: 'globex', version: '6' })], derived: [token()] }, mint: [], remove: [['acme-ecr-token', 'source relabelled']], nextWakeMs: undefined },
  { name: 'source relabelled to shared: same', input: { sources: [ok({ ...acme, owner: null })], derived: [token()] }, mint: [], remove: [['acme-ecr-token', 'source relabelled']], nextWakeMs: undefined },
  {
    name: 'settings gone bad: the token stays until expiry, no refresh',
    input: { sources: [{ kind: 'invalid', name: 'acme-ecr', owner: 'acme', reason: 'x' }], derived: [token({ refreshAtMs: NOW - H })] },
    mint: [], remove: [], nextWakeMs: NOW + 10 * H
  },
  {
    name: 'settings gone bad and expired: removed',
    input: { sources: [{ kind: 'invalid', name: 'acme-ecr', owner: 'acme', reason: 'x' }], derived: [token({ expiresAtMs: NOW - 1 })] },
    mint: [], remove: [['acme-ecr-token', 'expired']], nextWakeMs: undefined
  },
  { name: 'a mint under way is not started twice', input: { sources: [ok(acme)], minting: new Set(['acme-ecr']) }, mint: [], remove: [], nextWakeMs: undefined },
  { name: 'a derived Secret under a name not its source\'s', input: { sources: [ok(acme)], derived: [token({ secretName: 'other' })] }, mint: [], remove: [['other', 'not its source\'s derived name']], nextWakeMs: undefined },
  {
    name: 'two sources: the earliest due time wins',
    input: {
      sources: [ok(acme), ok({ ...acme, name: 'globex-gar', owner: 'globex' })],
      derived: [token(), token({ secretName: 'globex-gar-token', source: 'globex-gar', owner: 'globex', refreshAtMs: NOW + H, expiresAtMs: NOW + 2 * H })]
    },
    mint: [], remove: [], nextWakeMs: NOW + H
  }
]

for (const c of cases) {
  t.test(c.name, async t => {
    const plan = planRefresh({ sources: [], derived: [], attempts: new Map(), minting: new Set(), nowMs: NOW, ...c.input })
    t.same(plan.mint.map(source => source.name), c.mint, 'mint')
    t.same(plan.remove.map(({ token, reason }) => [token.secretName, reason]), c.remove, 'remove')
    t.equal(plan.nextWakeMs, c.nextWakeMs, 'next wake')
  })
}

t.test('refresh at half the lifetime, ±10 % of it', async t => {
  t.equal(refreshAtMs(0, 12 * H, 0.5), 6 * H)
  t.equal(refreshAtMs(0, 12 * H, 0), Math.round(12 * H * 0.4))
  t.equal(refreshAtMs(0, 12 * H, 0.999999), Math.round(12 * H * (0.5 + (0.999999 * 2 - 1) * 0.1)))
  t.equal(refreshAtMs(10, 5, 0.5), 10, 'an already-expired lifetime refreshes at once')
})
