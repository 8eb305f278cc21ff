// The one suite over real sockets: HTTPS on 127.0.0.1 with certificate verification against a test CA.
// The HTTP contract itself is covered through inject in app.test.ts; this covers what only a real
// listener has: TLS, concurrency, rotation, keep-alive, shutdown and the metrics listener.

import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { X509Certificate } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Agent, request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { checkServerIdentity, connect, createServer as createTlsServer, type ConnectionOptions, type EphemeralKeyInfo, type TLSSocket } from 'node:tls'
import { fileURLToPath } from 'node:url'
import type { AdmissionReview } from '../../src/admission/types.js'
import { DEFAULT_BODY_LIMIT_BYTES, DEFAULT_SHUTDOWN_DELAY_SECONDS } from '../../src/server/limits.js'
import { startServer, type ServerHandle } from '../../src/server/serve.js'
import { KeyPairError } from '../../src/server/tls.js'
import { childEnv } from '../support/child-env.js'
import { FakeClock } from '../support/fake-clock.js'
import { createTestCa, issueServerCertificate, SecretVolume } from '../support/tls.js'
import { captureLog, podCreate, reviewService } from './helper.js'

const TS_RESOLVE = fileURLToPath(new URL('../support/ts-resolve.mjs', import.meta.url))

interface Reply {
  status: number
  connection: string | undefined
  body: string
  /** serial of the certificate this connection was served with */
  serial: string
  localPort: number
}

const ca = await createTestCa()
const [first, second] = await Promise.all([issueServerCertificate(ca), issueServerCertificate(ca)])
const dir = await mkdtemp(join(tmpdir(), 'pullguard-https-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
const volume = await SecretVolume.create(join(dir, 'tls'), first)

const log = captureLog()
const { service, view } = reviewService()
// The default delay, timed by a clock the shutdown test moves.
const SHUTDOWN_DELAY_SECONDS = DEFAULT_SHUTDOWN_DELAY_SECONDS
const drainClock = new FakeClock()
const server: ServerHandle = await startServer({
  service,
  view,
  logger: log.logger,
  settings: {
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    tlsCert: volume.certFile,
    tlsKey: volume.keyFile,
    bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES,
    shutdownDelaySeconds: SHUTDOWN_DELAY_SECONDS
  },
  certPollIntervalMs: 200,
  timers: drainClock,
  handleSignals: false
})
t.teardown(async () => { const closed = server.close(); await drainClock.runAll(); await closed })

const reviewBody = (uid: string): string => JSON.stringify(podCreate(uid))
const JSON_TYPE = { 'content-type': 'application/json' }

function request (
  path: string,
  { method = 'GET', body, agent = false, base = server.url, trustCa = true }:
  { method?: string, body?: string, agent?: Agent | false, base?: string, trustCa?: boolean } = {}
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, base), {
      method,
      agent,
      ...(trustCa && { ca: ca.cert }),
      headers: body === undefined ? {} : JSON_TYPE
    }, res => {
      const socket = res.socket as TLSSocket
      const serial = socket.getPeerCertificate().serialNumber
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: Buffer.concat(chunks).toString(), serial, localPort: socket.localPort ?? 0 }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * A review whose body is sent in two parts: resolves once the server has read the headers (it
 * answered `Expect: 100-continue`) and the first part is on the wire; `finish` sends the rest. The
 * request is in flight, on the server's side too, until then.
 */
async function slowReview (uid: string): Promise<{ finish: () => void, reply: Promise<Reply> }> {
  const body = reviewBody(uid)
  let started!: () => void
  const inFlight = new Promise<void>(resolve => { started = resolve })
  let release!: () => void
  const reply = new Promise<Reply>((resolve, reject) => {
    const req = httpsRequest(new URL('/mutate', server.url), {
      method: 'POST',
      agent: false,
      ca: ca.cert,
      headers: { ...JSON_TYPE, 'content-length': Buffer.byteLength(body), expect: '100-continue' }
    }, res => {
      const socket = res.socket as TLSSocket
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: Buffer.concat(chunks).toString(), serial: socket.getPeerCertificate().serialNumber, localPort: socket.localPort ?? 0 }) })
    })
    req.on('error', reject)
    // Node's server sends 100 Continue once it has parsed the headers: proof, not a guess, that the
    // request is in progress on its side (a close now must wait for it, not drop it as idle)
    req.on('continue', () => { req.write(body.slice(0, 1000), () => { started() }) })
    req.flushHeaders()
    release = () => { req.end(body.slice(1000)) }
  })
  await inFlight
  return { finish: release, reply }
}

