// The token minter end to end in live mode with the exec provider: a script plugin speaking the
// kubelet's credential provider protocol, the real client against the API double, the minter's time
// on a fake clock. First mint, refresh before expiry, a failed refresh that keeps the old token,
// expiry that removes it, relabel and deletion, service-account-token mode, and no token in any log.

import t from 'tap'
import { TOKEN_SOURCE_TYPE } from '../../../src/admission/credentials.js'
import { FakeClock } from '../../support/fake-clock.js'
import { credentialPlugin, providerResponse } from '../../support/credential-plugin.js'
import type { KubeObject } from '../../support/api-double.js'
import { OPTIONS, dockerConfigOf, managedSecret, metricValue, seed, startApi, startSyncedView, waitFor, waitForMetric } from '../helper.js'

const MIN = 60_000
const START = Date.parse('2027-03-01T08:00:00Z')
const REGISTRY = 'registry.tokens.example'
const WAIT_MS = 8000

function tokenSource (name: string, labels: Record<string, string>, data: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: OPTIONS.credentialsNamespace, labels }, type: TOKEN_SOURCE_TYPE, stringData: data } as unknown as KubeObject
}

const passwordIn = (config: string | undefined): string | undefined => {
  if (config === undefined) return undefined
  const entry = (JSON.parse(config) as { auths: Record<string, { password?: string }> }).auths[REGISTRY]
  return entry?.password
}

