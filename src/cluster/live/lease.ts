// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics
// (k8s.io/client-go/tools/leaderelection): the holder renews every retry period; a candidate takes
// the Lease over only once it has seen the same record, unchanged, for a whole lease duration (its
// own clock, never the holder's: clocks of different nodes disagree); a holder that cannot renew
// within the renew deadline stops leading before its lease can run out; a graceful stop releases
// the Lease so the next replica takes over at once. This file is the pure decision; the elector
// (leader-elector.ts) reads and writes the Lease and keeps time.

export interface LeaseTiming {
  /** how long a candidate waits on an unchanged record before taking over */
  leaseDurationSeconds: number
  /** a leader that has not renewed for this long steps down (shorter than the lease duration) */
  renewDeadlineSeconds: number
  /** interval between attempts to acquire or renew */
  retryPeriodSeconds: number
}

// client-go's defaults, as kube-controller-manager and most controllers run them.
export const DEFAULT_LEASE_TIMING: LeaseTiming = {
  leaseDurationSeconds: 15,
  renewDeadlineSeconds: 10,
  retryPeriodSeconds: 2
}

/** The Lease's spec as pullguard reads and writes it. */
export interface LeaseRecord {
  /** '' once released */
  holderIdentity: string
  leaseDurationSeconds: number
  acquireTime: Date
  renewTime: Date
  leaseTransitions: number
}

export interface LeaseObservation {
  /** undefined: no Lease exists yet */
  record: LeaseRecord | undefined
  /** this replica's monotonic time (ms) when it first saw this record (holder + renewTime) */
  observedAtMs: number
}

export type LeaseStep =
  | { action: 'wait', reason: 'held by another' | 'cannot lead' }
  | { action: 'create' | 'update', record: LeaseRecord }

export interface LeaseInput {
  observed: LeaseObservation
  identity: string
  /** every input this replica would write from is synced and fresh */
  canLead: boolean
  nowMs: number
  /** wall-clock time to write into acquireTime / renewTime (for people reading the Lease) */
  now: Date
  timing: LeaseTiming
}

/** Whether, and how, to write the Lease on this attempt. */
export function leaseStep ({ observed, identity, canLead, nowMs, now, timing }: LeaseInput): LeaseStep {
  const { record } = observed
  const mine = record !== undefined && record.holderIdentity === identity
  if (!canLead) {
    // A holder whose inputs went stale gives the Lease up so a healthy replica takes over at once.
    return mine ? { action: 'update', record: released(record, now) } : { action: 'wait', reason: 'cannot lead' }
  }
  if (record === undefined) {
    return { action: 'create', record: { holderIdentity: identity, leaseDurationSeconds: timing.leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } }
  }
  if (!mine && record.holderIdentity !== '' && nowMs < observed.observedAtMs + record.leaseDurationSeconds * 1000) {
    return { action: 'wait', reason: 'held by another' }
  }
  return {
    action: 'update',
    record: mine
      ? { ...record, leaseDurationSeconds: timing.leaseDurationSeconds, renewTime: now }
      : { holderIdentity: identity, leaseDurationSeconds: timing.leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: record.leaseTransitions + 1 }
  }
}

/** What a graceful stop writes: no holder, a one-second duration, the transitions kept. */
export function released (record: LeaseRecord, now: Date): LeaseRecord {
  return { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: record.leaseTransitions }
}

/**
 * The observation after reading a record: the clock restarts only when the record changed (another
 * holder, or the holder renewed), so a holder that stopped renewing is waited on exactly once.
 */
export function observe (previous: LeaseObservation | undefined, record: LeaseRecord | undefined, nowMs: number): LeaseObservation {
  if (previous !== undefined && sameRecord(previous.record, record)) return previous
  return { record, observedAtMs: nowMs }
}

function sameRecord (a: LeaseRecord | undefined, b: LeaseRecord | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return a.holderIdentity === b.holderIdentity && a.renewTime.getTime() === b.renewTime.getTime() &&
    a.leaseTransitions === b.leaseTransitions
}

/** Checks a timing the way client-go's NewLeaderElector does, with every problem at once. */
export function leaseTimingProblems ({ leaseDurationSeconds, renewDeadlineSeconds, retryPeriodSeconds }: LeaseTiming): string[] {
  const problems: string[] = []
  if (!(leaseDurationSeconds > renewDeadlineSeconds)) problems.push('leaseDurationSeconds must be greater than renewDeadlineSeconds')
  // client-go: renewDeadline must exceed JitterFactor (1.2) × retryPeriod
  if (!(renewDeadlineSeconds > 1.2 * retryPeriodSeconds)) problems.push('renewDeadlineSeconds must be greater than 1.2 × retryPeriodSeconds')
  if (!(retryPeriodSeconds > 0)) problems.push('retryPeriodSeconds must be positive')
  return problems
}