async function eventually (predicate: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await predicate()) return true
    await sleep(50)
  }
  return false
}

async function scrape (): Promise<string> {
  const res = await fetch(server.metricsUrl)
  return res.text()
}

t.test('a review round trip over verified TLS', async t => {
  t.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/)
  t.not(server.port, 0, 'port 0 resolved to the bound port')
  const reply = await request('/mutate?timeout=10s', { method: 'POST', body: reviewBody('rt-1') })
  t.equal(reply.status, 200)
  t.equal(reply.serial, first.serialNumber)
  const answer = JSON.parse(reply.body) as AdmissionReview
  t.equal(answer.response?.uid, 'rt-1')
  t.equal(answer.response?.patchType, 'JSONPatch')

  t.equal((await request('/healthz')).status, 200)
  t.equal((await request('/readyz')).status, 200)
  await t.rejects(request('/healthz', { trustCa: false }), /self-signed certificate in certificate chain|unable to verify/i,
    'a client without the CA refuses the certificate: verification is really on')
})

interface Handshake {
  protocol: string | null
  cipher: string
  /** the key exchange group, as OpenSSL names it */
  group: string | undefined
}

function handshake (port: number, trusted: string, offer: ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: trusted, ...offer })
    socket.once('secureConnect', () => {
      resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().name, group: (socket.getEphemeralKeyInfo() as EphemeralKeyInfo | null)?.name })
      socket.destroy()
    })
    socket.once('error', reject)
  })
}

// What a client offers that pullguard must refuse, for each key type: a suite the key could negotiate
// (an ECDSA key has no static-RSA or ECDHE-RSA suites to refuse). SECLEVEL=0 lets this client offer
// what OpenSSL would not otherwise send; the permissive server below proves each offer negotiable.
const tls12 = (ciphers: string, extra: ConnectionOptions = {}): ConnectionOptions => ({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers, ...extra })
const OLD_PROTOCOLS: Array<[string, ConnectionOptions]> = [
  ['TLS 1.0', { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'ALL@SECLEVEL=0' }],
  ['TLS 1.1', { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'ALL@SECLEVEL=0' }]
]
const REFUSED: Record<'ec' | 'rsa', Array<[string, ConnectionOptions]>> = {
  ec: [
    ...OLD_PROTOCOLS,
    ['CBC, SHA-1 MAC: ECDHE-ECDSA-AES128-SHA', tls12('ECDHE-ECDSA-AES128-SHA@SECLEVEL=0')],
    ['CBC: ECDHE-ECDSA-AES128-SHA256', tls12('ECDHE-ECDSA-AES128-SHA256')],
    ['CBC: ECDHE-ECDSA-AES256-SHA384', tls12('ECDHE-ECDSA-AES256-SHA384')],
    ['SHA-1 signatures only', tls12('ECDHE-ECDSA-AES128-GCM-SHA256@SECLEVEL=0', { sigalgs: 'ECDSA+SHA1' })]
  ],
  rsa: [
    ...OLD_PROTOCOLS,
    ['static RSA, CBC, SHA-1 MAC: AES128-SHA', tls12('AES128-SHA@SECLEVEL=0')],
    ['static RSA, CBC: AES256-SHA256', tls12('AES256-SHA256')],
    ['static RSA, AEAD: AES128-GCM-SHA256', tls12('AES128-GCM-SHA256')],
    ['static RSA, AEAD: AES256-GCM-SHA384', tls12('AES256-GCM-SHA384')],
    ['CBC, SHA-1 MAC: ECDHE-RSA-AES128-SHA', tls12('ECDHE-RSA-AES128-SHA@SECLEVEL=0')],
    ['CBC: ECDHE-RSA-AES256-SHA384', tls12('ECDHE-RSA-AES256-SHA384')],
    ['SHA-1 signatures only', tls12('ECDHE-RSA-AES128-GCM-SHA256@SECLEVEL=0', { sigalgs: 'RSA+SHA1' })]
  ]
}
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']
const ALLOWED_TLS12: Record<'ec' | 'rsa', string[]> = {
  ec: ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305'],
  rsa: ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305']
}
// The server's alert, not a client-side refusal: the handshake reached the server and it said no.
const SERVER_REFUSAL = { code: /^ERR_SSL_(SSL\/TLS_ALERT_HANDSHAKE_FAILURE|TLSV1_ALERT_PROTOCOL_VERSION)$/ }