t.test('exec: mint, refresh, failure, expiry, relabel, delete', async t => {
  const plugin = await credentialPlugin()
  t.teardown(() => plugin.remove())
  const { api, started } = await startApi(t)
  seed(api)
  api.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'puller', namespace: 'team-a' } } as unknown as KubeObject)
  const clock = new FakeClock(START)
  const { log, metrics } = await startSyncedView(t, started, {
    tokens: {
      environment: { pluginDir: plugin.dir },
      clock,
      epochMs: () => clock.now(),
      random: () => 0.5,
      tuning: { retry: { baseDelayMs: 10 * MIN, maxDelayMs: 10 * MIN, jitter: 0 } }
    }
  })
  const derived = (): KubeObject | undefined => api.get('Secret', OPTIONS.credentialsNamespace, 'acme-exec-token')
  const servedTo = (ns: string): string | undefined => passwordIn(dockerConfigOf(managedSecret(api, ns)))
  const refreshes = (result: string): Promise<number> => metricValue(metrics, 'pullguard_credential_token_refreshes_total', { provider: 'exec', result })

  await plugin.answer(providerResponse(REGISTRY, 'acme-bot', 'tok-1', '1h0m0s'))
  api.create(tokenSource('acme-exec', { [OPTIONS.tenantLabel]: 'acme' }, {
    provider: 'exec',
    command: plugin.name,
    args: '["get-credentials"]',
    env: '{"PLUGIN_MARK":"acme"}',
    images: `${REGISTRY}/acme/app`,
    serviceAccount: 'team-a/puller',
    audience: REGISTRY
  }))

  await t.test('first mint: a derived Secret, merged into the tenant\'s namespaces only', async t => {
    await waitFor(() => servedTo('team-a') === 'tok-1', 'team-a to get the minted token', WAIT_MS)
    const secret = derived() as KubeObject & { type: string, metadata: { ownerReferences?: Array<{ name: string, uid: string }> } }
    t.equal(secret.type, 'kubernetes.io/dockerconfigjson')
    t.equal(secret.metadata.labels?.[OPTIONS.tenantLabel], 'acme')
    t.equal(secret.metadata.annotations?.['pullguard.dev/token-source'], 'acme-exec')
    t.equal(secret.metadata.annotations?.['pullguard.dev/token-expires-at'], new Date(START + 60 * MIN).toISOString())
    const source = api.get('Secret', OPTIONS.credentialsNamespace, 'acme-exec') as KubeObject
    t.same(secret.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Secret', name: 'acme-exec', uid: source.metadata.uid }])
    t.ok(JSON.parse(dockerConfigOf(managedSecret(api, 'team-a')) ?? '{}').auths['registry.acme.example'], 'the static credentials stay beside it')
    t.equal(servedTo('team-b'), undefined, 'globex never sees acme\'s token')
    const [first] = await plugin.requests()
    t.same(first, {
      request: {
        apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
        kind: 'CredentialProviderRequest',
        image: `${REGISTRY}/acme/app`,
        serviceAccountToken: api.issuedTokens[0]?.token,
        serviceAccountAnnotations: {}
      },
      argv: ['get-credentials'],
      env: 'acme'
    })
    t.same(api.issuedTokens.map(({ namespace, name, audiences }) => ({ namespace, name, audiences })), [{ namespace: 'team-a', name: 'puller', audiences: [REGISTRY] }])
    t.equal(await refreshes('success'), 1)
    t.equal(await metricValue(metrics, 'pullguard_credential_token_expiry_timestamp_seconds', { source: 'acme-exec', provider: 'exec' }), (START + 60 * MIN) / 1000)
  })

  await t.test('refreshed at half its lifetime, not before', async t => {
    await plugin.answer(providerResponse(REGISTRY, 'acme-bot', 'tok-2', '1h'))
    await clock.advance(29 * MIN)
    t.equal((await plugin.requests()).length, 1, 'no mint before the refresh time')
    await clock.advance(1 * MIN)
    await waitFor(() => servedTo('team-a') === 'tok-2', 'the refreshed token', WAIT_MS)
    t.equal(await refreshes('success'), 2)
  })

  await t.test('a failed refresh keeps the current token until it expires, then it is removed', async t => {
    await plugin.fail(3)
    const refreshedAt = clock.now()
    for (let failures = 1; failures <= 3; failures++) {
      await clock.advance(failures === 1 ? 30 * MIN : 10 * MIN)
      await waitForValue(() => refreshes('failure'), failures, WAIT_MS)
      t.equal(servedTo('team-a'), 'tok-2', `still served after ${failures} failures`)
    }
    t.equal(clock.now(), refreshedAt + 50 * MIN)
    t.ok(log.records('token refresh failed: the current token stays until it expires').length >= 3)
    await clock.advance(10 * MIN)
    await waitFor(() => derived() === undefined, 'the expired token to be deleted', WAIT_MS)
    await waitFor(() => servedTo('team-a') === undefined, 'team-a to lose the expired token', WAIT_MS)
    t.ok(managedSecret(api, 'team-a'), 'team-a keeps its static credentials')
    t.equal(log.records('derived token Secret deleted')[0]?.reason, 'expired')
    await waitForValue(() => refreshes('failure'), 4, WAIT_MS)
    t.match(log.records('token mint failed').at(-1), { source: 'acme-exec', error: 'plugin test-credential-provider: exit code 3' })
    await plugin.answer(providerResponse(REGISTRY, 'acme-bot', 'tok-3', '1h'))
    await clock.advance(10 * MIN)
    await waitFor(() => servedTo('team-a') === 'tok-3', 'a fresh token after the backoff', WAIT_MS)
  })

  await t.test('relabelled to another tenant: removed at once, and no token for another tenant\'s ServiceAccount', async t => {
    const source = api.get('Secret', OPTIONS.credentialsNamespace, 'acme-exec') as KubeObject
    const issued = api.issuedTokens.length
    const failed = await refreshes('failure')
    api.update({ ...source, metadata: { ...source.metadata, labels: { [OPTIONS.tenantLabel]: 'globex' } } })
    await waitFor(() => servedTo('team-a') === undefined, 'acme to lose the token', WAIT_MS)
    await waitForValue(() => refreshes('failure'), failed + 1, WAIT_MS)
    t.equal(servedTo('team-b'), undefined, 'globex gets nothing minted from team-a\'s ServiceAccount')
    t.equal(api.issuedTokens.length, issued, 'no TokenRequest for a namespace of another tenant')
    t.match(log.records('token mint failed').at(-1), { tenant: 'globex', error: 'namespace team-a is not a namespace of tenant globex' })
  })

  await t.test('source deleted: nothing derived stays', async t => {
    const source = api.get('Secret', OPTIONS.credentialsNamespace, 'acme-exec') as KubeObject
    api.update({ ...source, metadata: { ...source.metadata, labels: { [OPTIONS.tenantLabel]: 'acme' } } })
    await waitFor(() => servedTo('team-a') === 'tok-3', 'acme to get it back', WAIT_MS)
    api.remove('Secret', OPTIONS.credentialsNamespace, 'acme-exec')
    await waitFor(() => derived() === undefined && servedTo('team-a') === undefined, 'the derived Secret to go with its source', WAIT_MS)
    t.equal(log.records('derived token Secret deleted').at(-1)?.reason, 'source deleted')
  })

  await t.test('bad settings are reported once, by name, and nothing else is disturbed', async t => {
    api.create(tokenSource('broken', { [OPTIONS.tenantLabel]: 'acme' }, { provider: 'exec', command: '../../bin/sh', images: `${REGISTRY}/x` }))
    await waitFor(() => log.records('token source unusable: its current token (if any) is kept until it expires').length === 1, 'the report', WAIT_MS)
    t.match(log.records('token source unusable: its current token (if any) is kept until it expires')[0], { secret: 'broken', reason: 'command must be a plain file name in the plugin directory, without a path' })
    t.notOk(log.lines.some(line => line.includes('unusable Secrets') && line.includes('broken')), 'not a bad credential Secret')
    // reported as credential health reports any unusable source: the gauge (and the leader's Events)
    await waitForMetric(metrics, 'pullguard_credential_source_problems', { tenant: 'acme', reason: 'InvalidTokenSource' }, value => value === 1, WAIT_MS)
    t.pass('pullguard_credential_source_problems{tenant="acme",reason="InvalidTokenSource"} 1')
    t.ok(managedSecret(api, 'team-a'), 'team-a keeps its managed Secret')
  })

  t.test('no token bytes in any log line', async t => {
    const secrets = ['tok-1', 'tok-2', 'tok-3', ...api.issuedTokens.map(issued => issued.token), Buffer.from('acme-bot:tok-1').toString('base64')]
    for (const line of log.lines) for (const secret of secrets) if (line.includes(secret)) t.fail(`a log line holds ${secret}: ${line}`)
    t.ok(log.lines.length > 10, 'there were log lines to look at')
  })
})

async function waitForValue (read: () => Promise<number>, value: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const current = await read()
    if (current >= value) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${value}, last ${current}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}
