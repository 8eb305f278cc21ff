import t from 'tap'
import {
  canonicalRegistry, credentialKeyClaims, credentialKeyMatches, ownerRegistryOf, parseCredentialKey, safeKeyScope, UNPARSEABLE_KEY
} from '../../src/admission/credential-key.js'
import { parseImageName, type ImageName } from '../../src/admission/image-reference.js'
import { fixture } from '../support/fixtures.js'

interface MatchCase { key: string, image: string, match: boolean, why?: string }

const matching = fixture<{ cases: MatchCase[] }>('credential-key-matching.json')

function image (reference: string): ImageName {
  const parsed = parseImageName(reference)
  if (parsed === undefined) throw new Error(`test image ${reference} does not parse`)
  return parsed
}

function matches (key: string, reference: string): boolean {
  const parsed = parseCredentialKey(key)
  if (parsed === undefined) throw new Error(`test key ${key} does not parse`)
  return credentialKeyMatches(parsed, image(reference))
}

t.test('reference sample: keys match images as the kubelet keyring does', async t => {
  for (const { key, image, match, why } of matching.cases) {
    t.equal(matches(key, image), match, `${key} ~ ${image}${why === undefined ? '' : ` (${why})`}`)
  }
})

t.test('parsing', async t => {
  const table: Array<[string, { host: string, port: string, path: string, scope: string, hasGlob?: boolean }]> = [
    ['https://index.docker.io/v1/', { host: 'docker.io', port: '', path: '', scope: 'docker.io' }],
    ['index.docker.io', { host: 'docker.io', port: '', path: '', scope: 'docker.io' }],
    ['registry-1.docker.io', { host: 'docker.io', port: '', path: '', scope: 'docker.io' }],
    ['docker.io/globex', { host: 'docker.io', port: '', path: 'globex', scope: 'docker.io/globex' }],
    ['index.docker.io:443', { host: 'index.docker.io', port: '443', path: '', scope: 'index.docker.io:443' }],
    ['http://Registry.Example.com:5000/v2/team/', { host: 'registry.example.com', port: '5000', path: 'team/', scope: 'registry.example.com:5000/team/' }],
    ['quay.io/v1', { host: 'quay.io', port: '', path: 'v1', scope: 'quay.io/v1' }],
    ['quay.io/v2/org', { host: 'quay.io', port: '', path: 'org', scope: 'quay.io/org' }],
    ['quay.io/', { host: 'quay.io', port: '', path: '', scope: 'quay.io' }],
    ['user:pw@quay.io/org?x=1#frag', { host: 'quay.io', port: '', path: 'org', scope: 'quay.io/org' }],
    ['quay.io/org?next=https://elsewhere', { host: 'quay.io', port: '', path: 'org', scope: 'quay.io/org' }],
    ['quay.io/a%2Fb', { host: 'quay.io', port: '', path: 'a/b', scope: 'quay.io/a/b' }],
    ['[FC00::1]:5000', { host: '[fc00::1]', port: '5000', path: '', scope: '[fc00::1]:5000' }],
    ['localhost:', { host: 'localhost', port: '', path: '', scope: 'localhost' }],
    ['*.Example.com/team', { host: '*.example.com', port: '', path: 'team', scope: '*.example.com/team', hasGlob: true }]
  ]
  for (const [raw, expected] of table) {
    const key = parseCredentialKey(raw)
    t.strictSame(key && { host: key.host, port: key.port, path: key.path, scope: key.scope, hasGlob: key.hasGlob },
      { hasGlob: false, ...expected }, raw)
    t.equal(key?.raw, raw, `${raw}: raw kept`)
    t.strictSame(key?.hostParts, expected.host.split('.'), `${raw}: host parts`)
  }
})

