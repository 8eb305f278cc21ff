// Runs the Lease protocol of lease.ts against the API: read the Lease every retry period, write what
// leaseStep() says with the read resourceVersion as precondition (a 409 means another replica wrote
// first: read again next time), and tell the caller when this replica starts and stops leading.

import * as k8s from '@kubernetes/client-node'
import { Gauge, type Registry } from 'prom-client'
import type { Logger } from '../../logging.js'
import { apiFailure, isStatus, withTimeout } from './kube-client.js'
import { leaseStep, observe, released, type LeaseObservation, type LeaseRecord, type LeaseTiming } from './lease.js'

export interface LeaderElectorOptions {
  coordination: k8s.CoordinationV1Api
  namespace: string
  name: string
  /** who holds the Lease while this replica leads: the Pod name */
  identity: string
  timing: LeaseTiming
  /** this replica's inputs are synced and fresh: it may lead (checked before every acquire or renew) */
  canLead: () => boolean
  onStartedLeading: () => void
  /** leadership ended (lost, given up, or stopped); resolves once this replica has stopped writing */
  onStoppedLeading: () => Promise<void>
  logger: Logger
  registry: Registry
  /** monotonic milliseconds; performance.now by default */
  nowMs?: () => number
}

// Lease times are MicroTime: the API server wants six fractional digits, and Date#toISOString
// writes three. client-node's V1MicroTime pads them; its deserializer hands back plain strings.
const MicroTime = k8s.V1MicroTime

export class LeaderElector {
  private readonly log: Logger
  private readonly nowMs: () => number
  private observation: LeaseObservation | undefined
  private resourceVersion: string | undefined
  private leading = false
  private lastRenewMs = -Infinity
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private stopped = true

  constructor (private readonly options: LeaderElectorOptions) {
    this.log = options.logger.child({ component: 'leader-election', lease: `${options.namespace}/${options.name}`, identity: options.identity })
    this.nowMs = options.nowMs ?? (() => performance.now())
    const isLeader = (): boolean => this.leading
    const transitions = (): number => this.observation?.record?.leaseTransitions ?? 0
    new Gauge({
      name: 'pullguard_leader',
      help: '1 while this replica holds the Lease and runs the reconciler, else 0',
      registers: [options.registry],
      collect () { this.set(isLeader() ? 1 : 0) }
    })
    new Gauge({
      name: 'pullguard_leader_transitions',
      help: 'The Lease\'s leaseTransitions as last read: how often leadership changed hands',
      registers: [options.registry],
      collect () { this.set(transitions()) }
    })
  }

  get isLeader (): boolean {
    return this.leading
  }

  /** the holder as last read ('' when released, undefined when no Lease was read yet) */
  get holder (): string | undefined {
    return this.observation?.record?.holderIdentity
  }

  start (): void {
    if (!this.stopped) return
    this.stopped = false
    this.schedule(0)
  }

  /** stops trying; a leader releases the Lease so the next replica need not wait it out */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearTimeout(this.timer)
    await this.running
    await this.stopLeading('stopping')
    // Released even after stepping down (a missed renew deadline): the Lease may still name us. If
    // another replica took it meanwhile, the stale resourceVersion makes this a harmless 409.
    const record = this.observation?.record
    if (record === undefined || record.holderIdentity !== this.options.identity) return
    try {
      await this.write('update', released(record, new MicroTime()))
      this.log.info('lease released')
    } catch (err) {
      this.log.warn({ error: apiFailure(err) }, 'could not release the lease; the next leader waits for it to expire')
    }
  }

  private schedule (delayMs: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.running = this.attempt().finally(() => {
        this.running = undefined
        const period = this.options.timing.retryPeriodSeconds * 1000
        // Candidates jitter (client-go's factor 1.2) so they do not all try in the same instant.
        this.schedule(this.leading ? period : period * (1 + Math.random() * 1.2))
      })
    }, delayMs)
    this.timer.unref()
  }

  private async attempt (): Promise<void> {
    const { identity, timing } = this.options
    try {
      const lease = await this.read()
      this.observation = observe(this.observation, lease === undefined ? undefined : recordOf(lease, timing), this.nowMs())
      this.resourceVersion = lease?.metadata?.resourceVersion
      const step = leaseStep({ observed: this.observation, identity, canLead: this.options.canLead(), nowMs: this.nowMs(), now: new MicroTime(), timing })
      if (step.action === 'wait') {
        if (this.leading) await this.stopLeading(step.reason === 'cannot lead' ? 'inputs stale' : `lease held by ${this.holder}`)
        return
      }
      await this.write(step.action, step.record)
      this.observation = { record: step.record, observedAtMs: this.nowMs() }
      if (step.record.holderIdentity === identity) {
        this.lastRenewMs = this.nowMs()
        if (!this.leading) this.startLeading(step.record)
      } else if (this.leading) {
        this.log.warn('inputs stale: lease released so a healthy replica takes over')
        await this.stopLeading('inputs stale')
      }
    } catch (err) {
      if (isStatus(err, 409)) this.log.debug('lease written by another replica first; reading again')
      else this.log.warn({ error: apiFailure(err) }, 'lease read or write failed')
    } finally {
      // Step down before the lease can run out under us: another replica may take it from then on.
      if (this.leading && this.nowMs() - this.lastRenewMs > timing.renewDeadlineSeconds * 1000) {
        await this.stopLeading('renew deadline passed')
      }
    }
  }

  private startLeading (record: LeaseRecord): void {
    this.leading = true
    this.log.info({ leaseTransitions: record.leaseTransitions }, 'became the leader: running the reconciler')
    this.options.onStartedLeading()
  }

  private async stopLeading (reason: string): Promise<void> {
    if (!this.leading) return
    this.leading = false
    this.log.warn({ reason, holder: this.holder }, 'stopped leading: reconciler stopped')
    await this.options.onStoppedLeading()
  }

  private async read (): Promise<k8s.V1Lease | undefined> {
    try {
      return await this.options.coordination.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace }, this.callOptions())
    } catch (err) {
      if (isStatus(err, 404)) return undefined
      throw err
    }
  }

  private async write (action: 'create' | 'update', record: LeaseRecord): Promise<void> {
    const { name, namespace } = this.options
    const body: k8s.V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace, ...(action === 'update' && this.resourceVersion !== undefined && { resourceVersion: this.resourceVersion }) },
      spec: { ...record }
    }
    const written = action === 'create'
      ? await this.options.coordination.createNamespacedLease({ namespace, body }, this.callOptions())
      : await this.options.coordination.replaceNamespacedLease({ name, namespace, body }, this.callOptions())
    this.resourceVersion = written.metadata?.resourceVersion
  }

  // A call may not outlast the renew deadline: by then leadership is decided anyway.
  private callOptions (): k8s.ConfigurationOptions {
    return withTimeout(this.options.timing.renewDeadlineSeconds * 1000 / 2)
  }
}

function recordOf (lease: k8s.V1Lease, timing: LeaseTiming): LeaseRecord {
  const spec = lease.spec ?? {}
  const epoch = new Date(0)
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? timing.leaseDurationSeconds,
    acquireTime: spec.acquireTime !== undefined ? new MicroTime(spec.acquireTime) : epoch,
    renewTime: spec.renewTime !== undefined ? new MicroTime(spec.renewTime) : epoch,
    leaseTransitions: spec.leaseTransitions ?? 0
  }
}
