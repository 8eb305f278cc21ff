// The ecr and google providers end to end in live mode: the real AWS SDK (STS AssumeRole with an
// external id, ECR GetAuthorizationToken) and google-auth-library (OAuth2 token, IAM Credentials
// impersonation) talk over HTTP to local doubles; two tenants with different roles never see each
// other's tokens, a refused role keeps the other tenants' tokens flowing, and no token is logged.

import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { TOKEN_SOURCE_TYPE } from '../../../src/admission/credentials.js'
import { startCloudDoubles } from '../../support/cloud-doubles.js'
import type { KubeObject } from '../../support/api-double.js'
import { OPTIONS, dockerConfigOf, managedSecret, metricValue, seed, startApi, startSyncedView, waitFor } from '../helper.js'

const WAIT_MS = 8000

// pullguard's own identity, as the SDKs' standard chains find it; nothing reaches a real cloud.
const credentialsDir = await mkdtemp(join(tmpdir(), 'pullguard-cloud-'))
t.teardown(() => rm(credentialsDir, { recursive: true, force: true }))
const googleKey = join(credentialsDir, 'adc.json')
await writeFile(googleKey, JSON.stringify({ type: 'authorized_user', client_id: 'pullguard-own', client_secret: 'cs', refresh_token: 'rt-own' }))
Object.assign(process.env, {
  AWS_ACCESS_KEY_ID: 'AKIAPULLGUARDOWN',
  AWS_SECRET_ACCESS_KEY: 'own-secret',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONFIG_FILE: join(credentialsDir, 'none'),
  AWS_SHARED_CREDENTIALS_FILE: join(credentialsDir, 'none'),
  GOOGLE_APPLICATION_CREDENTIALS: googleKey,
  // else the library probes for a project id, up to the metadata server (seconds of timeouts here)
  GOOGLE_CLOUD_PROJECT: 'pullguard-test',
  METADATA_SERVER_DETECTION: 'none'
})

function tokenSource (name: string, tenant: string, data: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: OPTIONS.credentialsNamespace, labels: { [OPTIONS.tenantLabel]: tenant } }, type: TOKEN_SOURCE_TYPE, stringData: data } as unknown as KubeObject
}

function authsOf (api: Parameters<typeof managedSecret>[0], ns: string): Record<string, { username: string, password: string, auth: string }> {
  return (JSON.parse(dockerConfigOf(managedSecret(api, ns)) ?? '{"auths":{}}') as { auths: Record<string, { username: string, password: string, auth: string }> }).auths
}