t.test('keys that can never match are invalid', async t => {
  const table: Array<[string, string]> = [
    ['', 'empty'],
    ['https://', 'scheme only'],
    ['/team', 'no host'],
    ['quay.io:abc', 'non-numeric port'],
    ['quay.io:*', 'glob port'],
    ['fc00::1:5000', 'IPv6 without brackets'],
    ['[fc00::1', 'unclosed bracket'],
    ['oci://quay.io', 'another scheme'],
    ['HTTPS://quay.io', 'the kubelet strips only lowercase schemes'],
    ['reg[0-9].example.com', 'character classes are not supported'],
    ['reg\\x.example.com', 'backslash'],
    ['example.com.', 'trailing dot'],
    ['a..b', 'empty label'],
    [' quay.io', 'space'],
    ['quay.io\n', 'control character'],
    ['quay.io/%zz', 'bad percent escape']
  ]
  for (const [raw, why] of table) t.equal(parseCredentialKey(raw), undefined, `${JSON.stringify(raw)}: ${why}`)
  t.equal(parseCredentialKey(undefined as unknown as string), undefined, 'not a string')
})

t.test('matching edge cases', async t => {
  const table: Array<[string, string, boolean, string]> = [
    // every Docker Hub spelling covers Hub images, official or not
    ['https://index.docker.io/v1/', 'nginx', true, 'docker login key'],
    ['index.docker.io', 'globex/app', true, 'legacy host'],
    ['registry-1.docker.io', 'nginx:1.27', true, 'API host'],
    ['docker.io', 'docker.io/library/nginx', true, 'canonical host'],
    ['docker.io', 'registry-1.docker.io/library/nginx', true, 'image written with the API host'],
    ['docker.io/globex', 'globex/app', true, 'Hub organisation'],
    ['docker.io/globex', 'initech/app', false, 'other Hub organisation'],
    ['docker.io/library', 'nginx', true, 'official images'],
    ['index.docker.io:443', 'nginx', false, 'a port makes it another registry'],
    ['https://index.docker.io/v1/', 'localhost/app', false, 'localhost is not Hub'],
    // hosts and ports
    ['Registry.Example.com', 'registry.example.com/x', true, 'host case does not matter'],
    ['registry.example.com', 'REGISTRY.example.com/x', true, 'image host case does not matter'],
    ['localhost:5000', 'localhost:5000/team/app', true, 'same port'],
    ['localhost:5000', 'localhost/team/app', false, 'port on the key only'],
    ['localhost', 'localhost:5000/team/app', false, 'port on the image only'],
    ['[fc00::1]:5000', '[fc00::1]:5000/docker/docker', true, 'IPv6 with port'],
    ['[fc00::1]:5000', '[FC00::1]:5000/docker/docker', true, 'IPv6 hex case'],
    ['[fc00::1]:5000', '[fc00::1]:5001/docker/docker', false, 'IPv6 other port'],
    ['[fc00::1]', '[fc00::1]/app', true, 'IPv6 without port'],
    ['a_b.example', 'a_b.example/app', true, 'host the runtime reads as a path element'],
    // globs: one part each, '*' within the part
    ['*', 'localhost/app', true, 'single-label glob'],
    ['*', 'quay.io/app', false, 'single-label glob, two labels'],
    ['reg-*.example.com', 'reg-eu.example.com/x', true, 'glob prefix'],
    ['reg-*.example.com', 'reg.example.com/x', false, 'glob needs its literal part'],
    ['a*b*c.example', 'axxbyyc.example/x', true, 'two stars'],
    ['a*b*c.example', 'axxbyycd.example/x', false, 'two stars, trailing text'],
    ['**.example', 'x.example/y', true, 'double star'],
    ['*.example.com', 'example.com/x', false, 'a glob part never matches a missing part'],
    ['*.*.*.*', '10.0.0.1:5000/x', false, 'port differs'],
    ['*.*.*.*:5000', '10.0.0.1:5000/x', true, 'IPv4 by glob'],
    // paths: plain string prefix, trailing slash is literal
    ['quay.io/org', 'quay.io/organisation/x', true, 'prefix, not a path segment'],
    ['quay.io/org/', 'quay.io/org/app', true, 'trailing slash, deeper image'],
    ['quay.io/org/', 'quay.io/org', false, 'trailing slash, image is the org itself'],
    ['quay.io/org/app', 'quay.io/org/app:v1', true, 'the exact repository'],
    ['quay.io/v1', 'quay.io/v1/x', true, 'v1 without trailing slash stays a path'],
    ['https://quay.io/v2/org/', 'quay.io/org/app', true, 'v2 prefix dropped']
  ]
  for (const [key, reference, expected, why] of table) {
    t.equal(matches(key, reference), expected, `${key} ~ ${reference}: ${why}`)
  }
})

