// Which Warning Events the credential health calls for, and how each one's series moves on: pure.
// The live adapter (live/credential-event-recorder.ts) writes them through events.k8s.io/v1.
//
// One Event per problem, regarding the source Secret (in the credentials namespace), and one per
// namespace of a tenant left without credentials. An Event's name is derived from what it says, so
// the same problem maps to the same Event after a restart or on a new leader, which continues its
// series instead of starting another. A repeat sighting (each resync) grows the series as the
// events.k8s.io API means it: series.count and series.lastObservedTime, the rest immutable.

import { createHash } from 'node:crypto'
import type { CredentialProblemReason } from '../admission/credential-problems.js'
import type { CredentialHealth, TenantWithoutCredentials } from './credential-health.js'

/** reportingController of every credential Event (a qualified name, as the API requires) */
export const CREDENTIAL_EVENTS_CONTROLLER = 'pullguard.dev/credential-health'
/** the Event's action: what pullguard was doing when it saw the problem */
export const CREDENTIAL_EVENTS_ACTION = 'ReadCredentialSources'

// The API's limits: note up to 1 KiB, names DNS subdomains of at most 253 characters.
const NOTE_LIMIT = 1024
const NAME_PREFIX_LIMIT = 253 - 1 - 16
// A tenant's note names this many unusable Secrets at most; the rest as a count.
const SOURCES_NAMED = 5

export interface EventRegarding {
  apiVersion: 'v1'
  kind: 'Secret' | 'Namespace'
  name: string
  namespace: string
  uid?: string
}

export interface CredentialEvent {
  name: string
  namespace: string
  regarding: EventRegarding
  reason: CredentialProblemReason
  note: string
}

/** The Events the health calls for right now. */
export function credentialEvents (health: CredentialHealth, credentialsNamespace: string): CredentialEvent[] {
  const events: CredentialEvent[] = []
  for (const problem of health.problems) {
    const regarding: EventRegarding = { apiVersion: 'v1', kind: 'Secret', name: problem.secret, namespace: credentialsNamespace }
    if (problem.uid !== undefined) regarding.uid = problem.uid
    events.push(eventOf(credentialsNamespace, regarding, problem.reason, problem.message))
  }
  for (const tenant of health.tenantsWithoutCredentials) {
    const note = tenantNote(tenant, credentialsNamespace)
    for (const namespace of tenant.namespaces) {
      // A Namespace is cluster-scoped, and a new-style Event regarding an object without a namespace
      // must live in `default`, where the tenant's users cannot read it. Naming the namespace itself
      // lets the Event live there: `kubectl get events -n <namespace>` shows it.
      events.push(eventOf(namespace, { apiVersion: 'v1', kind: 'Namespace', name: namespace, namespace }, 'TenantWithoutCredentials', note))
    }
  }
  return events
}

function tenantNote (tenant: TenantWithoutCredentials, credentialsNamespace: string): string {
  const named = tenant.unusableSources.slice(0, SOURCES_NAMED).join(', ')
  const more = tenant.unusableSources.length - SOURCES_NAMED
  return `tenant ${tenant.tenant} has no usable registry credentials: its credential Secrets in ${credentialsNamespace} ` +
    `(${named}${more > 0 ? ` and ${more} more` : ''}) are unusable, see their Events there. ` +
    'Pods here get no pull secret from pullguard, and pulls of private images fail until an admin fixes them'
}

function eventOf (namespace: string, regarding: EventRegarding, reason: CredentialProblemReason, message: string): CredentialEvent {
  const note = message.length > NOTE_LIMIT ? `${message.slice(0, NOTE_LIMIT - 1)}…` : message
  const digest = createHash('sha256')
    .update(JSON.stringify([namespace, regarding.kind, regarding.name, regarding.uid ?? '', reason, note]))
    .digest('hex')
    .slice(0, 16)
  // a label must end in an alphanumeric character: what a cut leaves at the end goes
  const prefix = regarding.name.slice(0, NAME_PREFIX_LIMIT).replace(/[.-]+$/, '')
  return { name: `${prefix}.${digest}`, namespace, regarding, reason, note }
}

export type EventWrite =
  /** write the Event, observed once so far */
  | { write: 'create', event: CredentialEvent }
  /** move its series on to `count` observations */
  | { write: 'series', event: CredentialEvent, count: number }

/** How many times each Event written (or found) by this replica has been observed, as the server holds it. */
export class EventSeriesBook {
  private readonly counts = new Map<string, number>()

  /**
   * The writes one observation of `events` takes. `again`: a re-observation (a resync), so Events
   * already written grow their series; otherwise only Events not written yet are written. Events no
   * longer called for are forgotten: should the problem come back, its Event is found by name.
   */
  observe (events: readonly CredentialEvent[], again: boolean): EventWrite[] {
    const wanted = new Set<string>()
    const writes: EventWrite[] = []
    for (const event of events) {
      const key = keyOf(event)
      if (wanted.has(key)) continue
      wanted.add(key)
      const count = this.counts.get(key)
      if (count === undefined) writes.push({ write: 'create', event })
      else if (again) writes.push({ write: 'series', event, count: count + 1 })
    }
    for (const key of this.counts.keys()) if (!wanted.has(key)) this.counts.delete(key)
    return writes
  }

  /** the server holds the Event at this many observations */
  recorded (event: CredentialEvent, count: number): void {
    this.counts.set(keyOf(event), count)
  }

  /**
   * The Event already exists (written by an earlier leader or run) with `existing` observations: the
   * write that continues its series.
   */
  continueSeries (event: CredentialEvent, existing: number): Extract<EventWrite, { write: 'series' }> {
    return { write: 'series', event, count: Math.max(1, existing) + 1 }
  }

  /** a write failed: the next observation tries again from scratch */
  forget (event: CredentialEvent): void {
    this.counts.delete(keyOf(event))
  }

  /** leadership ended: another replica moves the series on meanwhile */
  clear (): void {
    this.counts.clear()
  }
}

const keyOf = (event: CredentialEvent): string => `${event.namespace}/${event.name}`