t.test('cipher suites: TLS 1.3, and TLS 1.2 only with ECDHE and AEAD, for EC and RSA keys', async t => {
  // The RSA pair arrives by rotation, so the reloaded context is held to the same policy as the first.
  const rsaCa = await createTestCa('rsa')
  const rsaPair = await issueServerCertificate(rsaCa, { keyType: 'rsa' })
  const rsaVolume = await SecretVolume.create(join(dir, 'tls-rsa'), first)
  const rsaServer = await startServer({
    service,
    view,
    logger: captureLog().logger,
    settings: { host: '127.0.0.1', port: 0, metricsPort: 0, tlsCert: rsaVolume.certFile, tlsKey: rsaVolume.keyFile, bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES, shutdownDelaySeconds: 0 },
    certPollIntervalMs: 200,
    handleSignals: false
  })
  t.teardown(() => rsaServer.close())
  await rsaVolume.rotate(rsaPair)
  // Trusting only the RSA CA, the handshake succeeds once the RSA pair is the one served.
  t.ok(await eventually(async () => (await handshake(rsaServer.port, rsaCa.cert, {}).catch(() => undefined)) !== undefined), 'the RSA pair is served')

  const targets = { ec: { port: server.port, pem: first, trusted: ca.cert }, rsa: { port: rsaServer.port, pem: rsaPair, trusted: rsaCa.cert } }
  for (const keyType of ['ec', 'rsa'] as const) {
    const { port, pem, trusted } = targets[keyType]
    const permissive = createTlsServer({ cert: pem.cert, key: pem.key, minVersion: 'TLSv1', ciphers: 'ALL@SECLEVEL=0' }, socket => { socket.end() })
    await new Promise<void>(resolve => permissive.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>(resolve => permissive.close(() => { resolve() })))
    const permissivePort = (permissive.address() as AddressInfo).port

    for (const [name, offer] of REFUSED[keyType]) {
      await t.resolves(handshake(permissivePort, trusted, offer), `${keyType} ${name}: negotiable with a permissive server`)
      await t.rejects(handshake(port, trusted, offer), SERVER_REFUSAL, `${keyType} ${name}: refused`)
    }
    for (const cipher of ALLOWED_TLS12[keyType]) {
      t.match(await handshake(port, trusted, tls12(cipher)), { protocol: 'TLSv1.2', cipher }, `${keyType} ${cipher}: served`)
    }
    for (const cipher of TLS13_SUITES) {
      t.match(await handshake(port, trusted, { minVersion: 'TLSv1.3', ciphers: cipher }), { protocol: 'TLSv1.3', cipher }, `${keyType} TLS 1.3 ${cipher}: served`)
    }
    // Go 1.24+ (the API server from Kubernetes 1.33) offers the post-quantum hybrid first.
    t.match(await handshake(port, trusted, { minVersion: 'TLSv1.3', ecdhCurve: 'X25519MLKEM768' }), { protocol: 'TLSv1.3', group: 'X25519MLKEM768' },
      `${keyType} TLS 1.3 with X25519MLKEM768: served`)
  }
})

t.test('200 concurrent reviews are all answered, each with its own uid', async t => {
  const agent = new Agent({ keepAlive: true, maxSockets: 50, ca: ca.cert })
  t.teardown(() => agent.destroy())
  const replies = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    request('/mutate', { method: 'POST', body: reviewBody(`concurrent-${i}`), agent })))
  t.equal(replies.filter(r => r.status === 200).length, 200)
  const uids = new Set(replies.map(r => (JSON.parse(r.body) as AdmissionReview).response?.uid))
  t.equal(uids.size, 200)
  t.ok(uids.has('concurrent-199'))
})