t.test('canonical registry names', async t => {
  t.equal(canonicalRegistry('index.docker.io'), 'docker.io')
  t.equal(canonicalRegistry('Registry-1.Docker.io'), 'docker.io')
  t.equal(canonicalRegistry('docker.io:443'), 'docker.io:443')
  t.equal(canonicalRegistry('LOCALDOMAIN'), 'localdomain')
  t.equal(canonicalRegistry('[FC00::1]:5000'), '[fc00::1]:5000')
})

t.test('owner registries: the https default port is no port, Docker Hub by any alias', async t => {
  const table: Array<[string, string]> = [
    ['registry.acme.example', 'registry.acme.example'],
    ['registry.acme.example:443', 'registry.acme.example'],
    ['Registry.ACME.example:443', 'registry.acme.example'],
    ['registry.acme.example:0443', 'registry.acme.example'],
    ['registry.acme.example:5000', 'registry.acme.example:5000'],
    ['registry.acme.example:05000', 'registry.acme.example:5000'],
    ['registry.acme.example:4430', 'registry.acme.example:4430'],
    ['registry.acme.example:80', 'registry.acme.example:80'],
    ['registry.acme.example:0', 'registry.acme.example:0'],
    ['docker.io:443', 'docker.io'],
    ['index.docker.io:443', 'docker.io'],
    ['Registry-1.Docker.io:443', 'docker.io'],
    ['docker.io:5000', 'docker.io:5000'],
    ['[FC00::1]:443', '[fc00::1]'],
    ['[fc00::1]:5000', '[fc00::1]:5000'],
    ['localhost:', 'localhost']
  ]
  for (const [registry, owner] of table) t.equal(ownerRegistryOf(registry), owner, registry)
})

t.test('matching (the kubelet, ports literal) and claiming (ownership, :443 is no port) differ only on the port spelling', async t => {
  const table: Array<[key: string, image: string, matches: boolean, claims: boolean]> = [
    ['registry.acme.example', 'registry.acme.example/app', true, true],
    ['registry.acme.example', 'registry.acme.example:443/app', false, true],
    ['registry.acme.example:443', 'registry.acme.example/app', false, true],
    ['registry.acme.example:443', 'registry.acme.example:443/app', true, true],
    ['https://registry.acme.example:443/v2/', 'registry.acme.example/app', false, true],
    ['registry.acme.example:0443', 'registry.acme.example/app', false, true],
    ['registry.acme.example', 'registry.acme.example:0443/app', false, true],
    ['registry.acme.example', 'registry.acme.example:5000/app', false, false],
    ['registry.acme.example:5000', 'registry.acme.example:443/app', false, false],
    ['registry.acme.example/team', 'registry.acme.example:443/other', false, false],
    ['registry.acme.example/team', 'registry.acme.example:443/team/app', false, true],
    ['index.docker.io:443', 'nginx', false, true],
    ['https://index.docker.io:443/v1/', 'globex/app', false, true],
    ['registry-1.docker.io:443', 'docker.io:443/library/nginx', false, true],
    ['docker.io/globex', 'docker.io:443/globex/app', false, true],
    ['docker.io:443/globex', 'globex/app', false, true],
    ['docker.io:443/globex', 'initech/app', false, false],
    ['*.acme.example', 'eu.acme.example:443/x', false, true],
    ['*.acme.example:443', 'eu.acme.example/x', false, true],
    ['*.acme.example:443', 'eu.acme.example:443/x', true, true],
    ['*.acme.example:443', 'eu.acme.example:5000/x', false, false],
    ['[fc00::1]', '[fc00::1]:443/app', false, true]
  ]
  for (const [raw, reference, matches, claims] of table) {
    const key = parseCredentialKey(raw)
    if (key === undefined) throw new Error(`test key ${raw} does not parse`)
    t.equal(credentialKeyMatches(key, image(reference)), matches, `${raw} ~ ${reference}: kubelet match`)
    t.equal(credentialKeyClaims(key, image(reference)), claims, `${raw} ~ ${reference}: ownership claim`)
  }
})

