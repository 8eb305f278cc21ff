// The HTTP contract of /mutate, /healthz and /readyz, through app.inject (no sockets).

import t from 'tap'
import fc from 'fast-check'
import type { AdmissionReview } from '../../src/admission/types.js'
import { DEFAULT_BODY_LIMIT_BYTES } from '../../src/server/limits.js'
import { counterValue, podCreate, testApp } from './helper.js'

const JSON_TYPE = { 'content-type': 'application/json' }

t.test('a review is answered 200 with the review, uid and apiVersion echoed', async t => {
  const { app } = testApp()
  for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const) {
    const review = { ...podCreate('uid-1'), apiVersion }
    // The API server appends ?timeout=10s to the configured path.
    const res = await app.inject({ method: 'POST', url: '/mutate?timeout=10s', headers: JSON_TYPE, payload: review })
    t.equal(res.statusCode, 200, apiVersion)
    t.match(res.headers['content-type'], /^application\/json/)
    const answer = res.json<AdmissionReview>()
    t.equal(answer.apiVersion, apiVersion)
    t.equal(answer.kind, 'AdmissionReview')
    t.equal(answer.response?.uid, 'uid-1')
    t.equal(answer.response?.allowed, true)
    t.equal(answer.response?.patchType, 'JSONPatch')
  }
})

t.test('content type: only application/json reaches the review', async t => {
  const { app, metrics } = testApp()
  const body = JSON.stringify(podCreate())
  const cases: Array<[string | undefined, number]> = [
    ['application/json', 200],
    ['application/json; charset=utf-8', 200],
    ['Application/JSON', 200],
    ['text/plain', 415],
    ['application/x-www-form-urlencoded', 415],
    ['application/yaml', 415],
    ['multipart/form-data; boundary=x', 415],
    ['application/jsonx', 415],
    [undefined, 415]
  ]
  for (const [contentType, status] of cases) {
    const res = await app.inject({
      method: 'POST',
      url: '/mutate',
      headers: contentType === undefined ? {} : { 'content-type': contentType },
      payload: body
    })
    t.equal(res.statusCode, status, `${contentType ?? 'no content type'} → ${status}`)
    if (status !== 200) t.match(res.json(), { statusCode: status, error: String, message: 'Content-Type must be application/json' })
  }
  t.equal(await counterValue(metrics, { operation: 'unknown', result: 'rejected' }), 6)
})

t.test('bodies that are not AdmissionReviews: 400 with a JSON error', async t => {
  const { app, metrics } = testApp()
  const valid = podCreate()
  const withRequest = (change: Record<string, unknown>): object => ({ ...valid, request: { ...valid.request, ...change } })
  const cases: Array<[string, string | object | unknown[]]> = [
    ['empty body', ''],
    ['whitespace', '   '],
    ['malformed JSON', '{"apiVersion": "admission.k8s.io/v1", '],
    ['trailing garbage', `${JSON.stringify(valid)}}`],
    ['JSON null', 'null'],
    ['JSON string', '"AdmissionReview"'],
    ['JSON number', '42'],
    ['JSON array', [valid]],
    ['empty object', {}],
    ['wrong kind', { ...valid, kind: 'Pod' }],
    ['unknown apiVersion', { ...valid, apiVersion: 'admission.k8s.io/v2' }],
    ['no request', { apiVersion: valid.apiVersion, kind: valid.kind }],
    ['request is a string', { ...valid, request: 'x' }],
    ['missing uid', withRequest({ uid: undefined })],
    ['empty uid', withRequest({ uid: '' })],
    ['numeric uid', withRequest({ uid: 7 })],
    ['unknown operation', withRequest({ operation: 'PATCH' })],
    ['object is an array', withRequest({ object: [] })]
  ]
  for (const [name, payload] of cases) {
    const res = await app.inject({
      method: 'POST',
      url: '/mutate',
      headers: JSON_TYPE,
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload)
    })
    t.equal(res.statusCode, 400, name)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message: String }, `${name}: JSON error`)
  }
  t.equal(await counterValue(metrics, { operation: 'unknown', result: 'rejected' }), cases.length)
})

