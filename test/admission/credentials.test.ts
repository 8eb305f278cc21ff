import t from 'tap'
import { createHash } from 'node:crypto'
import { mergeTenantCredentials, readCredentialSource, type SecretObject } from '../../src/admission/credentials.js'
import { DEFAULT_ADMISSION_OPTIONS as options } from '../../src/admission/options.js'
import { auth, credentialSecret } from '../support/cluster.js'

const read = (secret: object) => readCredentialSource(secret as SecretObject, options)

t.test('which secrets are credential sources', async t => {
  const table: Array<[string, object, string]> = [
    ['tenant-labelled dockerconfigjson in the credentials namespace', credentialSecret({ name: 'a', tenant: 'acme', auths: { r: auth('u', 'p') } }), 'source'],
    ['shared-labelled', credentialSecret({ name: 'a', tenant: null, auths: { r: auth('u', 'p') } }), 'source'],
    ['legacy dockercfg', credentialSecret({ name: 'a', tenant: 'acme', type: 'kubernetes.io/dockercfg', auths: { r: auth('u', 'p') } }), 'source'],
    ['in another namespace', credentialSecret({ name: 'a', tenant: 'acme', namespace: 'team-b', auths: { r: auth('u', 'p') } }), 'ignored'],
    ['without labels', credentialSecret({ name: 'a', tenant: 'acme', labels: {}, auths: { r: auth('u', 'p') } }), 'ignored'],
    ['with an empty tenant label', credentialSecret({ name: 'a', tenant: 'acme', labels: { 'pullguard.dev/tenant': '' }, auths: {} }), 'ignored'],
    ['pullguard\'s own managed copy', credentialSecret({ name: 'a', tenant: 'acme', labels: { 'pullguard.dev/tenant': 'acme', 'app.kubernetes.io/managed-by': 'pullguard' }, auths: {} }), 'ignored'],
    ['an Opaque secret', credentialSecret({ name: 'a', tenant: 'acme', type: 'Opaque', auths: {} }), 'invalid'],
    ['without the data key', { metadata: { name: 'a', namespace: 'pullguard-system', labels: { 'pullguard.dev/tenant': 'x' } }, type: 'kubernetes.io/dockerconfigjson', data: {} }, 'invalid'],
    ['with data that is not JSON', { metadata: { name: 'a', namespace: 'pullguard-system', labels: { 'pullguard.dev/tenant': 'x' } }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from('{nope').toString('base64') } }, 'invalid'],
    ['with an entry that is not an object', { metadata: { name: 'a', namespace: 'pullguard-system', labels: { 'pullguard.dev/tenant': 'x' } }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': '{"auths":{"r":"s3cret"}}' } }, 'invalid']
  ]
  for (const [name, secret, kind] of table) t.equal(read(secret).kind, kind, name)
})

t.test('problems never quote secret data', async t => {
  const reading = read({ metadata: { name: 'a', namespace: 'pullguard-system', labels: { 'pullguard.dev/tenant': 'x' } }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': '{"auths":{"r":"hunter2-s3cret"}} trailing' } })
  t.equal(reading.kind, 'invalid')
  t.notMatch(JSON.stringify(reading), /hunter2/)
})

t.test('keys carrying user-info or a query never show in reasons or conflicts', async t => {
  const keys = [
    'https://ci-bot:tok-userinfo-1@registry.acme.example',
    'registry.acme.example/team?access_token=tok-query-2',
    'registry.acme.example/team#tok-fragment-3',
    'https://ci-bot:tok-4@reg[0].example?token=tok-5',
    'ci-bot:tok-port-6'
  ]
  for (const key of keys) {
    const reading = read({ metadata: { name: 'a', namespace: 'pullguard-system', labels: { 'pullguard.dev/tenant': 'x' } }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': JSON.stringify({ auths: { [key]: 'not-an-object' } }) } })
    t.match(reading, { kind: 'invalid', problems: [{ reason: 'MalformedEntry', detail: /^entry ".+" is a string, not an object/ }] }, key)
    t.notMatch(JSON.stringify(reading), /tok-/, `${key}: reason`)
  }
  const auths = Object.fromEntries(keys.map(key => [key, { auth: 'dTpw' }]))
  const merged = mergeTenantCredentials([
    { name: 'a-acme', tenant: 'acme', auths },
    { name: 'b-acme', tenant: 'acme', auths },
    { name: 'shared', tenant: null, auths }
  ])
  t.strictSame(merged.conflicts.filter(c => c.dropped === 'b-acme').map(c => c.key), [
    'registry.acme.example', 'registry.acme.example/team', 'registry.acme.example/team', 'reg[0].example', 'ci-bot:…'
  ], 'conflicts name keys by their safe scope')
  t.equal(merged.conflicts.length, 2 * keys.length, 'a-acme beats b-acme and shared on every key')
  t.notMatch(JSON.stringify(merged.conflicts), /tok-/)
  t.match(merged.byTenant.get('acme')?.dockerConfigJson, /tok-userinfo-1/, 'the managed Secret keeps keys verbatim: the kubelet reads them')
})

t.test('merge: own beats shared, then name order; keys sorted; entries verbatim', async t => {
  const sources = [
    { name: 'z-shared', tenant: null, auths: { 'registry.acme.example': { auth: 'c2hhcmVk' }, 'mirror.example': { auth: 'bWlycm9y', email: 'ops@example.com' } } },
    { name: 'b-acme', tenant: 'acme', auths: { 'registry.acme.example': { auth: 'YjI=' } } },
    { name: 'a-acme', tenant: 'acme', auths: { 'registry.acme.example': { username: 'u', password: 'p', auth: 'dTpw' } } },
    { name: 'globex', tenant: 'globex', auths: { 'ghcr.io/globex': { auth: 'Zw==' } } }
  ]
  const merged = mergeTenantCredentials(sources)
  const acme = merged.byTenant.get('acme')
  t.ok(acme)
  t.equal(acme?.dockerConfigJson, JSON.stringify({ auths: { 'mirror.example': { auth: 'bWlycm9y', email: 'ops@example.com' }, 'registry.acme.example': { username: 'u', password: 'p', auth: 'dTpw' } } }))
  t.equal(acme?.contentHash, createHash('sha256').update(acme?.dockerConfigJson ?? '').digest('hex'))
  t.same(acme?.sources, ['a-acme', 'b-acme', 'z-shared'])
  t.same(merged.conflicts.filter(c => c.tenant === 'acme'), [
    { tenant: 'acme', key: 'registry.acme.example', kept: 'a-acme', dropped: 'b-acme' },
    { tenant: 'acme', key: 'registry.acme.example', kept: 'a-acme', dropped: 'z-shared' }
  ])
  t.same(JSON.parse(merged.sharedOnly?.dockerConfigJson ?? '{}').auths['registry.acme.example'], { auth: 'c2hhcmVk' }, 'shared-only tenants get the shared entry')
  t.same(merged.grants.map(g => [g.key, g.tenant]), [
    ['registry.acme.example', 'acme'], ['registry.acme.example', 'acme'], ['ghcr.io/globex', 'globex'],
    ['registry.acme.example', null], ['mirror.example', null]
  ])
})

t.test('merge is deterministic whatever the input order', async t => {
  const sources = [
    { name: 'b', tenant: 'acme', auths: { y: { auth: '1' }, x: { auth: '2' } } },
    { name: 'a', tenant: 'acme', auths: { x: { auth: '3' } } },
    { name: 's', tenant: null, auths: { w: { auth: '4' } } }
  ]
  const forward = mergeTenantCredentials(sources).byTenant.get('acme')
  const backward = mergeTenantCredentials([...sources].reverse()).byTenant.get('acme')
  t.equal(forward?.dockerConfigJson, backward?.dockerConfigJson)
  t.equal(forward?.contentHash, backward?.contentHash)
})

t.test('no shared sources: tenants without their own get nothing', async t => {
  t.equal(mergeTenantCredentials([{ name: 'a', tenant: 'acme', auths: { r: {} } }]).sharedOnly, undefined)
})
