// Credential sources read the way the kubelet reads them: one row per problem kind (and per way of
// being fine), through readCredentialSource as the cluster model calls it.

import t from 'tap'
import { readCredentialSource, mergeTenantCredentials, type SecretObject } from '../../src/admission/credentials.js'
import { CREDENTIAL_PROBLEM_REASONS } from '../../src/admission/credential-problems.js'
import { decodeAuthField } from '../../src/admission/docker-config.js'
import { DEFAULT_ADMISSION_OPTIONS as options } from '../../src/admission/options.js'

const b64 = (text: string): string => Buffer.from(text).toString('base64')
const auth = (user: string, password: string): string => b64(`${user}:${password}`)
// every secret in these rows holds this marker: no problem may ever quote it
const SECRET = 'hunter2'
const good = { auth: auth('ci', SECRET) }

function secret (config: unknown, { type = 'kubernetes.io/dockerconfigjson', raw }: { type?: string, raw?: string } = {}): SecretObject {
  const key = type === 'kubernetes.io/dockercfg' ? '.dockercfg' : '.dockerconfigjson'
  return {
    metadata: { name: 'acme-registry', namespace: options.credentialsNamespace, labels: { [options.tenantLabel]: 'acme' } },
    type,
    data: { [key]: raw ?? b64(typeof config === 'string' ? config : JSON.stringify(config)) }
  }
}

interface Row {
  name: string
  secret: SecretObject
  /** 'source' or 'invalid', with each problem as `Reason` or `Reason scope` */
  kind: 'source' | 'invalid'
  problems: string[]
  /** for a source: the auths keys kept */
  kept?: string[]
  detail?: RegExp
}

