// statusReport's clock-dependent rules as a table, at a fixed `now`: when a lease has expired and
// when a certificate needs attention. The rest is covered through the CLI (test/cli/status-command.test.ts).

import t from 'tap'
import { DEFAULT_ADMISSION_OPTIONS } from '../../src/admission/options.js'
import { statusReport, type StatusInput } from '../../src/cluster/status-report.js'
import { namespace } from '../support/cluster.js'

const NOW = new Date('2026-12-07T10:00:00.000Z')
const DAY_MS = 24 * 3600 * 1000

function input (overrides: Partial<StatusInput>): StatusInput {
  return {
    namespaces: [namespace('default') as never],
    secrets: [],
    lease: { notChecked: 'offline' },
    leaseName: 'pullguard-system/pullguard',
    certificate: { kind: 'not-checked', reason: 'offline' },
    inputs: [],
    notes: [],
    now: NOW,
    certificateWarningDays: 14,
    options: DEFAULT_ADMISSION_OPTIONS,
    ...overrides
  }
}

const lease = (renewTime: string, leaseDurationSeconds = 15, holderIdentity = 'pod-a'): StatusInput['lease'] =>
  ({ spec: { holderIdentity, renewTime, leaseDurationSeconds } })

t.test('leader', async t => {
  const cases: Array<{ name: string, lease: StatusInput['lease'], state: string, expired?: boolean, attention: boolean }> = [
    { name: 'renewed 5 s ago, 15 s lease', lease: lease('2026-12-07T09:59:55.000000Z'), state: 'held', expired: false, attention: false },
    { name: 'renewed exactly a lease ago', lease: lease('2026-12-07T09:59:45.000000Z'), state: 'held', expired: false, attention: false },
    { name: 'renewed 16 s ago', lease: lease('2026-12-07T09:59:44.000000Z'), state: 'held', expired: true, attention: true },
    { name: 'no renewTime', lease: { spec: { holderIdentity: 'pod-a' } }, state: 'held', expired: true, attention: true },
    { name: 'released', lease: lease('2026-12-07T09:59:59.000000Z', 1, ''), state: 'released', attention: true },
    { name: 'no Lease', lease: undefined, state: 'absent', attention: true },
    { name: 'offline without one', lease: { notChecked: 'offline' }, state: 'not-checked', attention: false }
  ]
  for (const c of cases) {
    const report = statusReport(input({ lease: c.lease }))
    t.equal(report.leader.state, c.state, c.name)
    if (c.expired !== undefined) t.equal(report.leader.state === 'held' && report.leader.expired, c.expired, `${c.name}: expired`)
    t.equal(report.attention.some(a => a.startsWith('leader')), c.attention, `${c.name}: attention`)
  }
})

t.test('certificate', async t => {
  const read = (msFromNow: number): StatusInput['certificate'] => ({ kind: 'read', source: 'tls.crt', subject: 'CN=pullguard', notAfter: new Date(NOW.getTime() + msFromNow) })
  const cases = [
    { name: '15 days left', certificate: read(15 * DAY_MS), state: 'valid', daysLeft: 15 },
    { name: 'just under 14 days', certificate: read(14 * DAY_MS - 1000), state: 'expiring', daysLeft: 13 },
    { name: 'one hour left', certificate: read(3600_000), state: 'expiring', daysLeft: 0 },
    { name: 'expired a second ago', certificate: read(-1000), state: 'expired', daysLeft: -1 }
  ]
  for (const c of cases) {
    const report = statusReport(input({ certificate: c.certificate }))
    t.match(report.certificate, { state: c.state, daysLeft: c.daysLeft }, c.name)
    t.equal(report.attention.some(a => a.startsWith('certificate')), c.state !== 'valid', `${c.name}: attention`)
  }
  const unreadable = statusReport(input({ certificate: { kind: 'unreadable', source: 'Secret x/y', reason: 'NotFound' } }))
  t.same(unreadable.attention, ['certificate: unreadable (NotFound)'])
})