t.test('certificate rotation by ..data symlink swap: new connections get the new pair, open ones carry on', async t => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.cert })
  t.teardown(() => agent.destroy())
  const before = await request('/mutate', { method: 'POST', body: reviewBody('keepalive-1'), agent })
  t.equal(before.serial, first.serialNumber)
  const inFlight = await slowReview('in-flight-rotation')

  await volume.rotate(second)
  t.ok(await eventually(async () => (await request('/healthz')).serial === second.serialNumber), 'a new connection sees the new serial')

  inFlight.finish()
  const finished = await inFlight.reply
  t.equal(finished.status, 200, 'the request in flight across the rotation is answered')
  t.equal(finished.serial, first.serialNumber, '…on its original connection')

  const after = await request('/mutate', { method: 'POST', body: reviewBody('keepalive-2'), agent })
  t.equal(after.status, 200)
  t.equal(after.localPort, before.localPort, 'the keep-alive connection was not dropped')
  t.equal(after.serial, first.serialNumber)
  t.match(await scrape(), /pullguard_tls_reloads_total\{result="success"\} 1/)
})

const EXPIRED_DATES = { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-02-01T00:00:00Z') }

t.test('a rotation to an expired certificate: refused, the served one kept, the failure counted and logged', async t => {
  const expired = await issueServerCertificate(ca, EXPIRED_DATES)
  await volume.rotate(expired)
  t.ok(await eventually(async () => /pullguard_tls_reloads_total\{result="failure"\} 1\n/.test(await scrape())), 'counted as a failed reload')
  t.equal((await request('/healthz')).serial, second.serialNumber, 'new connections still get the pair in use')
  t.match(log.records('new serving certificate refused, keeping the current one'), [{
    level: 'error',
    reason: /^certificate has expired \(notBefore 2020-01-01T00:00:00\.000Z, notAfter 2020-02-01T00:00:00\.000Z, now /,
    serialNumber: expired.serialNumber,
    notBefore: '2020-01-01T00:00:00.000Z',
    notAfter: '2020-02-01T00:00:00.000Z',
    certFile: volume.certFile
  }])
  t.match(await scrape(), new RegExp(`pullguard_tls_certificate_expiry_timestamp_seconds ${new X509Certificate(second.cert).validToDate.getTime() / 1000}\n`),
    'the expiry gauge still shows the served certificate')
  // The files hold the served pair again (for the SIGTERM test's process below).
  await volume.rotate(second)
})

t.test('a certificate outside its validity is a one-line startup error naming the files and the dates', async t => {
  const expiredDir = join(dir, 'expired')
  await mkdir(expiredDir)
  const expired = await issueServerCertificate(ca, EXPIRED_DATES)
  await writeFile(join(expiredDir, 'tls.crt'), expired.cert)
  await writeFile(join(expiredDir, 'tls.key'), expired.key)
  const start = (files: { certFile: string, keyFile: string }, now?: () => Date): Promise<ServerHandle> => startServer({
    service,
    view,
    logger: captureLog().logger,
    settings: { host: '127.0.0.1', port: 0, metricsPort: 0, tlsCert: files.certFile, tlsKey: files.keyFile, bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES, shutdownDelaySeconds: 0 },
    handleSignals: false,
    ...(now !== undefined && { now })
  })
  const expiredFiles = { certFile: join(expiredDir, 'tls.crt'), keyFile: join(expiredDir, 'tls.key') }
  const error = await start(expiredFiles).then(() => undefined, (err: unknown) => err as Error)
  t.type(error, KeyPairError)
  t.equal(error?.message.replace(/now [^)]+\)$/, 'now …)'),
    `TLS certificate ${expiredFiles.certFile} (key ${expiredFiles.keyFile}): certificate has expired ` +
    '(notBefore 2020-01-01T00:00:00.000Z, notAfter 2020-02-01T00:00:00.000Z, now …)')
  t.notOk(error?.message.includes('\n'), 'one line')

  // The injected clock decides, both ways, for a certificate valid today.
  const valid = { certFile: join(dir, 'first.crt'), keyFile: join(dir, 'first.key') }
  await writeFile(valid.certFile, first.cert)
  await writeFile(valid.keyFile, first.key)
  const served = new X509Certificate(first.cert)
  await t.rejects(start(valid, () => new Date(served.validToDate.getTime() + 1000)), { name: 'KeyPairError', message: /: certificate has expired \(/ })
  await t.rejects(start(valid, () => new Date(served.validFromDate.getTime() - 1000)), { name: 'KeyPairError', message: /: certificate is not yet valid \(/ })
  // A file that is not there is the same kind of error: the files, and why.
  await t.rejects(start({ certFile: join(dir, 'missing.crt'), keyFile: valid.keyFile }),
    { name: 'KeyPairError', message: new RegExp(`^TLS certificate ${join(dir, 'missing.crt')} \\(key .*\\): ENOENT`) })
})

t.test('metrics listener shows the reviews served', async t => {
  const text = await scrape()
  const patched = /pullguard_admission_requests_total\{operation="CREATE",result="patched"\} (\d+)/.exec(text)
  t.ok(Number(patched?.[1]) >= 204, `CREATE patched counted (${patched?.[1]})`)
  t.match(text, /pullguard_admission_duration_seconds_count\{operation="CREATE"\} \d+/)
  t.match(text, /pullguard_tls_certificate_expiry_timestamp_seconds \d+/)
  t.match(text, /process_resident_memory_bytes/)
  t.equal((await fetch(new URL('/other', server.metricsUrl))).status, 404)
})

t.test('without TLS files: a self-signed certificate for localhost, announced loudly', async t => {
  const own = captureLog()
  const standalone = await startServer({
    service,
    view,
    logger: own.logger,
    settings: { host: '127.0.0.1', port: 0, metricsPort: 0, bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES, shutdownDelaySeconds: 0 },
    handleSignals: false
  })
  t.teardown(() => standalone.close())
  t.match(own.records(), [{ level: 'warn', msg: /SELF-SIGNED/ }])
  // Trusting the served certificate itself, a client verifies it for localhost.
  const served = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: standalone.port, rejectUnauthorized: false }, () => {
      const der = socket.getPeerCertificate().raw
      socket.destroy()
      resolve(`-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`)
    })
    socket.once('error', reject)
  })
  const status = await new Promise<number>((resolve, reject) => {
    httpsRequest({ host: '127.0.0.1', port: standalone.port, path: '/healthz', servername: 'localhost', ca: served, agent: false, checkServerIdentity: (_host, cert) => checkServerIdentity('localhost', cert) }, res => {
      res.resume()
      resolve(res.statusCode ?? 0)
    }).on('error', reject).end()
  })
  t.equal(status, 200)
})

