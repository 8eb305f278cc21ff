// readTokenSource: what a token-source Secret's settings mean, and the message each bad one gets.

import t from 'tap'
import { TOKEN_SOURCE_TYPE, readCredentialSource } from '../../../src/admission/credentials.js'
import { DEFAULT_ADMISSION_OPTIONS as OPTIONS } from '../../../src/admission/options.js'
import { parseGoDuration } from '../../../src/cluster/tokens/go-duration.js'
import { readTokenSource } from '../../../src/cluster/tokens/token-source.js'

function source (stringData: Record<string, string>, labels: Record<string, string> = { [OPTIONS.tenantLabel]: 'acme' }, name = 'acme-ecr'): object {
  return { metadata: { name, namespace: OPTIONS.credentialsNamespace, uid: 'u-1', resourceVersion: '7', labels }, type: TOKEN_SOURCE_TYPE, stringData }
}

const ROLE = 'arn:aws:iam::123456789012:role/acme-pull'
const cases: Array<{ name: string, secret: object, expected: unknown }> = [
  {
    name: 'ecr with a role and external id',
    secret: source({ provider: 'ecr', region: 'eu-west-1', roleArn: ROLE, externalId: 'acme-ext', registryIds: '123456789012, 210987654321' }),
    expected: { kind: 'source', source: { name: 'acme-ecr', uid: 'u-1', version: '7', owner: 'acme', settings: { provider: 'ecr', region: 'eu-west-1', roleArn: ROLE, externalId: 'acme-ext', registryIds: ['123456789012', '210987654321'] } } }
  },
  {
    name: 'ecr with pullguard\'s own identity, shared',
    secret: source({ provider: 'ecr', region: 'us-east-1' }, { [OPTIONS.sharedLabel]: 'true' }),
    expected: { kind: 'source', source: { name: 'acme-ecr', uid: 'u-1', version: '7', owner: null, settings: { provider: 'ecr', region: 'us-east-1', registryIds: [] } } }
  },
  {
    name: 'ecr: every problem at once, values never quoted',
    secret: source({ provider: 'ecr', region: 'Europe', roleArn: 'arn:aws:iam::12:user/x', externalId: 'x', registryIds: 'abc', regoin: 'eu-west-1' }),
    expected: { kind: 'invalid', name: 'acme-ecr', owner: 'acme', reason: 'setting "regoin" is not one of provider, region, roleArn, externalId, registryIds (provider ecr); region is not an AWS region name (e.g. eu-west-1); roleArn is not an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>); externalId must be 2-1224 characters of letters, digits and +=,.@:/-_; registryIds must be 12-digit AWS account ids, comma-separated' }
  },
  {
    name: 'ecr: external id without a role',
    secret: source({ provider: 'ecr', region: 'eu-west-1', externalId: 'acme-ext' }),
    expected: { kind: 'invalid', name: 'acme-ecr', owner: 'acme', reason: 'externalId needs a roleArn to go with' }
  },
  {
    name: 'google with impersonation',
    secret: source({ provider: 'google', registries: 'europe-docker.pkg.dev,gcr.io', serviceAccount: 'puller@acme-prod.iam.gserviceaccount.com' }),
    expected: { kind: 'source', source: { name: 'acme-ecr', uid: 'u-1', version: '7', owner: 'acme', settings: { provider: 'google', registries: ['europe-docker.pkg.dev', 'gcr.io'], serviceAccount: 'puller@acme-prod.iam.gserviceaccount.com' } } }
  },
  {
    name: 'google without registries, with a bad account',
    secret: source({ provider: 'google', serviceAccount: 'not an email' }),
    expected: { kind: 'invalid', name: 'acme-ecr', owner: 'acme', reason: 'google needs registries (comma-separated hosts, e.g. europe-docker.pkg.dev); serviceAccount must be a service account e-mail (name@project.iam.gserviceaccount.com)' }
  },
  {
    name: 'exec in service-account-token mode',
    secret: source({ provider: 'exec', command: 'ecr-credential-provider', args: '["get-credentials"]', env: '{"AWS_REGION":"eu-west-1"}', images: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app', defaultCacheDuration: '6h', serviceAccount: 'team-a/puller', audience: 'sts.amazonaws.com' }),
    expected: { kind: 'source', source: { name: 'acme-ecr', uid: 'u-1', version: '7', owner: 'acme', settings: { provider: 'exec', command: 'ecr-credential-provider', args: ['get-credentials'], env: { AWS_REGION: 'eu-west-1' }, images: ['123456789012.dkr.ecr.eu-west-1.amazonaws.com/app'], defaultCacheDurationMs: 6 * 3_600_000, serviceAccount: { namespace: 'team-a', name: 'puller', audience: 'sts.amazonaws.com' } } } }
  },
  {
    name: 'exec: a path as command, bad args, env, images, duration',
    secret: source({ provider: 'exec', command: '/bin/sh', args: 'get-credentials', env: '{"A":1}', images: 'UPPER CASE', defaultCacheDuration: '1 day' }),
    expected: { kind: 'invalid', name: 'acme-ecr', owner: 'acme', reason: 'command must be a plain file name in the plugin directory, without a path; args must be a JSON array of strings; env must be a JSON object of strings; images must be valid image references, comma-separated; defaultCacheDuration must be a positive duration such as 30m or 1h30m' }
  },
  {
    name: 'exec: service account on a shared source, without audience',
    secret: source({ provider: 'exec', command: 'plugin', images: 'registry.example/app', serviceAccount: 'team-a/puller' }, { [OPTIONS.sharedLabel]: 'true' }),
    expected: { kind: 'invalid', name: 'acme-ecr', owner: null, reason: 'serviceAccount needs a tenant\'s source: a shared source has no namespace of its own; serviceAccount needs the audience the plugin expects' }
  },
  {
    name: 'exec: audience alone',
    secret: source({ provider: 'exec', command: 'plugin', images: 'registry.example/app', audience: 'x' }),
    expected: { kind: 'invalid', name: 'acme-ecr', owner: 'acme', reason: 'audience goes with serviceAccount (service-account-token mode)' }
  },
  {
    name: 'no provider',
    secret: source({ region: 'eu-west-1' }),
    expected: { kind: 'invalid', name: 'acme-ecr', owner: 'acme', reason: 'has no provider (ecr, google or exec)' }
  },
  {
    name: 'unknown provider',
    secret: source({ provider: 'acr' }),
    expected: { kind: 'invalid', name: 'acme-ecr', owner: 'acme', reason: 'provider "acr" is not one of ecr, google, exec' }
  },
  {
    name: 'a name too long for its derived Secret',
    secret: source({ provider: 'ecr', region: 'eu-west-1' }, undefined, 'a'.repeat(250)),
    expected: { kind: 'invalid', name: 'a'.repeat(250), owner: 'acme', reason: 'name is longer than 247 characters, leaving no room for its derived Secret\'s name' }
  },
  { name: 'unlabelled: not a source', secret: source({ provider: 'ecr', region: 'eu-west-1' }, {}), expected: { kind: 'ignored' } },
  {
    name: 'another namespace: not a source',
    secret: { metadata: { name: 'x', namespace: 'team-a', labels: { [OPTIONS.tenantLabel]: 'acme' } }, type: TOKEN_SOURCE_TYPE, stringData: { provider: 'ecr', region: 'eu-west-1' } },
    expected: { kind: 'ignored' }
  },
  {
    name: 'data (base64) as the API server serves it',
    secret: { metadata: { name: 's', namespace: OPTIONS.credentialsNamespace, labels: { [OPTIONS.tenantLabel]: 'acme' } }, type: TOKEN_SOURCE_TYPE, data: { provider: b64('google'), registries: b64('gcr.io\n') } },
    expected: { kind: 'source', source: { name: 's', uid: '', version: '', owner: 'acme', settings: { provider: 'google', registries: ['gcr.io'] } } }
  }
]

for (const { name, secret, expected } of cases) {
  t.test(name, async t => { t.same(readTokenSource(secret, OPTIONS), expected) })
}

t.test('the credential reader ignores a token source instead of calling it a bad credential', async t => {
  t.same(readCredentialSource(source({ provider: 'ecr', region: 'eu-west-1' }) as never, OPTIONS), { kind: 'ignored', why: 'token source' })
})

t.test('Go durations', async t => {
  const table: Array<[string, number | undefined]> = [
    ['6h0m0s', 6 * 3_600_000], ['1h30m', 5_400_000], ['90s', 90_000], ['1.5h', 5_400_000], ['500ms', 500], ['0', 0],
    ['', undefined], ['-1h', undefined], ['1d', undefined], ['1 h', undefined], ['h', undefined], ['12', undefined]
  ]
  for (const [text, ms] of table) t.equal(parseGoDuration(text), ms, text)
})

function b64 (text: string): string {
  return Buffer.from(text).toString('base64')
}