t.test('prototype poisoning is a 400, wherever it hides', async t => {
  const { app } = testApp()
  const valid = JSON.stringify(podCreate())
  const bodies = [
    '{"__proto__": {"polluted": true}}',
    '{"constructor": {"prototype": {"polluted": true}}}',
    valid.replace('"kind":"AdmissionReview"', '"kind":"AdmissionReview","__proto__":{"allowed":false}'),
    valid.replace('"metadata":{', '"metadata":{"__proto__":{"name":"x"},'),
    valid.replace('"metadata":{', '"metadata":{"constructor":{"prototype":{"x":1}},')
  ]
  for (const body of bodies) {
    t.not(body, valid)
    const res = await app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: body })
    t.equal(res.statusCode, 400, body.slice(0, 60))
    // Refused by the JSON parser itself, before anything reads the object.
    t.match(res.json(), { statusCode: 400, message: /not valid JSON/ })
  }
  // Control: the same key under another name is an ordinary field, and the review is answered.
  const control = await app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: bodies[3]?.replace('__proto__', 'proto') })
  t.equal(control.statusCode, 200)
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
})

t.test('body limit: 413 past it, large UPDATEs under the default pass', async t => {
  t.test('configured limit', async t => {
    const { app, metrics } = testApp({ bodyLimitBytes: 4096 })
    const review = podCreate()
    const padded = { ...review, request: { ...review.request, object: { ...(review.request?.object as object), padding: 'x'.repeat(8192) } } }
    const res = await app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: JSON.stringify(padded) })
    t.equal(res.statusCode, 413)
    t.match(res.json(), { statusCode: 413, error: 'Payload Too Large' })
    t.equal(await counterValue(metrics, { operation: 'unknown', result: 'rejected' }), 1)
  })

  t.test('default limit (6 MiB)', async t => {
    const { app } = testApp()
    t.equal(DEFAULT_BODY_LIMIT_BYTES, 6291456)
    // An UPDATE of a ~1.4 MiB Pod: object and oldObject together are ~2.8 MiB.
    const review = podCreate()
    const pod = review.request?.object as { metadata: { annotations?: Record<string, string> } }
    pod.metadata.annotations = { big: 'y'.repeat(1_400_000) }
    const update = { ...review, request: { ...review.request, operation: 'UPDATE', name: 'web-1', object: pod, oldObject: pod } }
    const res = await app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: JSON.stringify(update) })
    t.equal(res.statusCode, 200)
    t.equal(res.json<AdmissionReview>().response?.allowed, true)

    const huge = JSON.stringify({ ...update, request: { ...update.request, padding: 'z'.repeat(DEFAULT_BODY_LIMIT_BYTES) } })
    const tooBig = await app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: huge })
    t.equal(tooBig.statusCode, 413)
  })
})

t.test('unknown routes and methods: 404 JSON', async t => {
  const { app } = testApp()
  for (const [method, url] of [['GET', '/'], ['GET', '/mutate'], ['POST', '/validate'], ['GET', '/metrics'], ['DELETE', '/healthz']] as const) {
    const res = await app.inject({ method, url })
    t.equal(res.statusCode, 404, `${method} ${url}`)
    t.match(res.json(), { statusCode: 404, error: 'Not Found' })
  }
})

t.test('healthz: 200 whenever the process serves', async t => {
  const { app, state } = testApp()
  for (const [ready, draining] of [[false, false], [true, false], [true, true]]) {
    state.ready = ready as boolean
    state.draining = draining as boolean
    t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  }
})

