// A start that fails on the operator's input is one line on stderr naming the flag and its value, exit
// 1, no stack trace: first the mapping as a table, then each failure as an operator meets it, run in
// this process (runCli) and once through the built CLI (npm test builds first).

import t from 'tap'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ManifestError } from '../../src/cluster/static-view.js'
import { describeStartupError, type StartupSettings } from '../../src/cli/startup-error.js'
import { KeyPairError } from '../../src/server/tls.js'
import { runCli, spawnCli } from '../support/cli.js'
import { createTestCa, issueServerCertificate } from '../support/tls.js'
import { pool } from './run-pool.js'

const settings: StartupSettings = { host: '127.0.0.1', port: 8443, metricsPort: 9090, tlsCert: '/tls/tls.crt', tlsKey: '/tls/tls.key' }

const systemError = (message: string, fields: Record<string, unknown>): Error => Object.assign(new Error(message), fields)
// As src/server/serve.ts throws it: the files in the message, what went wrong as the cause.
const keyPairError = (cause: Error): Error => new KeyPairError(`TLS certificate /tls/tls.crt (key /tls/tls.key): ${cause.message}`, undefined, { cause })

t.test('each failure becomes one line naming its flag', async t => {
  const table: Array<[string, unknown, StartupSettings | undefined, string | undefined]> = [
    ['objects file missing', new ManifestError('/x/cluster.yaml', 'cannot read (ENOENT)'), undefined, '--objects /x/cluster.yaml: no such file (ENOENT)'],
    ['objects file unreadable', new ManifestError('/x/cluster.yaml', 'cannot read (EACCES)'), undefined, '--objects /x/cluster.yaml: permission denied (EACCES)'],
    ['objects file invalid', new ManifestError('/x/cluster.yaml', 'invalid YAML/JSON at line 3: BAD_INDENT'), undefined,
      '--objects /x/cluster.yaml: invalid YAML/JSON at line 3: BAD_INDENT'],
    ['certificate file missing', keyPairError(systemError('ENOENT: no such file', { code: 'ENOENT', syscall: 'open', path: '/tls/tls.crt' })), settings,
      '--tls-cert /tls/tls.crt: no such file (ENOENT)'],
    ['key file unreadable', keyPairError(systemError('EACCES: permission denied', { code: 'EACCES', syscall: 'open', path: '/tls/tls.key' })), settings,
      '--tls-key /tls/tls.key: permission denied (EACCES)'],
    ['a directory given (read fails, naming no file)', keyPairError(systemError('EISDIR: illegal operation on a directory, read', { code: 'EISDIR', syscall: 'read' })), settings,
      '--tls-cert /tls/tls.crt or --tls-key /tls/tls.key: is a directory, not a file (EISDIR)'],
    ['certificate not PEM', keyPairError(new KeyPairError('certificate does not parse: error:0480006C:PEM routines::no start line')), settings,
      '--tls-cert /tls/tls.crt: certificate does not parse: error:0480006C:PEM routines::no start line'],
    ['key not PEM', keyPairError(new KeyPairError('private key does not parse: unsupported')), settings, '--tls-key /tls/tls.key: private key does not parse: unsupported'],
    ['key of another certificate', keyPairError(new KeyPairError('private key does not match certificate serial 0A')), settings,
      '--tls-key /tls/tls.key: private key does not match certificate serial 0A in --tls-cert /tls/tls.crt'],
    ['certificate expired', keyPairError(new KeyPairError('certificate has expired (notBefore …)')), settings, '--tls-cert /tls/tls.crt: certificate has expired (notBefore …)'],
    ['port in use', systemError('listen EADDRINUSE', { code: 'EADDRINUSE', syscall: 'listen', port: 8443 }), settings,
      '--port 8443: 127.0.0.1:8443 is already in use (EADDRINUSE)'],
    ['metrics port in use', systemError('listen EADDRINUSE', { code: 'EADDRINUSE', syscall: 'listen', port: 9090 }), settings,
      '--metrics-port 9090: 127.0.0.1:9090 is already in use (EADDRINUSE)'],
    ['both ports the same, in use', systemError('listen EADDRINUSE', { code: 'EADDRINUSE', syscall: 'listen', port: 7000 }), { ...settings, port: 7000, metricsPort: 7000 },
      '--port 7000 and --metrics-port 7000: 127.0.0.1:7000 is already in use (EADDRINUSE)'],
    ['a privileged port', systemError('listen EACCES', { code: 'EACCES', syscall: 'listen', port: 443 }), { ...settings, port: 443, host: '::' },
      '--port 443: not permitted to listen on [::]:443 (EACCES; ports below 1024 need privileges)'],
    ['an address not on this machine', systemError('listen EADDRNOTAVAIL', { code: 'EADDRNOTAVAIL', syscall: 'listen', port: 8443 }), { ...settings, host: '10.9.9.9' },
      '--host 10.9.9.9: not an address of this machine (EADDRNOTAVAIL)'],
    ['a host name that does not resolve', systemError('getaddrinfo ENOTFOUND', { code: 'ENOTFOUND', syscall: 'getaddrinfo' }), { ...settings, host: 'nowhere.invalid' },
      '--host nowhere.invalid: cannot resolve (ENOTFOUND)'],
    ['a bug stays a bug', new TypeError('x is not a function'), settings, undefined],
    ['a listen error on a port we did not ask for', systemError('listen EADDRINUSE', { code: 'EADDRINUSE', syscall: 'listen', port: 1 }), settings, undefined]
  ]
  for (const [name, error, given, expected] of table) t.equal(describeStartupError(error, given), expected, name)
})

