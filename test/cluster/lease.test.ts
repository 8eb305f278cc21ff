// Leader election's decision as a table: what a replica writes (or not) given the Lease it read,
// how long it has seen that record unchanged, and whether its inputs let it lead.

import t from 'tap'
import { DEFAULT_LEASE_TIMING as timing, leaseStep, leaseTimingProblems, observe, type LeaseInput, type LeaseRecord } from '../../src/cluster/live/lease.js'

const T0 = new Date('2026-12-06T10:00:00.000Z')
const NOW = new Date('2026-12-06T10:00:30.000Z')
const held = (holderIdentity: string, edit: Partial<LeaseRecord> = {}): LeaseRecord =>
  ({ holderIdentity, leaseDurationSeconds: 15, acquireTime: T0, renewTime: T0, leaseTransitions: 3, ...edit })

t.test('leaseStep', async t => {
  const base = (record: LeaseRecord | undefined, seenForMs: number, edit: Partial<LeaseInput> = {}): LeaseInput =>
    ({ observed: { record, observedAtMs: 100_000 - seenForMs }, identity: 'pod-a', canLead: true, nowMs: 100_000, now: NOW, timing, ...edit })
  const cases: Array<{ name: string, input: LeaseInput, want: unknown }> = [
    { name: 'no Lease yet: create it, holding it', input: base(undefined, 0), want: { action: 'create', record: { holderIdentity: 'pod-a', leaseTransitions: 0, acquireTime: NOW, renewTime: NOW, leaseDurationSeconds: 15 } } },
    { name: 'mine: renew, keeping acquireTime and transitions', input: base(held('pod-a'), 0), want: { action: 'update', record: { holderIdentity: 'pod-a', acquireTime: T0, renewTime: NOW, leaseTransitions: 3 } } },
    { name: 'another\'s, seen unchanged for less than its duration: wait', input: base(held('pod-b'), 14_999), want: { action: 'wait', reason: 'held by another' } },
    { name: 'another\'s, unchanged for its whole duration: take over, one more transition', input: base(held('pod-b'), 15_000), want: { action: 'update', record: { holderIdentity: 'pod-a', acquireTime: NOW, renewTime: NOW, leaseTransitions: 4 } } },
    { name: 'the record\'s own duration counts, not ours', input: base(held('pod-b', { leaseDurationSeconds: 60 }), 30_000), want: { action: 'wait' } },
    { name: 'released (no holder): take it at once', input: base(held('', { leaseDurationSeconds: 1 }), 0), want: { action: 'update', record: { holderIdentity: 'pod-a', leaseTransitions: 4 } } },
    { name: 'inputs stale, mine: release it', input: base(held('pod-a'), 0, { canLead: false }), want: { action: 'update', record: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 3 } } },
    { name: 'inputs stale, another\'s expired: do not take it', input: base(held('pod-b'), 60_000, { canLead: false }), want: { action: 'wait', reason: 'cannot lead' } },
    { name: 'inputs stale, no Lease: do not create it', input: base(undefined, 0, { canLead: false }), want: { action: 'wait', reason: 'cannot lead' } }
  ]
  for (const c of cases) t.match(leaseStep(c.input), c.want, c.name)
})

t.test('observe: the wait restarts only when the record changes', async t => {
  const first = observe(undefined, held('pod-b'), 1000)
  t.equal(first.observedAtMs, 1000)
  t.equal(observe(first, held('pod-b'), 9000), first, 'same holder, same renewTime: still waiting since 1000')
  t.equal(observe(first, held('pod-b', { renewTime: NOW }), 9000).observedAtMs, 9000, 'renewed: the wait starts again')
  t.equal(observe(first, held('pod-c'), 9000).observedAtMs, 9000, 'another holder')
  t.equal(observe(first, undefined, 9000).observedAtMs, 9000, 'deleted')
  const none = observe(undefined, undefined, 5)
  t.equal(observe(none, undefined, 50), none)
})

t.test('timings are checked as client-go checks them', async t => {
  t.same(leaseTimingProblems(timing), [])
  t.same(leaseTimingProblems({ leaseDurationSeconds: 10, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 }), ['leaseDurationSeconds must be greater than renewDeadlineSeconds'])
  t.same(leaseTimingProblems({ leaseDurationSeconds: 15, renewDeadlineSeconds: 2, retryPeriodSeconds: 2 }), ['renewDeadlineSeconds must be greater than 1.2 × retryPeriodSeconds'])
})
