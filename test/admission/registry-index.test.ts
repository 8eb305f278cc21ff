import t from 'tap'
import fc from 'fast-check'
import { isDeepStrictEqual } from 'node:util'
import { parseImageName, type ImageName } from '../../src/admission/image-reference.js'
import { DEFAULT_PUBLIC_REGISTRIES } from '../../src/admission/options.js'
import { RegistryIndex, type CredentialGrant, type ImageCoverage } from '../../src/admission/registry-index.js'

function image (reference: string): ImageName {
  const parsed = parseImageName(reference)
  if (parsed === undefined) throw new Error(`test image ${reference} does not parse`)
  return parsed
}

const own = (tenant: string, ...keys: string[]): CredentialGrant[] => keys.map(key => ({ key, tenant }))
const shared = (...keys: string[]): CredentialGrant[] => keys.map(key => ({ key, tenant: null }))

const COVERED: ImageCoverage = { covered: true }
const UNCOVERED: ImageCoverage = { covered: false }
const foreign = (tenant: string, scope: string): ImageCoverage => ({ covered: false, foreignOwner: { tenant, scope } })

interface Scenario {
  name: string
  grants: CredentialGrant[]
  image: string
  tenant: string
  expected: ImageCoverage
  publicRegistries?: string[]
}

const scenarios: Scenario[] = [
  { name: 'no keys at all', grants: [], image: 'nginx', tenant: 'acme', expected: UNCOVERED },
  { name: 'own host-only key', grants: own('acme', 'registry.acme.example'), image: 'registry.acme.example/web/server:2', tenant: 'acme', expected: COVERED },
  { name: 'own path key', grants: own('globex', 'ghcr.io/globex'), image: 'ghcr.io/globex/billing', tenant: 'globex', expected: COVERED },
  { name: 'shared key covers every tenant', grants: shared('mirror.platform.example'), image: 'mirror.platform.example/fluent-bit:3.1', tenant: 'anyone', expected: COVERED },
  { name: 'shared key confers no ownership', grants: shared('mirror.platform.example'), image: 'other.example/x', tenant: 'acme', expected: UNCOVERED },
  { name: 'another tenant\'s private registry (host-only key)', grants: own('acme', 'registry.acme.example'), image: 'registry.acme.example/web/server', tenant: 'globex', expected: foreign('acme', 'registry.acme.example') },
  { name: 'another tenant\'s org on a public registry', grants: own('globex', 'ghcr.io/globex'), image: 'ghcr.io/globex/billing@sha256:' + 'b'.repeat(64), tenant: 'acme', expected: foreign('globex', 'ghcr.io/globex') },
  { name: 'another org on that public registry is nobody\'s', grants: own('globex', 'ghcr.io/globex'), image: 'ghcr.io/initech/tool', tenant: 'acme', expected: UNCOVERED },
  { name: 'host-only key on a public registry claims nothing', grants: own('globex', 'ghcr.io'), image: 'ghcr.io/initech/tool', tenant: 'acme', expected: UNCOVERED },
  { name: 'Docker Hub rate-limit credentials (docker login key) claim nothing', grants: own('globex', 'https://index.docker.io/v1/'), image: 'nginx', tenant: 'acme', expected: UNCOVERED },
  { name: 'Hub credentials by any alias claim nothing', grants: [...own('a', 'registry-1.docker.io'), ...own('b', 'index.docker.io'), ...own('c', 'docker.io')], image: 'library/debian', tenant: 'acme', expected: UNCOVERED },
  { name: 'but they do cover their holder', grants: own('globex', 'https://index.docker.io/v1/'), image: 'nginx', tenant: 'globex', expected: COVERED },
  { name: 'a Hub organisation key claims that organisation', grants: own('globex', 'docker.io/globex'), image: 'globex/app', tenant: 'acme', expected: foreign('globex', 'docker.io/globex') },
  { name: 'Hub image written with the API host', grants: own('globex', 'https://index.docker.io/v1/'), image: 'registry-1.docker.io/library/nginx', tenant: 'globex', expected: COVERED },
  { name: 'a tenant that owns the path is covered, not foreign', grants: [...own('acme', 'ghcr.io/team'), ...own('globex', 'ghcr.io/team')], image: 'ghcr.io/team/app', tenant: 'globex', expected: COVERED },
  { name: 'own broad key covers even where another tenant holds a narrower one', grants: [...own('acme', 'registry.shared.example'), ...own('globex', 'registry.shared.example/globex')], image: 'registry.shared.example/globex/app', tenant: 'acme', expected: COVERED },
  { name: 'several owners: the smallest tenant name', grants: [...own('zeta', 'ghcr.io/team'), ...own('beta', 'ghcr.io/team'), ...own('gamma', 'ghcr.io/team')], image: 'ghcr.io/team/app', tenant: 'acme', expected: foreign('beta', 'ghcr.io/team') },
  { name: 'smallest tenant wins over a more specific key', grants: [...own('b', 'ghcr.io/team/app'), ...own('a', 'ghcr.io/team')], image: 'ghcr.io/team/app', tenant: 'c', expected: foreign('a', 'ghcr.io/team') },
  { name: 'same tenant: its most specific key', grants: own('a', 'ghcr.io/team', 'ghcr.io/team/app', 'ghcr.io/team/ap'), image: 'ghcr.io/team/app', tenant: 'c', expected: foreign('a', 'ghcr.io/team/app') },
  { name: 'plain string prefix', grants: own('a', 'bar.example.com/pong'), image: 'bar.example.com/pongz', tenant: 'b', expected: foreign('a', 'bar.example.com/pong') },
  { name: 'longer key than the image path never matches', grants: own('a', 'bar.example.com/pong/deeper'), image: 'bar.example.com/pong', tenant: 'b', expected: UNCOVERED },
  { name: 'ports: a registry on another port is another registry', grants: own('a', 'registry.example.com:5000'), image: 'registry.example.com/x', tenant: 'b', expected: UNCOVERED },
  { name: 'ports: same port', grants: own('a', 'registry.example.com:5000'), image: 'registry.example.com:5000/x', tenant: 'b', expected: foreign('a', 'registry.example.com:5000') },
  { name: 'IPv6 registry', grants: own('a', 'https://[FC00::1]:5000/v2/'), image: '[fc00::1]:5000/docker/docker', tenant: 'b', expected: foreign('a', '[fc00::1]:5000') },
  { name: 'key host case and scheme do not matter', grants: own('a', 'https://Registry.ACME.example/v1/'), image: 'registry.acme.example/web', tenant: 'a', expected: COVERED },
  { name: 'uppercase image host', grants: own('a', 'localdomain'), image: 'LOCALDOMAIN/debian', tenant: 'b', expected: foreign('a', 'localdomain') },
  // glob hosts
  { name: 'glob host-only key claims a private domain', grants: own('globex', '*.globex.example'), image: 'eu.globex.example/x', tenant: 'acme', expected: foreign('globex', '*.globex.example') },
  { name: 'glob host-only key reaching a public registry claims nothing', grants: own('globex', '*.io'), image: 'ghcr.io/initech/tool', tenant: 'acme', expected: UNCOVERED },
  { name: 'glob host-only key still covers its holder on a public registry', grants: own('globex', '*.io'), image: 'ghcr.io/initech/tool', tenant: 'globex', expected: COVERED },
  { name: 'glob path key claims on a public registry', grants: own('globex', '*.io/globex'), image: 'ghcr.io/globex/x', tenant: 'acme', expected: foreign('globex', '*.io/globex') },
  { name: 'shared glob covers', grants: shared('*.platform.example'), image: 'mirror.platform.example/x', tenant: 'acme', expected: COVERED },
  { name: 'glob and exact keys: smallest tenant across both', grants: [...own('b', 'ghcr.io/team'), ...own('a', '*.io/team')], image: 'ghcr.io/team/app', tenant: 'c', expected: foreign('a', '*.io/team') },
  { name: 'glob and exact keys of one tenant: longer path first', grants: own('a', 'ghcr.io/team', '*.io/team/app'), image: 'ghcr.io/team/app', tenant: 'c', expected: foreign('a', '*.io/team/app') },
  { name: 'glob and exact keys of one tenant, same path: the exact key', grants: own('a', '*.io/team', 'ghcr.io/team'), image: 'ghcr.io/team/app', tenant: 'c', expected: foreign('a', 'ghcr.io/team') },
  // public registry configuration
  { name: 'a registry made public by configuration', grants: own('a', 'registry.acme.example'), image: 'registry.acme.example/x', tenant: 'b', publicRegistries: ['Registry.ACME.example'], expected: UNCOVERED },
  { name: 'Docker Hub public by its docker login key', grants: own('a', 'docker.io'), image: 'nginx', tenant: 'b', publicRegistries: ['https://index.docker.io/v1/'], expected: UNCOVERED },
  { name: 'nothing public: Hub credentials claim all of Hub', grants: own('a', 'docker.io'), image: 'nginx', tenant: 'b', publicRegistries: [], expected: foreign('a', 'docker.io') },
  // the https default port: ownership reads ':443' as no port, the kubelet's matching does not
  { name: ':443 on the image does not take it from its owner', grants: own('acme', 'registry.acme.example'), image: 'registry.acme.example:443/app', tenant: 'globex', expected: foreign('acme', 'registry.acme.example') },
  { name: ':443 on the key still claims the port-less image', grants: own('acme', 'registry.acme.example:443'), image: 'registry.acme.example/app', tenant: 'globex', expected: foreign('acme', 'registry.acme.example') },
  { name: ':0443 is :443', grants: own('acme', 'registry.acme.example'), image: 'registry.acme.example:0443/app', tenant: 'globex', expected: foreign('acme', 'registry.acme.example') },
  { name: 'user-info and scheme on the key change nothing', grants: own('acme', 'https://ci:tok-1@registry.acme.example:443/v2/'), image: 'registry.acme.example/app', tenant: 'globex', expected: foreign('acme', 'registry.acme.example') },
  { name: 'path keys too', grants: own('globex', 'ghcr.io:443/globex'), image: 'ghcr.io/globex/billing', tenant: 'acme', expected: foreign('globex', 'ghcr.io/globex') },
  { name: 'the owner\'s key does not match the other spelling for the kubelet: not covered, and not foreign either', grants: own('acme', 'registry.acme.example'), image: 'registry.acme.example:443/app', tenant: 'acme', expected: UNCOVERED },
  { name: 'same spelling: covered', grants: own('acme', 'registry.acme.example:443'), image: 'registry.acme.example:443/app', tenant: 'acme', expected: COVERED },
  { name: 'a shared key in the other spelling covers nothing', grants: [...shared('registry.acme.example:443'), ...own('acme', 'registry.acme.example')], image: 'registry.acme.example/app', tenant: 'globex', expected: foreign('acme', 'registry.acme.example') },
  { name: 'co-owners in different spellings: the tenant\'s own claim, not foreign', grants: [...own('acme', 'registry.shared.example'), ...own('globex', 'registry.shared.example:443')], image: 'registry.shared.example/app', tenant: 'globex', expected: UNCOVERED },
  { name: 'co-owner, smaller name first, still not foreign to the other', grants: [...own('acme', 'registry.shared.example:443'), ...own('globex', 'registry.shared.example')], image: 'registry.shared.example:443/app', tenant: 'globex', expected: UNCOVERED },
  { name: 'another port is another registry', grants: own('acme', 'registry.acme.example:5000'), image: 'registry.acme.example:443/app', tenant: 'globex', expected: UNCOVERED },
  { name: 'Hub by :443 and an alias', grants: own('globex', 'docker.io/globex'), image: 'index.docker.io:443/globex/app', tenant: 'acme', expected: foreign('globex', 'docker.io/globex') },
  { name: 'Hub key by :443 and an alias', grants: own('globex', 'registry-1.docker.io:443/globex'), image: 'globex/app', tenant: 'acme', expected: foreign('globex', 'docker.io/globex') },
  { name: 'a host-only key on a public registry claims nothing in any spelling', grants: own('globex', 'docker.io:443'), image: 'nginx', tenant: 'acme', expected: UNCOVERED },
  { name: 'publicRegistries entries in either spelling', grants: own('acme', 'registry.acme.example'), image: 'registry.acme.example:443/x', tenant: 'b', publicRegistries: ['registry.acme.example:443'], expected: UNCOVERED },
  { name: 'glob key, :443 image', grants: own('globex', '*.globex.example'), image: 'eu.globex.example:443/x', tenant: 'acme', expected: foreign('globex', '*.globex.example') },
  { name: 'glob :443 key, port-less image', grants: own('globex', '*.globex.example:443'), image: 'eu.globex.example/x', tenant: 'acme', expected: foreign('globex', '*.globex.example') },
  { name: 'glob :443 key on a public registry claims nothing', grants: own('globex', '*.io:443'), image: 'ghcr.io/initech/tool', tenant: 'acme', expected: UNCOVERED },
  { name: 'own glob claim in the other spelling: not foreign', grants: [...own('acme', '*.acme.example:443'), ...own('beta', 'registry.acme.example')], image: 'registry.acme.example/x', tenant: 'acme', expected: UNCOVERED },
  { name: 'own glob key in the same spelling: covered', grants: [...own('acme', '*.acme.example:443'), ...own('beta', 'registry.acme.example')], image: 'registry.acme.example:443/x', tenant: 'acme', expected: COVERED }
]

