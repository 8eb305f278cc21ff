// The built CLI (npm test builds first) refusing a certificate file at start, as an operator sees it:
// one line on stderr naming the flag, the file and the dates, exit 1, and no listener left behind.

import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnCli } from '../support/cli.js'
import { createTestCa, issueServerCertificate } from '../support/tls.js'

t.test('serve with an expired certificate: one line on stderr, exit 1', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'pullguard-cli-tls-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const ca = await createTestCa()
  const expired = await issueServerCertificate(ca, { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-02-01T00:00:00Z') })
  const certFile = join(dir, 'tls.crt')
  const keyFile = join(dir, 'tls.key')
  await writeFile(certFile, expired.cert)
  await writeFile(keyFile, expired.key)

  const { code, stderr } = await spawnCli(['serve', '--objects', 'examples/standalone/cluster.yaml', '--host', '127.0.0.1',
    '--port', '0', '--metrics-port', '0', '--tls-cert', certFile, '--tls-key', keyFile])

  t.equal(code, 1)
  t.match(stderr, new RegExp(
    `^pullguard: --tls-cert ${certFile}: certificate has expired ` +
    '\\(notBefore 2020-01-01T00:00:00\\.000Z, notAfter 2020-02-01T00:00:00\\.000Z, now \\d{4}-[^)]+\\)\\n$'))
  t.equal(stderr.split('\n').length, 2, 'one line, no stack trace')
})