t.test('a port already taken: startServer rejects, closing what it had opened', async t => {
  const blocker = createNetServer()
  await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => blocker.close(() => { resolve() })))
  const taken = (blocker.address() as AddressInfo).port
  // Were the HTTPS listener left open, this test process could not exit.
  await t.rejects(startServer({
    service,
    view,
    logger: captureLog().logger,
    settings: { host: '127.0.0.1', port: 0, metricsPort: taken, bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES, shutdownDelaySeconds: 0 },
    handleSignals: false
  }), { code: 'EADDRINUSE' })
})

t.test('graceful shutdown: readiness fails at once, reviews served through the delay, idle connections closed, in-flight finish', async t => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.cert })
  t.teardown(() => agent.destroy())
  const kept = await request('/mutate', { method: 'POST', body: reviewBody('before-close'), agent })
  t.equal(kept.connection, 'keep-alive')
  // A connection the client holds idle through the whole delay.
  const idleAgent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.cert })
  t.teardown(() => idleAgent.destroy())
  t.equal((await request('/healthz', { agent: idleAgent })).connection, 'keep-alive')
  const [idleSocket] = Object.values(idleAgent.freeSockets).flat()
  if (idleSocket === undefined) throw new Error('no idle socket in the pool')
  let idleClosed = false
  const idleClosing = once(idleSocket, 'close').then(() => { idleClosed = true })
  const inFlight = await slowReview('in-flight-shutdown')
  const closed = server.close()

  const ready = await request('/readyz')
  t.equal(ready.status, 503, 'readiness fails at once')
  t.same(JSON.parse(ready.body), { status: 'shutting down' })
  const during = await request('/mutate', { method: 'POST', body: reviewBody('during-delay') })
  t.equal(during.status, 200, 'a review on a new connection during the delay is answered…')
  t.equal(during.connection, 'close', '…and told to close')
  const last = await request('/mutate', { method: 'POST', body: reviewBody('kept-alive-during-delay'), agent })
  t.equal(last.status, 200, 'an open keep-alive connection is still served…')
  t.equal(last.localPort, kept.localPort)
  t.equal(last.connection, 'close', '…and told to close')
  t.equal((await fetch(server.metricsUrl)).status, 200, 'metrics still scraped while draining')

  await drainClock.advance(SHUTDOWN_DELAY_SECONDS * 1000 - 1)
  t.equal((await request('/healthz')).status, 200, 'a millisecond before the delay ends, still accepting')
  t.notOk(idleClosed, 'the idle connection is left open through the delay')
  t.same(log.records('drain delay over: closing idle connections, finishing the reviews in flight'), [])

  await drainClock.advance(1)
  await idleClosing
  t.pass('the delay over, the idle connection is closed')
  await t.rejects(request('/healthz'), { code: 'ECONNREFUSED' }, 'no longer accepting')
  // The listener is closed, but the request in flight is waited for, and answered.
  inFlight.finish()
  t.match(await inFlight.reply, { status: 200, connection: 'close' }, 'the in-flight review is answered, not 503')
  await closed
  await t.rejects(fetch(server.metricsUrl), 'metrics listener closed')
  t.same(log.records().map(r => r.msg).filter(msg => /^(draining|drain delay over|shut down)/.test(msg as string)),
    ['draining: readiness failing, still answering reviews', 'drain delay over: closing idle connections, finishing the reviews in flight', 'shut down'])
})

