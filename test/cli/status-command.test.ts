// `pullguard status --objects` (in this process, test/support/cli.ts): one folder per case under test/fixtures/status/
// (case.json: arguments and exit code; expected.txt: the table as printed, clock masked), then the
// certificate check, JSON output and wrong calls.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { StatusReport } from '../../src/cluster/status-report.js'
import { runCli } from '../support/cli.js'
import { maskClock, matchGolden } from '../support/golden-text.js'
import { createTestCa, issueServerCertificate } from '../support/tls.js'

const CASES = fileURLToPath(new URL('../fixtures/status/', import.meta.url))
const DAY_MS = 24 * 3600 * 1000

for (const name of readdirSync(CASES)) {
  t.test(name, async t => {
    const { args, code } = JSON.parse(readFileSync(join(CASES, name, 'case.json'), 'utf8')) as { args: string[], code: number }
    const run = await runCli(['status', ...args])
    t.equal(run.code, code, `exit ${code}; stderr: ${run.stderr}`)
    matchGolden(t, join(CASES, name, 'expected.txt'), maskClock(run.stdout))
  })
}

t.test('the certificate: expired, expiring within the warning days, valid, unreadable', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'status-cert-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const ca = await createTestCa()
  const now = Date.now()
  const cases = [
    { name: 'expires in 3 days', notAfter: new Date(now + 3 * DAY_MS), state: 'expiring', code: 4 },
    { name: 'expires in 60 days', notAfter: new Date(now + 60 * DAY_MS), state: 'valid', code: 0 },
    { name: 'expired yesterday', notBefore: new Date(now - 30 * DAY_MS), notAfter: new Date(now - DAY_MS), state: 'expired', code: 4 }
  ]
  for (const { name, notBefore, notAfter, state, code } of cases) {
    const file = join(dir, `${state}.pem`)
    writeFileSync(file, (await issueServerCertificate(ca, { notAfter, ...(notBefore !== undefined && { notBefore }) })).cert)
    const run = await runCli(['status', '--objects', 'test/fixtures/status/healthy/objects.yaml', '--tls-cert', file, '-o', 'json'])
    const report = JSON.parse(run.stdout) as StatusReport
    t.equal(report.certificate.state, state, name)
    t.equal(run.code, code, `${name}: exit ${code}`)
  }
  // the warning window is a flag: 3 days left is fine with --certificate-warning-days 2
  const expiring = join(dir, 'expiring.pem')
  const relaxed = await runCli(['status', '--objects', 'test/fixtures/status/healthy/objects.yaml', '--tls-cert', expiring, '--certificate-warning-days', '2'])
  t.equal(relaxed.code, 0, 'within the window no longer')
  t.match(relaxed.stdout, /certificate: {2}valid, notAfter \S+ \(\d days left\)/)

  writeFileSync(join(dir, 'garbage.pem'), 'not a certificate')
  const garbage = await runCli(['status', '--objects', 'test/fixtures/status/healthy/objects.yaml', '--tls-cert', join(dir, 'garbage.pem')])
  t.equal(garbage.code, 4, 'an unreadable certificate needs attention')
  t.match(garbage.stdout, /certificate: unreadable \(certificate does not parse/)
})

t.test('-o json is the report itself', async t => {
  const run = await runCli(['status', '--objects', 'test/fixtures/status/needs-attention/objects.yaml', '-o', 'json'])
  t.equal(run.code, 4)
  const report = JSON.parse(run.stdout) as StatusReport
  t.same(report.managedSecrets.map(s => [s.namespace, s.state]), [
    ['legacy', 'out-of-sync'], ['sandbox', 'not-needed'], ['team-a', 'conflicting'], ['team-b', 'out-of-sync']
  ])
  t.same(report.sources.find(s => s.name === 'acme-desktop')?.problems.map(p => p.reason), ['NoUsableCredential', 'CredentialHelperOnly'])
  t.equal(report.leader.state, 'held')
  t.equal(report.leader.state === 'held' && report.leader.expired, true, 'the lease has expired')
  t.equal(report.attention.length, 8)
  t.notMatch(run.stdout, /YWNtZS1jaTph|eyJhdXRocyI6e319|acme-demo-password/, 'no Secret data in the report')
})

t.test('wrong calls exit 2 and say why', async t => {
  const cases = [
    { args: [], error: /status needs either --objects FILE \(offline\) or --kubeconfig FILE \(live\)/ },
    { args: ['--objects', 'examples/standalone/cluster.yaml', '-o', 'yaml'], error: /--output: "yaml" is not one of table, json/ },
    { args: ['--objects', 'examples/standalone/cluster.yaml', '--certificate-warning-days', 'soon'], error: /--certificate-warning-days: must be a whole number/ },
    { args: ['--objects', 'examples/standalone/cluster.yaml', '--tenant-label', 'Not A Label!'], error: /--tenant-label: is not a valid name/ },
    { args: ['--objects', 'examples/standalone/cluster.yaml', 'extra'], error: /unexpected argument "extra"/ }
  ]
  for (const { args, error } of cases) {
    const run = await runCli(['status', ...args])
    t.equal(run.code, 2, args.join(' '))
    t.match(run.stderr, error)
  }
  const missing = await runCli(['status', '--objects', 'no/such/file.yaml'])
  t.equal(missing.code, 1, 'an unreadable objects file is a failure')
  t.match(missing.stderr, /objects file no\/such\/file.yaml: cannot read \(ENOENT\)/)
})