t.test('coverage and foreign owners', async t => {
  for (const { name, grants, image: reference, tenant, expected, publicRegistries } of scenarios) {
    const index = RegistryIndex.build(grants, publicRegistries ?? DEFAULT_PUBLIC_REGISTRIES)
    t.strictSame(index.lookup(image(reference), tenant), expected, name)
  }
})

t.test('the answer does not depend on grant order', async t => {
  const grants = [
    ...own('zeta', 'ghcr.io/team', 'registry.zeta.example'), ...own('alpha', 'ghcr.io/team/app', '*.io/team'),
    ...own('mid', 'ghcr.io/team/a', 'ghcr.io'), ...shared('mirror.example'), ...own('alpha', 'ghcr.io/team/app')
  ]
  const images = ['ghcr.io/team/app', 'ghcr.io/team/api', 'ghcr.io/other/x', 'registry.zeta.example/x', 'mirror.example/x'].map(image)
  const tenants = ['alpha', 'mid', 'zeta', 'outsider']
  const answers = (index: RegistryIndex) => images.flatMap(i => tenants.map(tenant => index.lookup(i, tenant)))
  const reference = answers(RegistryIndex.build(grants, DEFAULT_PUBLIC_REGISTRIES))
  fc.assert(fc.property(fc.shuffledSubarray(grants, { minLength: grants.length }), shuffled =>
    isDeepStrictEqual(answers(RegistryIndex.build(shuffled, DEFAULT_PUBLIC_REGISTRIES)), reference)
  ), { numRuns: 50 })
  // images × tenants, row by row: the answers being compared are not trivial
  t.strictSame(reference, [
    COVERED, COVERED, COVERED, foreign('alpha', 'ghcr.io/team/app'),
    COVERED, COVERED, COVERED, foreign('alpha', '*.io/team'),
    UNCOVERED, COVERED, UNCOVERED, UNCOVERED,
    foreign('zeta', 'registry.zeta.example'), foreign('zeta', 'registry.zeta.example'), COVERED, foreign('zeta', 'registry.zeta.example'),
    COVERED, COVERED, COVERED, COVERED
  ])
})

