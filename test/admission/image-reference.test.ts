import t from 'tap'
import fc from 'fast-check'
import { parseImageName } from '../../src/admission/image-reference.js'
import { fixture } from '../support/fixtures.js'

interface ReferenceCase { ref: string, name: string | null, why?: string }

const references = fixture<{ cases: ReferenceCase[] }>('image-references.json')

t.test('reference sample: normalised names as the runtime parses them', async t => {
  for (const { ref, name, why } of references.cases) {
    t.equal(parseImageName(ref)?.name ?? null, name, why === undefined ? ref : `${ref} (${why})`)
  }
})

const hex = (n: number, digit = 'a') => digit.repeat(n)

t.test('registry and path', async t => {
  const table: Array<[string, string, string]> = [
    ['nginx', 'docker.io', 'library/nginx'],
    ['nginx@sha256:' + hex(64), 'docker.io', 'library/nginx'],
    ['docker.io/library', 'docker.io', 'library/library'],
    ['index.docker.io/nginx:1', 'docker.io', 'library/nginx'],
    ['registry-1.docker.io/library/nginx', 'registry-1.docker.io', 'library/nginx'],
    ['localhost', 'docker.io', 'library/localhost'],
    ['localhost:5000', 'docker.io', 'library/localhost'], // a single element is always a Hub name
    ['example.com', 'docker.io', 'library/example.com'],
    ['localhost/team/app', 'localhost', 'team/app'],
    ['[fc00::1]:5000/docker/docker', '[fc00::1]:5000', 'docker/docker'],
    ['[fc00::1]/app', '[fc00::1]', 'app'],
    ['ghcr.io/globex/billing:v1@sha256:' + hex(64, 'b'), 'ghcr.io', 'globex/billing'],
    ['quay.io/org/app@sha384:' + hex(96), 'quay.io', 'org/app'],
    ['quay.io/org/app@sha512:' + hex(128), 'quay.io', 'org/app'],
    [hex(64) + ':tag', 'docker.io', 'library/' + hex(64)], // only the bare identifier is refused
    ['a--b/c__d/e.f_g', 'docker.io', 'a--b/c__d/e.f_g'],
    // not a valid host, but a valid path component: the runtime keeps it as the first path element
    // and still pulls from that host
    ['a_b.example/app', 'a_b.example', 'app'],
    ['UPPER.example.com/app', 'UPPER.example.com', 'app'],
    ['registry.example.com:5000/x/y/z:' + 'T'.repeat(128), 'registry.example.com:5000', 'x/y/z']
  ]
  for (const [ref, registry, path] of table) {
    t.strictSame(parseImageName(ref), { registry, path, name: `${registry}/${path}` }, ref)
  }
})

t.test('invalid references', async t => {
  const table: Array<[string, string]> = [
    ['', 'empty'],
    ['nginx:', 'empty tag'],
    ['nginx@', 'empty digest'],
    ['nginx:' + 'a'.repeat(129), 'tag longer than 128'],
    ['nginx:-x', 'tag starting with a dash'],
    ['nginx@sha256:' + hex(63), 'short sha256'],
    ['nginx@sha256:' + hex(64, 'A'), 'uppercase digest hex'],
    ['nginx@md5:' + hex(32), 'unregistered digest algorithm'],
    ['nginx@sha256:' + hex(64) + '@sha256:' + hex(64), 'two digests'],
    ['NGINX', 'uppercase official name'],
    ['library/Nginx', 'uppercase path'],
    ['localhost:5000/Team/app', 'uppercase path after a host'],
    ['a//b', 'empty component'],
    ['a/b/', 'trailing slash'],
    ['/a', 'leading slash'],
    ['a___b', 'three underscores'],
    ['a..b/c', 'a host with an empty label is no path either'],
    ['a.-b/c', 'separator then dash'],
    ['foo:bar/baz', 'non-numeric port'],
    ['host:5000:6000/x', 'two ports'],
    [' nginx', 'leading space'],
    ['nginx\n', 'trailing newline'],
    ['nginx:1.27 ', 'trailing space'],
    ['ngïnx', 'non-ASCII'],
    ['x/' + 'a'.repeat(254), 'path of 256 characters'],
    ['a_b.example/' + 'a'.repeat(244), 'path of 256 characters when the first element is a path component']
  ]
  for (const [ref, why] of table) t.equal(parseImageName(ref), undefined, why)
  t.equal(parseImageName(42 as unknown as string), undefined, 'not a string')
})

