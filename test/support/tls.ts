// Test PKI: a throwaway CA, server certificates it signs, and the on-disk layouts rotation happens in.
// EC P-256 keys by default: generation takes milliseconds; an RSA key takes ~150 ms, so only for the
// tests that need one.

import { X509Certificate } from 'node:crypto'
import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generate } from 'selfsigned'

export interface Pem {
  cert: string
  key: string
}

export interface ServerCertificate extends Pem {
  serialNumber: string
}

/** selfsigned signs with the CA's key as the leaf's key type: an RSA leaf needs an RSA CA. */
export async function createTestCa (keyType: 'ec' | 'rsa' = 'ec', commonName = `pullguard test CA (${keyType})`): Promise<Pem> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
    ]
  })
  return { cert: pems.cert, key: pems.private }
}

export interface ServerCertificateOptions {
  /** EC P-256 by default; RSA (2048 bits) for the suites only an RSA key negotiates */
  keyType?: 'ec' | 'rsa'
  /** the validity window; from now for a year by default (both are whole seconds in X.509) */
  notBefore?: Date
  notAfter?: Date
  commonName?: string
}

/** A serving certificate for 127.0.0.1 and localhost signed by `ca` (of the same key type); each call has a new serial. */
export async function issueServerCertificate (ca: Pem, options: ServerCertificateOptions = {}): Promise<ServerCertificate> {
  const { keyType = 'ec', commonName = 'pullguard.test' } = options
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType,
    algorithm: 'sha256',
    ca,
    ...(options.notBefore !== undefined && { notBeforeDate: options.notBefore }),
    ...(options.notAfter !== undefined && { notAfterDate: options.notAfter }),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }
    ]
  })
  return { cert: pems.cert, key: pems.private, serialNumber: new X509Certificate(pems.cert).serialNumber }
}

/**
 * A directory laid out as the kubelet writes Secret volumes (and so cert-manager's certificates):
 * `tls.crt` → `..data/tls.crt`, `..data` → `..<version>/`. `rotate` swaps the `..data` symlink by
 * atomic rename, exactly the change fs.watch on the files themselves cannot see.
 */
export class SecretVolume {
  readonly certFile: string
  readonly keyFile: string
  private version = 0

  private constructor (readonly dir: string) {
    this.certFile = join(dir, 'tls.crt')
    this.keyFile = join(dir, 'tls.key')
  }

  static async create (dir: string, pair: Pem): Promise<SecretVolume> {
    const volume = new SecretVolume(dir)
    await mkdir(dir, { recursive: true })
    await volume.rotate(pair)
    await symlink(join('..data', 'tls.crt'), volume.certFile)
    await symlink(join('..data', 'tls.key'), volume.keyFile)
    return volume
  }

  /** Writes the new version beside the old one, then points `..data` at it in one rename. */
  async rotate (pair: { cert: string, key: string }): Promise<void> {
    const versionDir = `..v${++this.version}`
    await mkdir(join(this.dir, versionDir))
    await writeFile(join(this.dir, versionDir, 'tls.crt'), pair.cert)
    await writeFile(join(this.dir, versionDir, 'tls.key'), pair.key)
    const previous = await readlink(join(this.dir, '..data')).catch(() => undefined)
    await symlink(versionDir, join(this.dir, '..data_tmp'))
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'))
    if (previous !== undefined) await rm(join(this.dir, previous), { recursive: true })
  }
}