t.test('SIGTERM on a serving process: drains, then exits 0', async t => {
  // Node's own type stripping runs the sources directly: a fraction of the TypeScript loader's startup.
  const fixture = (name: string): string => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url))
  const child = spawn(process.execPath, [
    '--no-warnings', '--experimental-transform-types', '--import', TS_RESOLVE, fixture('serve-process.ts')
  ], {
    env: childEnv({ PULLGUARD_TEST_CERT: volume.certFile, PULLGUARD_TEST_KEY: volume.keyFile, PULLGUARD_TEST_DELAY_SECONDS: '1.5' }),
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const lines: Array<Record<string, unknown>> = []
  let serving!: (url: string) => void
  const url = new Promise<string>(resolve => { serving = resolve })
  let drainingStarted!: () => void
  const draining = new Promise<void>(resolve => { drainingStarted = resolve })
  let buffered = ''
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const record = JSON.parse(buffered.slice(0, i)) as Record<string, unknown>
      buffered = buffered.slice(i + 1)
      lines.push(record)
      if (record.msg === 'pullguard serving') serving(record.url as string)
      if (typeof record.msg === 'string' && record.msg.startsWith('draining')) drainingStarted()
    }
  })
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>
  const base = await Promise.race([url, exited.then(([code]) => { throw new Error(`server process exited early with ${code}`) })])

  t.equal((await request('/readyz', { base })).status, 200)
  child.kill('SIGTERM')
  await draining
  // Both connect at once, the moment draining is logged: one after the other, two TLS handshakes on
  // a loaded machine could outlast the 1.5 s delay and find the listener closed.
  const [ready, review] = await Promise.all([
    request('/readyz', { base }),
    request('/mutate', { base, method: 'POST', body: reviewBody('after-sigterm') })
  ])
  t.equal(ready.status, 503, 'not ready after SIGTERM')
  t.equal(review.status, 200, 'reviews still answered')
  const [code, signal] = await exited
  t.equal(code, 0, 'exit code 0')
  t.equal(signal, null)
  t.ok(lines.some(l => l.msg === 'signal received, shutting down' && l.signal === 'SIGTERM'))
  t.ok(lines.some(l => l.msg === 'shut down'))
})