t.test('length limits follow the grammar: the path is bounded, the registry is not', async t => {
  t.equal(parseImageName('x/' + 'a'.repeat(253))?.path.length, 255)
  t.equal(parseImageName('a_b.example/' + 'a'.repeat(243))?.path, 'a'.repeat(243), '255 with the first element')
  const longHost = Array.from({ length: 100 }, () => 'label').join('.')
  t.equal(parseImageName(`${longHost}/app`)?.registry, longHost)
})

t.test('never throws, and a parsed name parses to itself', async t => {
  const piece = fc.constantFrom('a', 'b', '0', '.', '-', '_', '__', '/', ':', '@', 'A', '[', ']', '::1', 'sha256:', hex(64), 'localhost', 'docker.io', 'index.docker.io', '5000', ' ', 'é')
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.array(piece, { maxLength: 12 }).map(parts => parts.join(''))), reference => {
    const parsed = parseImageName(reference)
    if (parsed === undefined) return true
    return parsed.name === `${parsed.registry}/${parsed.path}` && parseImageName(parsed.name)?.name === parsed.name
  }), { numRuns: 5000 })
  t.pass('5000 random references')
})

t.test('parsed names are remembered, shared read-only, and the memory is bounded', async t => {
  const first = parseImageName('registry.acme.example/web/server:2.1.0')
  t.equal(parseImageName('registry.acme.example/web/server:2.1.0'), first, 'the same reference answers the same object')
  t.ok(Object.isFrozen(first), 'so nobody can change it under another review')
  t.equal(parseImageName('Not/Valid'), undefined)
  t.equal(parseImageName('Not/Valid'), undefined, 'an invalid reference stays invalid when remembered')
  // Far more distinct references than the cache keeps: every answer is still the parser's.
  for (let i = 0; i < 10_000; i++) {
    const parsed = parseImageName(`registry-${i}.example/team/app-${i}:v${i}`)
    if (parsed?.name !== `registry-${i}.example/team/app-${i}`) t.fail(`reference ${i} parsed as ${parsed?.name}`)
  }
  t.same(parseImageName('registry.acme.example/web/server:2.1.0'), { registry: 'registry.acme.example', path: 'web/server', name: 'registry.acme.example/web/server' }, 'evicted, parsed again')
  const long = `${'a'.repeat(600)}.example/app`
  t.equal(parseImageName(long)?.registry, `${'a'.repeat(600)}.example`, 'long references are parsed, just not kept')
})

t.test('adversarial long inputs stay linear', async t => {
  // Shapes that make naive backtracking regular expressions take exponential time.
  const n = 100_000
  const shapes = [
    'a'.repeat(n) + '!',
    'a-'.repeat(n) + '!',
    'a.'.repeat(n) + '!/x',
    'x/' + 'a_'.repeat(n) + '!',
    'x/' + 'a-'.repeat(n) + 'A',
    '[' + ':'.repeat(n) + 'g]/x',
    'x/y:' + 'a'.repeat(n),
    'x/y@sha256:' + 'a'.repeat(n)
  ]
  // CPU time, not wall time: a loaded machine stretches the latter however linear the parser is
  const started = process.cpuUsage()
  for (const shape of shapes) parseImageName(shape)
  const { user, system } = process.cpuUsage(started)
  const cpuMs = (user + system) / 1000
  // generous: about 15 ms on a laptop; exponential backtracking would never finish
  t.ok(cpuMs < 1000, `${shapes.length} shapes of ~${n} characters in ${cpuMs.toFixed(1)} ms of CPU`)
})