t.test('readyz: 200 only when the view is ready and shutdown has not begun', async t => {
  const { app, state } = testApp()
  state.ready = false
  let res = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 503, 'before the view is ready')
  t.same(res.json(), { status: 'not ready' })
  state.ready = true
  res = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 200, 'ready')
  state.draining = true
  res = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 503, 'draining')
  t.same(res.json(), { status: 'shutting down' })
  // Draining only fails readiness: reviews are still answered, on connections told to close.
  const review = await app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: podCreate() })
  t.equal(review.statusCode, 200)
  t.equal(review.headers.connection, 'close')
  const refused = await app.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'text/plain' }, payload: 'x' })
  t.equal(refused.statusCode, 415)
  t.equal(refused.headers.connection, 'close', 'refusals retire the connection too')
  const invalid = await app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: '{}' })
  t.equal(invalid.statusCode, 400)
  t.equal(invalid.headers.connection, 'close')
  state.draining = false
  const normal = await app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: podCreate() })
  t.not(normal.headers.connection, 'close', 'keep-alive when not draining')
})

t.test('a bug in the service: 500 JSON, counted, logged, and the next review is served', async t => {
  let calls = 0
  const { app, metrics, log } = testApp({
    service: {
      review: async () => {
        calls++
        if (calls === 1) throw new TypeError('cannot read properties of undefined (reading "spec") auth=c2VjcmV0')
        return { response: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u2', allowed: true } }, decision: 'allowed', summary: { decision: 'allowed', reason: 'test', patchOperations: 0, warnings: 0 } }
      }
    }
  })
  const res = await app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: podCreate('u1') })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'internal error' }, 'no internal detail echoed')
  t.equal(await counterValue(metrics, { operation: 'CREATE', result: 'error' }), 1)
  const [failed] = log.records('review failed')
  t.equal(failed?.level, 'error')
  t.equal(failed?.uid, 'u1')
  t.match(failed?.err, { type: 'TypeError', stack: String })

  const next = await app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: podCreate('u2') })
  t.equal(next.statusCode, 200)
})

t.test('one info line per review, bound to the review; bodies only at debug', async t => {
  const review = podCreate('uid-log')
  const pod = review.request?.object as { spec: { containers: Array<{ env?: unknown[] }> } }
  const CANARY = 'body-canary-7f3a'
  pod.spec.containers[0] = { ...pod.spec.containers[0], env: [{ name: 'MARKER', value: CANARY }] }

  const info = testApp()
  await info.app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: review })
  const lines = info.log.records('review')
  t.equal(lines.length, 1, 'exactly one review line')
  t.match(lines[0], {
    level: 'info',
    uid: 'uid-log',
    namespace: 'team-a',
    generateName: 'web-5d8f7c9b6-',
    operation: 'CREATE',
    decision: 'patched',
    tenant: 'acme',
    durationMs: Number
  })
  t.notOk(info.log.lines.join('').includes(CANARY), 'no body at info')
  t.notOk(info.log.lines.some(l => l.includes('incoming request')), 'no per-request noise at info')

  const debug = testApp({ logLevel: 'debug' })
  await debug.app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: review })
  t.ok(debug.log.lines.join('').includes(CANARY), 'body at debug')
})

t.test('at warn level a review logs nothing, and what the service warns about is bound to the review', async t => {
  const quiet = testApp({ logLevel: 'warn' })
  const res = await quiet.app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: podCreate('uid-quiet') })
  t.equal(res.statusCode, 200)
  t.same(quiet.log.lines, [], 'no line for a review that went well')

  const warned = testApp({
    logLevel: 'warn',
    service: {
      review: async (review, log) => {
        log.warn({ outcome: 'failed', reason: 'API unavailable' }, 'managed secret not ensured at admission')
        return { response: { ...review, response: { uid: review.request?.uid ?? '', allowed: true } }, decision: 'allowed', summary: { decision: 'allowed', reason: 'test', patchOperations: 0, warnings: 0 } }
      }
    }
  })
  await warned.app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: podCreate('uid-warned') })
  const [line] = warned.log.records('managed secret not ensured at admission')
  t.match(line, { level: 'warn', uid: 'uid-warned', namespace: 'team-a', operation: 'CREATE', reqId: String, outcome: 'failed' })
})