const rows: Row[] = [
  // the whole Secret is unusable
  { name: 'wrong type', secret: { ...secret({ auths: { 'r.example': good } }), type: 'Opaque' }, kind: 'invalid', problems: ['WrongSecretType'], detail: /type is Opaque, expected kubernetes.io\/dockerconfigjson/ },
  { name: 'no data key', secret: { ...secret({}), data: {} }, kind: 'invalid', problems: ['MissingDockerConfig'], detail: /has no .dockerconfigjson key/ },
  { name: 'empty data key (the kubelet skips it)', secret: secret('', { raw: '' }), kind: 'invalid', problems: ['MissingDockerConfig'], detail: /is empty/ },
  { name: 'data not base64', secret: secret('', { raw: 'not base64 at all' }), kind: 'invalid', problems: ['InvalidBase64'], detail: /data\[.dockerconfigjson\] is not valid base64/ },
  {
    name: 'data: valid base64 followed by garbage is bad base64, not bad JSON',
    secret: secret('', { raw: `${b64(JSON.stringify({ auths: { 'r.example': good } }))}!!` }),
    kind: 'invalid',
    problems: ['InvalidBase64']
  },
  { name: 'data: unpadded base64 (the API server wants padding)', secret: secret('', { raw: b64('{"auths":{"r":{}}}x').replace(/=+$/, '') }), kind: 'invalid', problems: ['InvalidBase64'] },
  {
    name: 'data: base64 wrapped in lines, as `base64` prints it, is fine',
    secret: secret('', { raw: b64(JSON.stringify({ auths: { 'registry.acme.example': good } })).replace(/(.{20})/g, '$1\n') }),
    kind: 'source',
    problems: [],
    kept: ['registry.acme.example']
  },
  { name: 'not JSON', secret: secret('{"auths": {'), kind: 'invalid', problems: ['InvalidJSON'], detail: /^.dockerconfigjson is not valid JSON$/ },
  { name: 'JSON, not an object', secret: secret(['r.example']), kind: 'invalid', problems: ['MalformedDockerConfig'], detail: /is an array, not an object/ },
  { name: 'auths not an object', secret: secret({ auths: 'r.example' }), kind: 'invalid', problems: ['MalformedDockerConfig'], detail: /auths is a string/ },
  { name: 'HttpHeaders not strings', secret: secret({ auths: { 'r.example': good }, HttpHeaders: { 'X-Retries': 3 } }), kind: 'invalid', problems: ['MalformedDockerConfig'], detail: /HttpHeaders must map header names to strings/ },
  { name: 'entry not an object', secret: secret({ auths: { 'registry.acme.example': SECRET } }), kind: 'invalid', problems: ['MalformedEntry registry.acme.example'], detail: /entry "registry.acme.example" is a string, not an object \(the kubelet refuses/ },
  { name: 'entry field of the wrong type', secret: secret({ auths: { 'registry.acme.example': { ...good, password: 12345 } } }), kind: 'invalid', problems: ['MalformedEntry registry.acme.example'], detail: /password is a number, not a string/ },
  { name: 'auth: valid base64 followed by garbage', secret: secret({ auths: { 'registry.acme.example': { auth: `${auth('ci', SECRET)}!!` } } }), kind: 'invalid', problems: ['InvalidAuthBase64 registry.acme.example'] },
  { name: 'auth: a space inside', secret: secret({ auths: { 'registry.acme.example': { auth: `${auth('ci', SECRET).slice(0, 4)} ${auth('ci', SECRET).slice(4)}` } } }), kind: 'invalid', problems: ['InvalidAuthBase64 registry.acme.example'] },
  { name: 'auth: padding in the wrong place', secret: secret({ auths: { 'registry.acme.example': { auth: 'dTpw=' } } }), kind: 'invalid', problems: ['InvalidAuthBase64 registry.acme.example'] },
  { name: 'auth: not user:password', secret: secret({ auths: { 'registry.acme.example': { auth: b64(SECRET) } } }), kind: 'invalid', problems: ['MalformedAuth registry.acme.example'], detail: /does not decode to username:password/ },
  { name: 'no auths at all', secret: secret({ HttpHeaders: { 'User-Agent': 'ci' } }), kind: 'invalid', problems: ['NoUsableCredential'], detail: /has no auths$/ },
  { name: 'auths empty', secret: secret({ auths: {} }), kind: 'invalid', problems: ['NoUsableCredential'], detail: /has no registry entries$/ },
  {
    name: 'Docker Desktop: the credential is in credsStore',
    secret: secret({ auths: { 'registry.acme.example': {} }, credsStore: 'desktop' }),
    kind: 'invalid',
    problems: ['NoUsableCredential', 'CredentialHelperOnly registry.acme.example'],
    detail: /^its only entry holds no credential the kubelet can use \(its credsStore "desktop" is ignored on nodes\)$/
  },
  {
    name: 'credHelpers only',
    secret: secret({ auths: {}, credHelpers: { 'gcr.io': 'gcloud' } }),
    kind: 'invalid',
    problems: ['NoUsableCredential', 'CredentialHelperOnly gcr.io']
  },
  {
    name: 'two entries, neither with a credential',
    secret: secret({ auths: { 'a.example': {}, 'b.example': { email: 'ci@acme.example' } } }),
    kind: 'invalid',
    problems: ['NoUsableCredential', 'EntryWithoutCredential a.example', 'EntryWithoutCredential b.example'],
    detail: /^none of its 2 entries holds a credential the kubelet can use$/
  },
  {
    name: 'identity token only',
    secret: secret({ auths: { 'registry.acme.example': { identitytoken: SECRET } } }),
    kind: 'invalid',
    problems: ['NoUsableCredential', 'IdentityTokenOnly registry.acme.example']
  },
  { name: 'one broken entry among good ones still refuses the whole Secret', secret: secret({ auths: { 'a.example': good, 'b.example': { auth: 'x!' } } }), kind: 'invalid', problems: ['InvalidAuthBase64 b.example'] },
  // usable, with entries left out
  { name: 'an entry without any credential', secret: secret({ auths: { 'registry.acme.example': good, 'mirror.example': {} } }), kind: 'source', problems: ['EntryWithoutCredential mirror.example'], kept: ['registry.acme.example'] },
  { name: 'a null entry (Go reads it as empty)', secret: secret({ auths: { 'registry.acme.example': good, 'mirror.example': null } }), kind: 'source', problems: ['EntryWithoutCredential mirror.example'], kept: ['registry.acme.example'] },
  { name: 'auth of ":" is no credential', secret: secret({ auths: { 'registry.acme.example': good, 'mirror.example': { auth: b64(':') } } }), kind: 'source', problems: ['EntryWithoutCredential mirror.example'], kept: ['registry.acme.example'] },
  {
    name: 'one entry from a credential helper, one real',
    secret: secret({ auths: { 'registry.acme.example': good, 'gcr.io': {} }, credHelpers: { 'gcr.io': 'gcloud' } }),
    kind: 'source',
    problems: ['CredentialHelperOnly gcr.io'],
    kept: ['registry.acme.example']
  },
  {
    name: 'a key the kubelet cannot match (user-info never shown)',
    secret: secret({ auths: { 'registry.acme.example': good, [`ci:${SECRET}`]: good } }),
    kind: 'source',
    problems: ['UnparseableRegistryKey ci:…'],
    kept: ['registry.acme.example']
  },
  // usable as they are
  { name: 'padded auth', secret: secret({ auths: { 'registry.acme.example': { auth: b64('ci:pw') } } }), kind: 'source', problems: [], kept: ['registry.acme.example'] },
  { name: 'unpadded auth (the kubelet accepts it)', secret: secret({ auths: { 'registry.acme.example': { auth: b64('ci:pw').replace(/=+$/, '') } } }), kind: 'source', problems: [], kept: ['registry.acme.example'] },
  { name: 'auth with a trailing newline', secret: secret({ auths: { 'registry.acme.example': { auth: `${b64('ci:pw')}\n` } } }), kind: 'source', problems: [], kept: ['registry.acme.example'] },
  { name: 'username and password', secret: secret({ auths: { 'registry.acme.example': { username: 'ci', password: SECRET } } }), kind: 'source', problems: [], kept: ['registry.acme.example'] },
  { name: 'field names in any case, as Go matches them', secret: secret({ Auths: { 'registry.acme.example': { Username: 'ci', PASSWORD: SECRET } } }), kind: 'source', problems: [], kept: ['registry.acme.example'] },
  { name: 'legacy dockercfg', secret: secret({ 'registry.acme.example': good }, { type: 'kubernetes.io/dockercfg' }), kind: 'source', problems: [], kept: ['registry.acme.example'] },
  { name: 'a Docker CLI config with a real login besides its credsStore', secret: secret({ auths: { 'registry.acme.example': good }, credsStore: 'osxkeychain' }), kind: 'source', problems: [], kept: ['registry.acme.example'] }
]

t.test('every source Secret read as the kubelet reads it', async t => {
  for (const row of rows) {
    const reading = readCredentialSource(row.secret, options)
    t.equal(reading.kind, row.kind, `${row.name}: kind`)
    if (reading.kind === 'ignored') continue
    const problems = reading.problems.map(p => p.scope === undefined ? p.reason : `${p.reason} ${p.scope}`)
    t.strictSame(problems, row.problems, `${row.name}: problems`)
    if (row.detail !== undefined) t.match(reading.problems[0]?.detail, row.detail, `${row.name}: detail`)
    if (reading.kind === 'source') t.strictSame(Object.keys(reading.source.auths), row.kept ?? [], `${row.name}: entries kept`)
    t.notMatch(JSON.stringify(reading.problems), new RegExp(`${SECRET}|${b64(SECRET).slice(0, 8)}`), `${row.name}: no secret in the problems`)
  }
  const seen = new Set(rows.flatMap(row => row.problems.map(p => p.split(' ')[0])))
  // conflicts and tenants are found across Secrets; a token source's settings by cluster/tokens/source-reading.ts
  // (its rows are in test/cluster/credential-health.test.ts)
  const sourceReasons = CREDENTIAL_PROBLEM_REASONS.filter(reason => !['RegistryKeyConflict', 'HttpHeaderConflict', 'TenantWithoutCredentials', 'InvalidTokenSource'].includes(reason))
  t.strictSame(sourceReasons.filter(reason => !seen.has(reason)), [], 'every reason of one Secret has a row')
})

t.test('the kept entries are verbatim; HttpHeaders are read', async t => {
  const entry = { auth: b64('ci:pw'), email: 'ci@acme.example', identitytoken: 'also-kept' }
  const reading = readCredentialSource(secret({ auths: { 'registry.acme.example': entry }, HttpHeaders: { 'User-Agent': 'acme-ci', 'X-Empty': null } }), options)
  t.equal(reading.kind, 'source')
  if (reading.kind !== 'source') return
  t.strictSame(reading.source.auths, { 'registry.acme.example': entry })
  t.strictSame(reading.source.httpHeaders, { 'User-Agent': 'acme-ci' }, 'a null header decodes to nothing')
})

t.test('auth decoding follows Go: padded when it ends in =, unpadded otherwise, line breaks skipped', async t => {
  const cases: Array<[string, string | undefined]> = [
    ['dTpw', 'u:p'],
    ['dTo=', 'u:'],
    ['dTo', 'u:'],
    ['dTpw\r\n', 'u:p'],
    ['dT\npw', 'u:p'],
    ['dTo= ', undefined], // TrimSpace finds the '=', the decode then meets the space
    ['dTpw ', undefined],
    ['dTpw!', undefined],
    ['dTpwd', undefined], // 5 characters: no length of unpadded base64
    ['dT-w', undefined], // the URL alphabet is another encoding
    ['dTo==', undefined]
  ]
  for (const [field, decoded] of cases) t.equal(decodeAuthField(field)?.toString(), decoded, JSON.stringify(field))
})

t.test('HttpHeaders merge: own before shared, then Secret name order, names case-insensitive', async t => {
  const entry = { auth: b64('ci:pw') }
  const merged = mergeTenantCredentials([
    { name: 'z-shared', tenant: null, auths: { 'mirror.example': entry }, httpHeaders: { 'User-Agent': 'shared', 'X-Mirror': 'yes' } },
    { name: 'b-acme', tenant: 'acme', auths: { 'b.example': entry }, httpHeaders: { 'user-agent': 'b-acme', 'X-Team': 'b' } },
    { name: 'a-acme', tenant: 'acme', auths: { 'a.example': entry }, httpHeaders: { 'X-Team': 'a' } },
    { name: 'a-shared', tenant: null, auths: { 'other.example': entry }, httpHeaders: { 'x-mirror': 'first' } },
    { name: 'globex', tenant: 'globex', auths: { 'g.example': entry } }
  ])
  const headersOf = (tenant: string): string => JSON.stringify(JSON.parse(merged.byTenant.get(tenant)?.dockerConfigJson ?? '{}').HttpHeaders)
  t.equal(headersOf('acme'), '{"user-agent":"b-acme","x-mirror":"first","X-Team":"a"}', 'acme: own first (name order), then shared; sorted by name')
  t.equal(headersOf('globex'), '{"User-Agent":"shared","x-mirror":"first"}', 'globex: the shared ones')
  t.strictSame(merged.headerConflicts, [
    { tenant: 'acme', header: 'X-Team', kept: 'a-acme', dropped: 'b-acme' },
    { tenant: 'acme', header: 'user-agent', kept: 'b-acme', dropped: 'z-shared' },
    { tenant: null, header: 'x-mirror', kept: 'a-shared', dropped: 'z-shared' }
  ], 'shared against shared once, not once per tenant')

  const plain = mergeTenantCredentials([{ name: 'a', tenant: 'acme', auths: { 'a.example': entry } }])
  t.equal(plain.byTenant.get('acme')?.dockerConfigJson, JSON.stringify({ auths: { 'a.example': entry } }), 'no headers: no HttpHeaders key, the bytes of before')
})
