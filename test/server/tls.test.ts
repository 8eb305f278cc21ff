// Loading, validating and re-reading the serving certificate (no sockets; https.test.ts serves it).

import t from 'tap'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  inspectKeyPair,
  KeyPairError,
  readKeyPair,
  selfSignedKeyPair,
  watchKeyPair,
  type CertificateInfo,
  type KeyPair
} from '../../src/server/tls.js'
import { createTestCa, issueServerCertificate, SecretVolume, type Pem } from '../support/tls.js'
import { captureLog } from './log-capture.js'

const pairOf = (pem: Pem): KeyPair => ({ cert: Buffer.from(pem.cert), key: Buffer.from(pem.key) })

async function tempDir (t: { teardown: (fn: () => unknown) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pullguard-tls-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** resolves when `predicate` holds, polling every 10 ms; fails after `timeoutMs` */
async function eventually (predicate: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (predicate()) return true
    await sleep(10)
  }
  return predicate()
}

const ca = await createTestCa()
const [first, second, third] = await Promise.all([issueServerCertificate(ca), issueServerCertificate(ca), issueServerCertificate(ca)]) as [Pem & { serialNumber: string }, Pem & { serialNumber: string }, Pem & { serialNumber: string }]

t.test('inspectKeyPair accepts a matching pair and refuses the rest', async t => {
  const info = inspectKeyPair(pairOf(first))
  t.equal(info.serialNumber, first.serialNumber)
  t.match(info.subjectAltName, /IP Address:127\.0\.0\.1/)
  t.ok(info.notAfter > new Date())

  const cases: Array<[string, KeyPair, RegExp]> = [
    ['key of another certificate', { cert: Buffer.from(first.cert), key: Buffer.from(second.key) }, /does not match/],
    ['truncated certificate', { cert: Buffer.from(first.cert.slice(0, 200)), key: Buffer.from(first.key) }, /certificate does not parse/],
    ['empty key', { cert: Buffer.from(first.cert), key: Buffer.alloc(0) }, /private key does not parse/],
    ['key in place of the certificate', { cert: Buffer.from(first.key), key: Buffer.from(first.key) }, /certificate does not parse/]
  ]
  for (const [name, pair, message] of cases) {
    const error = t.throws(() => inspectKeyPair(pair), name) as Error
    t.type(error, KeyPairError)
    t.match(error.message, message, name)
    t.notOk(error.message.includes('PRIVATE KEY'), `${name}: no key material in the message`)
  }
})

t.test('validity: refused before notBefore and after notAfter, both bounds inclusive, on the given clock', async t => {
  const notBefore = new Date('2030-01-01T00:00:00Z')
  const notAfter = new Date('2030-02-01T00:00:00Z')
  const dated = await issueServerCertificate(ca, { notBefore, notAfter })
  const at = (iso: string, ms = 0): Date => new Date(new Date(iso).getTime() + ms)
  const cases: Array<[string, Date, RegExp | undefined]> = [
    ['a millisecond before notBefore', at('2030-01-01T00:00:00Z', -1), /^certificate is not yet valid \(/],
    ['at notBefore', notBefore, undefined],
    ['in between', at('2030-01-15T12:00:00Z'), undefined],
    ['at notAfter', notAfter, undefined],
    ['a millisecond after notAfter', at('2030-02-01T00:00:00Z', 1), /^certificate has expired \(/]
  ]
  for (const [name, now, refusal] of cases) {
    if (refusal === undefined) {
      t.equal(inspectKeyPair(pairOf(dated), now).serialNumber, dated.serialNumber, `${name}: accepted`)
      continue
    }
    const error = t.throws(() => inspectKeyPair(pairOf(dated), now), name) as KeyPairError
    t.type(error, KeyPairError)
    t.match(error.message, refusal, name)
    t.ok(error.message.includes(`notBefore 2030-01-01T00:00:00.000Z, notAfter 2030-02-01T00:00:00.000Z, now ${now.toISOString()}`), `${name}: the dates`)
    t.match(error.certificate, { serialNumber: dated.serialNumber, notBefore, notAfter })
  }
  // The default clock is the system's: a certificate from 2030 is not valid yet.
  t.throws(() => inspectKeyPair(pairOf(dated)), /not yet valid/)
})

t.test('self-signed fallback: a serving certificate for localhost', async t => {
  const pair = await selfSignedKeyPair()
  const info = inspectKeyPair(pair)
  const certificate = new X509Certificate(pair.cert)
  t.equal(certificate.ca, false)
  t.match(info.subjectAltName, /DNS:localhost/)
  t.match(info.subjectAltName, /IP Address:127\.0\.0\.1/)
  t.ok(certificate.checkHost('localhost'))
  t.ok(certificate.checkIP('127.0.0.1'))
  const days = (info.notAfter.getTime() - Date.now()) / 86_400_000
  t.ok(days > 360 && days < 370, `valid about a year (${days.toFixed(0)} days)`)
})

interface Recorder {
  changes: CertificateInfo[]
  rejections: Error[]
  onChange: (pair: KeyPair, info: CertificateInfo) => void
  onRejected: (error: Error) => void
}

function recorder (): Recorder {
  const changes: CertificateInfo[] = []
  const rejections: Error[] = []
  return { changes, rejections, onChange: (_pair, info) => { changes.push(info) }, onRejected: error => { rejections.push(error) } }
}

t.test('a symlink swap of ..data is seen by the directory watch, without waiting for a poll', async t => {
  const dir = await tempDir(t)
  const volume = await SecretVolume.create(dir, first)
  const log = captureLog()
  const seen = recorder()
  const watcher = watchKeyPair({
    certFile: volume.certFile,
    keyFile: volume.keyFile,
    current: await readKeyPair(volume.certFile, volume.keyFile),
    pollIntervalMs: 3_600_000,
    logger: log.logger,
    ...seen
  })
  t.teardown(() => watcher.close())

  await volume.rotate(second)
  t.ok(await eventually(() => seen.changes.length === 1), 'reloaded')
  t.equal(seen.changes[0]?.serialNumber, second.serialNumber)
  t.match(log.records('serving certificate reloaded'), [{ level: 'info', serialNumber: second.serialNumber }])
})

t.test('the poll catches a change no directory event announces', async t => {
  // The files are symlinks into a directory we do not watch, replaced there by rename.
  const watched = await tempDir(t)
  const elsewhere = await tempDir(t)
  await writeFile(join(elsewhere, 'tls.crt'), first.cert)
  await writeFile(join(elsewhere, 'tls.key'), first.key)
  await symlink(join(elsewhere, 'tls.crt'), join(watched, 'tls.crt'))
  await symlink(join(elsewhere, 'tls.key'), join(watched, 'tls.key'))
  const seen = recorder()
  const watcher = watchKeyPair({
    certFile: join(watched, 'tls.crt'),
    keyFile: join(watched, 'tls.key'),
    current: pairOf(first),
    pollIntervalMs: 100,
    logger: captureLog().logger,
    ...seen
  })
  t.teardown(() => watcher.close())

  await writeFile(join(elsewhere, 'tls.key.new'), second.key)
  await writeFile(join(elsewhere, 'tls.crt.new'), second.cert)
  await rename(join(elsewhere, 'tls.key.new'), join(elsewhere, 'tls.key'))
  await rename(join(elsewhere, 'tls.crt.new'), join(elsewhere, 'tls.crt'))
  t.ok(await eventually(() => seen.changes.length === 1), 'reloaded by polling')
  t.equal(seen.changes[0]?.serialNumber, second.serialNumber)
})

t.test('a half-written rotation keeps the current pair, logs once, and recovers', async t => {
  const dir = await tempDir(t)
  const certFile = join(dir, 'tls.crt')
  const keyFile = join(dir, 'tls.key')
  await writeFile(certFile, first.cert)
  await writeFile(keyFile, first.key)
  const log = captureLog()
  const seen = recorder()
  const watcher = watchKeyPair({ certFile, keyFile, current: pairOf(first), pollIntervalMs: 3_600_000, logger: log.logger, ...seen })
  t.teardown(() => watcher.close())

  // New certificate, old key: the writer has not got to the key yet.
  await writeFile(certFile, second.cert)
  await watcher.check()
  await watcher.check()
  t.equal(seen.changes.length, 0, 'not applied')
  t.equal(seen.rejections.length, 1, 'reported once')
  t.match(seen.rejections[0]?.message, /does not match/)
  const [refused] = log.records('new serving certificate refused, keeping the current one')
  t.equal(refused?.level, 'error')
  t.notOk(log.lines.join('').includes('PRIVATE KEY'), 'no key material logged')

  // A key file caught empty is refused too.
  await writeFile(keyFile, '')
  await watcher.check()
  t.equal(seen.rejections.length, 2)

  // A missing file (mid-rename) is refused, not thrown.
  await rm(keyFile)
  await watcher.check()
  t.equal(seen.rejections.length, 3)
  t.match(seen.rejections[2], { code: 'ENOENT' })

  await writeFile(keyFile, second.key)
  await watcher.check()
  t.equal(seen.changes.length, 1, 'the completed rotation is applied')
  t.equal(seen.changes[0]?.serialNumber, second.serialNumber)
})

t.test('a rotation to a certificate outside its validity is refused with its dates; a not-yet-valid one is taken once due', async t => {
  // The files are symlinks into a directory the watcher does not watch: only the checks below read
  // them, never a directory event's check catching a write half done.
  const watched = await tempDir(t)
  const elsewhere = await tempDir(t)
  const certFile = join(watched, 'tls.crt')
  const keyFile = join(watched, 'tls.key')
  const install = async (pem: Pem): Promise<void> => {
    await writeFile(join(elsewhere, 'tls.key'), pem.key)
    await writeFile(join(elsewhere, 'tls.crt'), pem.cert)
  }
  await install(first)
  await symlink(join(elsewhere, 'tls.crt'), certFile)
  await symlink(join(elsewhere, 'tls.key'), keyFile)
  const start = new Date(Math.floor(Date.now() / 1000) * 1000)
  let clock = start
  const hour = 3_600_000
  const [expired, early] = await Promise.all([
    issueServerCertificate(ca, { notBefore: new Date(start.getTime() - 48 * hour), notAfter: new Date(start.getTime() - 24 * hour) }),
    issueServerCertificate(ca, { notBefore: new Date(start.getTime() + hour), notAfter: new Date(start.getTime() + 48 * hour) })
  ])
  const log = captureLog()
  const seen = recorder()
  const watcher = watchKeyPair({ certFile, keyFile, current: pairOf(first), pollIntervalMs: 3_600_000, logger: log.logger, now: () => clock, ...seen })
  t.teardown(() => watcher.close())

  await install(expired)
  await watcher.check()
  t.equal(seen.changes.length, 0, 'expired: not applied')
  t.equal(seen.rejections.length, 1)
  t.match(seen.rejections[0]?.message, /^certificate has expired/)
  const [refused] = log.records('new serving certificate refused, keeping the current one')
  t.match(refused, {
    level: 'error',
    reason: /^certificate has expired \(notBefore /,
    serialNumber: expired.serialNumber,
    notBefore: new Date(start.getTime() - 48 * hour).toISOString(),
    notAfter: new Date(start.getTime() - 24 * hour).toISOString(),
    certFile,
    keyFile
  })
  t.notOk('err' in (refused ?? {}), 'a described refusal, not a stack trace')

  // Back to the pair in use, then the same bad files again: a new incident, reported again.
  await install(first)
  await watcher.check()
  await install(expired)
  await watcher.check()
  t.equal(seen.rejections.length, 2, 'a repeated bad rotation is reported each time it happens')

  await install(early)
  await watcher.check()
  await watcher.check()
  t.equal(seen.rejections.length, 3, 'not yet valid: refused, once')
  t.match(seen.rejections[2]?.message, /^certificate is not yet valid/)
  t.equal(seen.changes.length, 0)

  clock = new Date(start.getTime() + hour)
  await watcher.check()
  t.equal(seen.changes.length, 1, 'the same files are taken once the clock reaches notBefore')
  t.equal(seen.changes[0]?.serialNumber, early.serialNumber)
})

t.test('unchanged content (a touch, a rewrite) reloads nothing; close stops watching', async t => {
  const dir = await tempDir(t)
  const volume = await SecretVolume.create(dir, first)
  const seen = recorder()
  const watcher = watchKeyPair({
    certFile: volume.certFile,
    keyFile: volume.keyFile,
    current: pairOf(first),
    pollIntervalMs: 50,
    logger: captureLog().logger,
    ...seen
  })
  await volume.rotate(first)
  await sleep(250)
  t.equal(seen.changes.length, 0)

  watcher.close()
  await volume.rotate(third)
  await sleep(250)
  t.equal(seen.changes.length, 0, 'nothing after close')
  t.equal(seen.rejections.length, 0)
})