t.test('metrics count each outcome', async t => {
  const { app, metrics } = testApp()
  await app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: podCreate() })
  const deletion = podCreate()
  if (deletion.request !== undefined) deletion.request.operation = 'DELETE'
  await app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: deletion })
  await app.inject({ method: 'POST', url: '/mutate', headers: JSON_TYPE, payload: '{' })
  t.equal(await counterValue(metrics, { operation: 'CREATE', result: 'patched' }), 1)
  t.equal(await counterValue(metrics, { operation: 'DELETE', result: 'allowed' }), 1)
  t.equal(await counterValue(metrics, { operation: 'unknown', result: 'rejected' }), 1)
  const duration = await metrics.admissionDuration.get()
  const count = duration.values.find(v => v.metricName === 'pullguard_admission_duration_seconds_count' && v.labels.operation === 'CREATE')
  t.equal(count?.value, 1)
})

// No input, however mangled, may produce a 5xx: every body below goes through the real service.
t.test('mangled bodies never yield a 5xx', async t => {
  const { app } = testApp()
  const valid = podCreate()
  const text = JSON.stringify(valid)
  const paths = collectPaths(valid)

  const check = async (payload: string, contentType = 'application/json'): Promise<boolean> => {
    const res = await app.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': contentType }, payload })
    if (res.statusCode >= 500) t.fail(`${res.statusCode} for ${payload.slice(0, 200)}`)
    return res.statusCode < 500
  }

  // Structural: replace or delete one node of a valid review, anywhere, with any JSON value.
  await fc.assert(fc.asyncProperty(
    fc.nat(), fc.jsonValue({ maxDepth: 3 }), fc.boolean(),
    async (index, value, remove) => {
      const review = structuredClone(valid) as unknown as Record<string, unknown>
      setPath(review, paths[index % paths.length] as string[], value, remove)
      return check(JSON.stringify(review))
    }
  ), { numRuns: 250, seed: 42 })

  // Textual: truncations and byte flips of the valid body, and arbitrary strings.
  await fc.assert(fc.asyncProperty(
    fc.nat({ max: text.length }), fc.nat({ max: text.length - 1 }), fc.string({ minLength: 1, maxLength: 3 }),
    async (cut, at, junk) => (await check(text.slice(0, cut))) && (await check(text.slice(0, at) + junk + text.slice(at + junk.length)))
  ), { numRuns: 150, seed: 7 })
  await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 200 }), async body => check(body)), { numRuns: 100, seed: 3 })

  // Specific horrors: deep nesting, huge numbers, odd types where strings are expected.
  const horrors = [
    '['.repeat(5000) + ']'.repeat(5000),
    `{"a":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}`,
    text.replace('"CREATE"', '1e400'),
    text.replace('"team-a"', '{"$ref":"#"}'),
    text.replace('"containers":[', '"containers":[null,1,"x",[],'),
    text.replace('"spec":{', '"spec":{"containers":{"0":{}},"x":{'),
    '\uFEFF' + text
  ]
  for (const body of horrors) t.ok(await check(body), body.slice(0, 40))
})

function collectPaths (value: unknown, prefix: string[] = [], out: string[][] = []): string[][] {
  out.push(prefix)
  if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) collectPaths(child, [...prefix, key], out)
  }
  return out
}

function setPath (root: Record<string, unknown>, path: string[], value: unknown, remove: boolean): void {
  if (path.length === 0) return
  let node = root
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>
  const last = path[path.length - 1] as string
  if (remove && Array.isArray(node)) node.splice(Number(last), 1)
  else if (remove) Reflect.deleteProperty(node, last)
  else node[last] = value
}