t.test('safe key scopes: user-info, queries, fragments and non-numeric ports never show', async t => {
  const table: Array<[raw: string, safe: string]> = [
    // keys that parse: their normalised scope
    ['https://ci-bot:tok-userinfo-1@registry.acme.example', 'registry.acme.example'],
    ['ci-bot:tok-userinfo-2@registry.acme.example:443/team/', 'registry.acme.example:443/team/'],
    ['registry.acme.example/team?token=tok-query-3', 'registry.acme.example/team'],
    ['registry.acme.example?tok-query-4', 'registry.acme.example'],
    ['registry.acme.example/team#tok-fragment-5', 'registry.acme.example/team'],
    ['https://u:tok-both-6@registry.acme.example/v2/team?access_token=tok-both-7#x', 'registry.acme.example/team'],
    // a percent-decoded path is cut at the same characters (such a key never matches an image)
    ['quay.io/a%40tok-encoded-8', 'quay.io/a'],
    ['quay.io/a%3Ftoken%3Dtok-encoded-9', 'quay.io/a'],
    ['https://index.docker.io/v1/', 'docker.io'],
    // keys that do not parse: the raw text, cut
    ['https://ci-bot:tok/slash-10@registry.acme.example', 'registry.acme.example'],
    ['https://ci-bot:tok-11@reg[0].example/team?token=tok-12', 'reg[0].example/team'],
    ['reg[0].example?x=@tok-13', 'reg[0].example'],
    ['ci-bot:tok-port-14', 'ci-bot:…'],
    ['https://quay.io:tok-port-15/team', 'https://quay.io:…/team'],
    ['quay.io:abc', 'quay.io:…'],
    ['reg[0-9].example.com', 'reg[0-9].example.com'],
    ['oci://quay.io/team', 'oci://quay.io/team'],
    ['[fc00::1', '[fc00::1'],
    ['https://ci-bot:tok-16@', UNPARSEABLE_KEY],
    ['?token=tok-17', UNPARSEABLE_KEY],
    ['', '']
  ]
  for (const [raw, safe] of table) {
    const shown = safeKeyScope(raw)
    t.equal(shown, safe, JSON.stringify(raw))
    t.notMatch(shown, /tok-|abc/, `${JSON.stringify(raw)}: no secret part`)
  }
  t.equal(safeKeyScope(undefined as unknown as string), '', 'not a string')
})

t.test('safe key scopes are bounded, and never split a character', async t => {
  const long = safeKeyScope(`reg[0].example/${'x'.repeat(100_000)}`)
  t.equal(long.length, 256)
  t.ok(long.endsWith('…'))
  // an astral character straddling the cut: dropped whole, no lone surrogate left
  const astral = safeKeyScope(`reg[0].example/${'x'.repeat(254 - 'reg[0].example/'.length)}😀tail`)
  t.notMatch(astral, /[\ud800-\udbff](?![\udc00-\udfff])/, 'no lone high surrogate')
  t.ok(astral.endsWith('x…'))
  t.equal(safeKeyScope(`quay.io/${'a'.repeat(300)}`).length, 256, 'parsed scopes too')
})