t.test('from the command line: exit 1 and exactly that line on stderr', async t => {
  const dir = t.testdir({ 'garbage.pem': 'not a certificate\n' })
  const ca = await createTestCa()
  const [pair, other] = await Promise.all([issueServerCertificate(ca), issueServerCertificate(ca)])
  writeFileSync(join(dir, 'tls.crt'), pair.cert)
  writeFileSync(join(dir, 'other.key'), other.key)
  const taken: Server = createServer()
  await new Promise<void>(resolve => { taken.listen(0, '127.0.0.1', resolve) })
  t.teardown(() => { taken.close() })
  const busy = (taken.address() as AddressInfo).port

  const serve = (...args: string[]): string[] =>
    ['serve', '--objects', 'examples/standalone/cluster.yaml', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--log-level', 'silent', ...args]
  const table: Array<[string, string[], string]> = [
    ['missing certificate file', serve('--tls-cert', `${dir}/absent.crt`, '--tls-key', `${dir}/absent.key`), `--tls-cert ${dir}/absent.crt: no such file (ENOENT)`],
    ['certificate file not PEM', serve('--tls-cert', `${dir}/garbage.pem`, '--tls-key', `${dir}/other.key`),
      `--tls-cert ${dir}/garbage.pem: certificate does not parse: error:0480006C:PEM routines::no start line`],
    ['key of another certificate', serve('--tls-cert', `${dir}/tls.crt`, '--tls-key', `${dir}/other.key`), `--tls-key ${dir}/other.key: private key does not match certificate serial`],
    ['port in use', serve('--port', String(busy)), `--port ${busy}: 127.0.0.1:${busy} is already in use (EADDRINUSE)`],
    ['metrics port in use', serve('--metrics-port', String(busy)), `--metrics-port ${busy}: 127.0.0.1:${busy} is already in use (EADDRINUSE)`],
    ['objects file missing (serve)', ['serve', '--objects', `${dir}/absent.yaml`], `--objects ${dir}/absent.yaml: no such file (ENOENT)`],
    ['objects file missing (review)', ['review', '--objects', `${dir}/absent.yaml`], `--objects ${dir}/absent.yaml: no such file (ENOENT)`],
    ['objects file not YAML', ['review', '--objects', `${dir}/garbage.pem`, '--objects', 'examples/standalone/cluster.yaml'], `--objects ${dir}/garbage.pem: `]
  ]
  // In this process, but for one: that the process itself exits once a start has failed with a
  // listener already open (the webhook's, when the metrics port is taken).
  const runs = await pool(table, 3, ([name, args]) => name === 'metrics port in use' ? spawnCli(args, '{}') : runCli(args, '{}'))
  table.forEach(([name, , line], i) => {
    const run = runs[i]
    t.equal(run?.code, 1, `${name}: exit 1`)
    t.equal(run?.stderr.slice(0, `pullguard: ${line}`.length), `pullguard: ${line}`, name)
    t.equal(run?.stderr.split('\n').length, 2, `${name}: one line, no stack trace`)
  })
})
