// The serving certificate: loaded from files, re-read when they rotate, or generated self-signed when
// no files are given. Rotation (cert-manager, kubelet Secret volumes) replaces the files by atomic
// rename, usually of the directory's `..data` symlink; fs.watch on a file follows the old inode and
// misses that, so we watch the directory and also poll, comparing contents. A pair that does not parse,
// whose key is not the certificate's, or whose certificate is outside its validity dates is refused:
// at start that is an error, on reload the pair being served stays.

import { X509Certificate, createHash, createPrivateKey } from 'node:crypto'
import { watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { createSecureContext, type SecureContextOptions } from 'node:tls'
import { generate } from 'selfsigned'
import type { Logger } from '../logging.js'

/** PEM cert (leaf first, chain may follow) and its PEM private key */
export interface KeyPair {
  cert: Buffer
  key: Buffer
}

export interface CertificateInfo {
  serialNumber: string
  subject: string
  subjectAltName: string | undefined
  notBefore: Date
  notAfter: Date
  fingerprint256: string
}

// TLS 1.0/1.1 are deprecated (RFC 8996); the API server speaks 1.2 and 1.3.
const TLS_MIN_VERSION = 'TLSv1.2'

// Mozilla's "intermediate" server profile (wiki.mozilla.org/Security/Server_Side_TLS), ECDHE suites
// only: TLS 1.3, and TLS 1.2 only with ephemeral ECDH (forward secrecy; no static RSA key exchange)
// and AEAD (AES-GCM, ChaCha20-Poly1305; no CBC, the home of Lucky13-style padding oracles, and with it
// no SHA-1 MAC; SHA-1 signatures OpenSSL's security level refuses already). Node's default list also
// accepts CBC and static-RSA suites. The API server (Go crypto/tls) offers these and no DHE at all.
// Both key types work: ECDSA and RSA certificates each negotiate their half of the TLS 1.2 list.
const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305'
].join(':')

/** Why a pair cannot be served; `certificate` is set when the certificate itself parsed. */
export class KeyPairError extends Error {
  override name = 'KeyPairError'
  constructor (message: string, readonly certificate?: CertificateInfo, options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * Why a certificate cannot be served at `now`, undefined when it can. Both bounds are inclusive
 * (RFC 5280 4.1.2.5). Clients check the same dates, so serving outside them fails every handshake.
 */
function validityProblem ({ notBefore, notAfter }: Pick<CertificateInfo, 'notBefore' | 'notAfter'>, now: Date): string | undefined {
  const dates = `notBefore ${notBefore.toISOString()}, notAfter ${notAfter.toISOString()}, now ${now.toISOString()}`
  if (now.getTime() < notBefore.getTime()) return `certificate is not yet valid (${dates})`
  if (now.getTime() > notAfter.getTime()) return `certificate has expired (${dates})`
  return undefined
}

/**
 * Checks that the pair parses, that the key belongs to the certificate, that the certificate is valid
 * at `now`, and that Node's TLS accepts it.
 */
export function inspectKeyPair (pair: KeyPair, now: Date = new Date()): CertificateInfo {
  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(pair.cert)
  } catch (err) {
    throw new KeyPairError(`certificate does not parse: ${(err as Error).message}`)
  }
  const info: CertificateInfo = {
    serialNumber: certificate.serialNumber,
    subject: certificate.subject,
    subjectAltName: certificate.subjectAltName,
    notBefore: certificate.validFromDate,
    notAfter: certificate.validToDate,
    fingerprint256: certificate.fingerprint256
  }
  let privateKey
  try {
    privateKey = createPrivateKey(pair.key)
  } catch (err) {
    // Never echo key material: the message names the failure only.
    throw new KeyPairError(`private key does not parse: ${(err as Error).message}`, info)
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new KeyPairError(`private key does not match certificate serial ${certificate.serialNumber}`, info)
  }
  const problem = validityProblem(info, now)
  if (problem !== undefined) throw new KeyPairError(problem, info)
  try {
    createSecureContext(secureContextOptions(pair))
  } catch (err) {
    throw new KeyPairError(`TLS refused the pair: ${(err as Error).message}`, info)
  }
  return info
}

export function secureContextOptions (pair: KeyPair): SecureContextOptions {
  return {
    cert: pair.cert,
    key: pair.key,
    minVersion: TLS_MIN_VERSION,
    ciphers: TLS_CIPHERS,
    // As Mozilla's profile says: the client chooses. Every suite here is strong, and a client without
    // AES hardware knows to prefer ChaCha20.
    honorCipherOrder: false
    // ecdhCurve stays OpenSSL's default: all strong, and since OpenSSL 3.5 led by the post-quantum
    // hybrid X25519MLKEM768 that Go 1.24+ clients offer first; Mozilla's fixed list would drop it.
  }
}

export async function readKeyPair (certFile: string, keyFile: string): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)])
  return { cert, key }
}