t.test('the :443 answers do not depend on grant order either', async t => {
  const grants = [
    ...own('acme', 'registry.acme.example', 'registry.shared.example:443/team'), ...own('globex', 'registry.acme.example:443/app', 'registry.shared.example'),
    ...own('beta', 'registry.shared.example:0443/team/app'), ...shared('registry.acme.example:443/app')
  ]
  const images = ['registry.acme.example/app', 'registry.acme.example:443/app', 'registry.acme.example/web', 'registry.shared.example:443/team/app', 'registry.shared.example/x'].map(image)
  const tenants = ['acme', 'globex', 'beta', 'outsider']
  const answers = (index: RegistryIndex) => images.flatMap(i => tenants.map(tenant => index.lookup(i, tenant)))
  const reference = answers(RegistryIndex.build(grants, DEFAULT_PUBLIC_REGISTRIES))
  fc.assert(fc.property(fc.shuffledSubarray(grants, { minLength: grants.length }), shuffled =>
    isDeepStrictEqual(answers(RegistryIndex.build(shuffled, DEFAULT_PUBLIC_REGISTRIES)), reference)
  ), { numRuns: 50 })
  // images × tenants (acme, globex, beta, outsider), row by row
  const acme = foreign('acme', 'registry.acme.example')
  const globex = foreign('globex', 'registry.shared.example')
  t.strictSame(reference, [
    COVERED, UNCOVERED, acme, acme, // globex claims app/ by its :443 key, which the kubelet does not match here
    COVERED, COVERED, COVERED, COVERED, // the shared :443/app key matches this spelling for everyone
    COVERED, acme, acme, acme,
    COVERED, UNCOVERED, UNCOVERED, foreign('acme', 'registry.shared.example/team'), // ':0443' is not '443' to the kubelet
    globex, COVERED, globex, globex
  ])
})