t.test('ecr and google through the real SDKs', async t => {
  const cloud = await startCloudDoubles({
    ownAccount: '000000000000',
    roles: [
      { arn: 'arn:aws:iam::111111111111:role/acme-pull', externalId: 'acme-ext', account: '111111111111' },
      { arn: 'arn:aws:iam::222222222222:role/globex-pull', externalId: 'globex-ext', account: '222222222222' }
    ]
  })
  t.teardown(() => cloud.close())
  const { api, started } = await startApi(t)
  seed(api)
  const { log, metrics } = await startSyncedView(t, started, {
    tokens: {
      environment: {
        pluginDir: credentialsDir,
        aws: { stsEndpoint: cloud.url, ecrEndpoint: cloud.url },
        google: { tokenUrl: `${cloud.url}/token`, iamCredentialsEndpoint: cloud.url }
      }
    }
  })

  await t.test('ecr: each tenant\'s token comes from its own role, and only it sees it', async t => {
    api.create(tokenSource('acme-ecr', 'acme', { provider: 'ecr', region: 'eu-west-1', roleArn: 'arn:aws:iam::111111111111:role/acme-pull', externalId: 'acme-ext' }))
    api.create(tokenSource('globex-ecr', 'globex', { provider: 'ecr', region: 'eu-west-1', roleArn: 'arn:aws:iam::222222222222:role/globex-pull', externalId: 'globex-ext' }))
    const acmeHost = '111111111111.dkr.ecr.eu-west-1.amazonaws.com'
    const globexHost = '222222222222.dkr.ecr.eu-west-1.amazonaws.com'
    await waitFor(() => authsOf(api, 'team-a')[acmeHost] !== undefined && authsOf(api, 'team-b')[globexHost] !== undefined, 'both tenants\' ECR tokens', WAIT_MS)
    const acme = authsOf(api, 'team-a')
    const globex = authsOf(api, 'team-b')
    t.match(acme[acmeHost], { username: 'AWS', password: /^ecr-pw-111111111111-/ })
    t.equal(acme[acmeHost]?.auth, Buffer.from(`AWS:${acme[acmeHost]?.password}`).toString('base64'))
    t.match(globex[globexHost], { username: 'AWS', password: /^ecr-pw-222222222222-/ })
    t.notOk(acme[globexHost], 'acme never holds globex\'s registry token')
    t.notOk(globex[acmeHost], 'globex never holds acme\'s')
    t.same(Object.keys(authsOf(api, 'sandbox')), [], 'a tenant without sources gets neither')
    const assumed = cloud.calls.filter(call => call.api === 'sts:AssumeRole').map(call => call.detail).sort()
    t.same(assumed, ['arn:aws:iam::111111111111:role/acme-pull pullguard-acme', 'arn:aws:iam::222222222222:role/globex-pull pullguard-globex'])
    t.ok(cloud.calls.filter(call => call.api === 'ecr:GetAuthorizationToken').every(call => call.caller.startsWith('ASIA')), 'ECR is called with the assumed role, never pullguard\'s own key')
    const expiry = await metricValue(metrics, 'pullguard_credential_token_expiry_timestamp_seconds', { source: 'acme-ecr', provider: 'ecr' })
    t.ok(expiry > Date.now() / 1000 + 11 * 3600, 'ECR\'s 12-hour expiry is what the metric says')
  })

  await t.test('ecr: a wrong external id is refused by STS; nothing is minted, nobody else disturbed', async t => {
    api.create(tokenSource('initech-ecr', 'initech', { provider: 'ecr', region: 'eu-west-1', roleArn: 'arn:aws:iam::111111111111:role/acme-pull', externalId: 'guess' }))
    await waitFor(() => log.records('token mint failed').some(r => r.source === 'initech-ecr'), 'the refusal', WAIT_MS)
    t.match(log.records('token mint failed').find(r => r.source === 'initech-ecr'), { error: /^sts AssumeRole: AccessDenied: User is not authorized/ })
    t.equal(api.get('Secret', OPTIONS.credentialsNamespace, 'initech-ecr-token'), undefined)
    t.same(Object.keys(authsOf(api, 'sandbox')), [])
    t.equal(await metricValue(metrics, 'pullguard_credential_token_refreshes_total', { provider: 'ecr', result: 'failure' }), 1)
  })

  await t.test('google: own identity and an impersonated service account, username oauth2accesstoken', async t => {
    api.create(tokenSource('acme-gar', 'acme', { provider: 'google', registries: 'europe-docker.pkg.dev,gcr.io' }))
    api.create(tokenSource('globex-gar', 'globex', { provider: 'google', registries: 'europe-docker.pkg.dev', serviceAccount: 'globex-puller@globex-prod.iam.gserviceaccount.com' }))
    await waitFor(() => authsOf(api, 'team-a')['gcr.io'] !== undefined && authsOf(api, 'team-b')['europe-docker.pkg.dev'] !== undefined, 'both tenants\' Google tokens', WAIT_MS)
    const acme = authsOf(api, 'team-a')
    t.match(acme['gcr.io'], { username: 'oauth2accesstoken', password: /^ya29\.own-/ })
    t.equal(acme['europe-docker.pkg.dev']?.password, acme['gcr.io']?.password)
    t.match(authsOf(api, 'team-b')['europe-docker.pkg.dev'], { username: 'oauth2accesstoken', password: /^ya29\.impersonated-globex-puller-/ })
    t.same(cloud.calls.filter(call => call.api === 'iamcredentials:generateAccessToken').map(call => [call.caller, call.detail]),
      [['own token', 'globex-puller@globex-prod.iam.gserviceaccount.com']])
  })

  await t.test('google: impersonation refused is reported with the API\'s message', async t => {
    api.create(tokenSource('initech-gar', 'initech', { provider: 'google', registries: 'gcr.io', serviceAccount: 'denied@x.iam.gserviceaccount.com' }))
    await waitFor(() => log.records('token mint failed').some(r => r.source === 'initech-gar'), 'the refusal', WAIT_MS)
    t.match(log.records('token mint failed').find(r => r.source === 'initech-gar'), { error: /^google: .*denied/ })
  })

  t.test('no token bytes in any log line', async t => {
    t.ok(cloud.issued.length >= 4)
    for (const line of log.lines) {
      for (const token of [...cloud.issued, 'own-secret', 'secret-ASIA', 'session-ASIA', 'rt-own']) if (line.includes(token)) t.fail(`a log line holds ${token}: ${line}`)
    }
  })
})