/** For running without a cluster: valid for localhost, 127.0.0.1 and ::1, one year. */
export async function selfSignedKeyPair (): Promise<KeyPair> {
  const notBeforeDate = new Date()
  const notAfterDate = new Date(notBeforeDate.getTime() + 365 * 24 * 3600 * 1000)
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }]
      }
    ]
  })
  return { cert: Buffer.from(pems.cert), key: Buffer.from(pems.private) }
}

export interface KeyPairWatcherOptions {
  certFile: string
  keyFile: string
  /** the pair being served now; changes are detected against it */
  current: KeyPair
  /** fs.watch misses some swaps (and some filesystems send no events): poll as the backstop */
  pollIntervalMs: number
  logger: Logger
  /** called with a validated new pair; apply it (setSecureContext) synchronously */
  onChange (pair: KeyPair, info: CertificateInfo): void
  /** called when a changed pair was refused; the current one stays in use */
  onRejected? (error: Error): void
  /** the clock certificates' validity is checked against; the system clock when absent */
  now?: () => Date
}

export interface KeyPairWatcher {
  /** compare the files with the pair in use now and reload if they differ; resolves when done */
  check (): Promise<void>
  close (): void
}

// Rotation writes several entries in a burst (new timestamped dir, temp symlink, rename, cleanup):
// wait for it to settle before reading.
const WATCH_SETTLE_MS = 100

export function watchKeyPair (options: KeyPairWatcherOptions): KeyPairWatcher {
  const { certFile, keyFile, logger } = options
  const now = options.now ?? (() => new Date())
  let current = options.current
  let lastRejected: string | undefined
  let running: Promise<void> | undefined
  let rerun = false
  let closed = false
  let settleTimer: NodeJS.Timeout | undefined

  async function reload (): Promise<void> {
    let next: KeyPair
    try {
      next = await readKeyPair(certFile, keyFile)
    } catch (err) {
      // Mid-rotation a path can be missing for a moment; the next event or poll retries.
      reject(err as Error, `unreadable:${(err as NodeJS.ErrnoException).code ?? ''}`)
      return
    }
    if (next.cert.equals(current.cert) && next.key.equals(current.key)) {
      // Back to the pair in use: the next bad state, even one seen before, is news again.
      lastRejected = undefined
      return
    }
    const fingerprint = createHash('sha256').update(next.cert).update('\0').update(next.key).digest('hex')
    let info: CertificateInfo
    try {
      // A pair not yet valid is refused now and accepted by the first check once it is: same files.
      info = inspectKeyPair(next, now())
    } catch (err) {
      reject(err as Error, fingerprint)
      return
    }
    if (closed) return
    current = next
    lastRejected = undefined
    options.onChange(next, info)
    logger.info({ serialNumber: info.serialNumber, notAfter: info.notAfter.toISOString() }, 'serving certificate reloaded')
  }

  // Report each distinct bad state once, not on every poll.
  function reject (error: Error, state: string): void {
    if (state === lastRejected) return
    lastRejected = state
    options.onRejected?.(error)
    // A refused pair is described by its reason and dates; only an I/O failure needs the error itself.
    const details = error instanceof KeyPairError
      ? {
          reason: error.message,
          ...(error.certificate !== undefined && {
            serialNumber: error.certificate.serialNumber,
            notBefore: error.certificate.notBefore,
            notAfter: error.certificate.notAfter
          })
        }
      : { err: error }
    logger.error({ ...details, certFile, keyFile }, 'new serving certificate refused, keeping the current one')
  }

  function check (): Promise<void> {
    if (running !== undefined) {
      rerun = true
      return running
    }
    running = (async () => {
      do {
        rerun = false
        await reload().catch((err: unknown) => { logger.error({ err }, 'certificate reload failed') })
      } while (rerun && !closed)
    })().finally(() => { running = undefined })
    return running
  }

  function scheduleCheck (): void {
    if (closed) return
    clearTimeout(settleTimer)
    settleTimer = setTimeout(() => { void check() }, WATCH_SETTLE_MS)
    settleTimer.unref()
  }

  const watchers: FSWatcher[] = []
  for (const dir of new Set([dirname(certFile), dirname(keyFile)])) {
    try {
      const watcher = watch(dir, { persistent: false }, scheduleCheck)
      watcher.on('error', err => {
        logger.warn({ err, dir }, 'watching the certificate directory failed, relying on polling')
        watcher.close()
      })
      watchers.push(watcher)
    } catch (err) {
      logger.warn({ err, dir }, 'cannot watch the certificate directory, relying on polling')
    }
  }
  const pollTimer = setInterval(() => { void check() }, options.pollIntervalMs)
  pollTimer.unref()

  return {
    check,
    close () {
      closed = true
      clearInterval(pollTimer)
      clearTimeout(settleTimer)
      for (const watcher of watchers) watcher.close()
    }
  }
}