t.test('invalid keys are skipped and listed once, by their safe scope', async t => {
  const grants = [
    ...own('a', 'quay.io:abc', 'registry.a.example', 'reg[0-9].example.com', 'https://ci:tok-1@reg[0].example?token=tok-2'),
    ...shared('quay.io:abc', '', 'https://ci:tok-3@reg[0].example?token=tok-4')
  ]
  const index = RegistryIndex.build(grants, DEFAULT_PUBLIC_REGISTRIES)
  t.strictSame(index.invalidKeys, ['quay.io:…', 'reg[0-9].example.com', 'reg[0].example', ''], 'two keys that differ only in their hidden parts are one entry')
  t.strictSame(index.lookup(image('registry.a.example/x'), 'a'), COVERED, 'valid keys still work')
  t.strictSame(index.lookup(image('quay.io/x'), 'a'), UNCOVERED)
})

t.test('EMPTY', async t => {
  t.strictSame(RegistryIndex.EMPTY.lookup(image('nginx'), 'acme'), UNCOVERED)
  t.strictSame(RegistryIndex.EMPTY.invalidKeys, [])
})

t.test('many tenants: each sees its own, the rest as foreign', async t => {
  const tenants = Array.from({ length: 5000 }, (_, i) => `tenant-${String(i).padStart(4, '0')}`)
  const grants = tenants.flatMap(tenant => own(tenant, `registry.${tenant}.example`, `ghcr.io/${tenant}`, `https://index.docker.io/v1/`))
  const index = RegistryIndex.build(grants, DEFAULT_PUBLIC_REGISTRIES)
  t.strictSame(index.lookup(image('ghcr.io/tenant-2500/app'), 'tenant-2500'), COVERED)
  t.strictSame(index.lookup(image('ghcr.io/tenant-2500/app'), 'tenant-0001'), foreign('tenant-2500', 'ghcr.io/tenant-2500'))
  t.strictSame(index.lookup(image('registry.tenant-4999.example/x'), 'tenant-0000'), foreign('tenant-4999', 'registry.tenant-4999.example'))
  t.strictSame(index.lookup(image('nginx'), 'tenant-0000'), COVERED, 'own Hub credentials')
  t.strictSame(index.lookup(image('nginx'), 'newcomer'), UNCOVERED, 'Hub is nobody\'s')
})
