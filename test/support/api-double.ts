// A Kubernetes API server double for tests: real HTTP on 127.0.0.1 that the real
// @kubernetes/client-node (CoreV1Api, CoordinationV1Api, EventsV1Api, KubernetesObjectApi, Watch,
// ListWatch/makeInformer) talks to. One table of resource kinds (group, version, plural), one store with
// a global resourceVersion and an event history, one watch hub. Each kubeconfig it hands out can name a
// user; the request log and fault matches know who asked, so a test can degrade one replica of several
// that share one double (injectFault({ user, … }) refuses new requests, dropWatches/endWatches({ user, … })
// ends the watches already open).
//
// How client-node 2.0.1 surfaces what this server answers:
// - Typed calls reject with `ApiException` (exported by the client): `.code` is the HTTP status and
//   `.body` is the response body as a *string* — `JSON.parse(err.body)` is the Status: reason
//   'AlreadyExists', 'Conflict', 'NotFound'…, a message naming the resource with its group
//   ('leases.coordination.k8s.io "x" not found'; an Invalid names 'Lease.coordination.k8s.io'), and
//   details { name, group, kind: plural }. A 401 has `.body` undefined. Transport failures (refused,
//   reset) reject with undici's `TypeError: fetch failed` whose `.cause.code` is e.g. 'ECONNREFUSED';
//   nothing retries.
// - Typed results are deserialized: Time fields (creationTimestamp…) become `Date`. MicroTime fields
//   (Lease spec.acquireTime/renewTime, events.k8s.io eventTime and series.lastObservedTime) stay the
//   served string although the .d.ts says V1MicroTime: the serializer has no entry for that type. So a
//   read-modify-write sends them back unchanged and they survive. Set fresh, a plain `Date` (TypeScript
//   takes it for a V1MicroTime) goes out as toISOString()'s three digits, which the apiserver refuses with
//   a 400 (Go's RFC3339Micro wants exactly six); `new k8s.V1MicroTime(date)` pads to six and is accepted.
// - List items carry no kind/apiVersion (the real apiserver omits them too); watch-event objects are raw
//   JSON and do carry them.
// - A watch answered with a non-200 status calls `done(err)` with `err.statusCode`; a 200 stream
//   delivers ERROR events (e.g. 410 Expired) to the callback and then ends.
//
// Supported: core/v1 namespaces (cluster-scoped), secrets, serviceaccounts (with the token subresource:
// TokenRequest) and events, coordination.k8s.io/v1 leases and
// events.k8s.io/v1 events (namespaced), under /api/v1 and /apis/{group}/{version}: list, watch, get,
// create, update (PUT), patch (merge, strategic-as-merge, json-patch), delete; label and field selectors
// on list and watch; limit/continue; bookmarks; watch timeouts; history window with 410; legacy discovery
// (/api, /api/v1, /apis, /apis/{group}[/{version}]) built from the table; one bearer token per user
// (unknown tokens get 401); a few real validations that matter to pullguard (names, base64 Secret data,
// immutable Secret type, dockerconfigjson shape, Lease duration and transitions, MicroTime decoding —
// six digits, served back in UTC —, events.k8s.io/v1 create and update rules: reporting fields required,
// series of two or more, all but the series immutable). Namespace deletion is immediate and cascades (no
// Terminating phase).
// Not supported: other resources or API groups, subresources other than serviceaccounts/token (/status),
// ownerReference garbage collection, the legacy /api/v1/watch/
// paths, server-side apply, dryRun (400), deletecollection (405), sendInitialEvents, resourceVersionMatch,
// consistent snapshots across `continue` pages (pages read current data), managedFields, generation,
// aggregated discovery, authorization (every known user may do everything), core/v1 Event validation,
// Lease strategy/preferredHolder, event TTL, Time truncation to seconds (served as sent). The two Event
// APIs share one storage in the real apiserver, which converts between the shapes; here they are two
// table entries, so an event written through one API is not seen through the other.

import { randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { KubeConfig } from '@kubernetes/client-node'
import jsonpatch from 'fast-json-patch'
import { stringify as toYaml } from 'yaml'

export interface ObjectMeta {
  name: string
  namespace?: string
  uid: string
  resourceVersion: string
  creationTimestamp: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  [key: string]: unknown
}

/** An object as stored and served: plain JSON. */
export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: ObjectMeta
  [key: string]: unknown
}

/** What tests hand in: a literal or a client-node model such as V1Secret (kind is needed to route it). */
export interface KubeObjectInput {
  apiVersion?: string
  kind?: string
  metadata?: { name?: string, namespace?: string, resourceVersion?: string, generateName?: string }
}

export interface Status {
  kind: 'Status'
  apiVersion: 'v1'
  metadata: Record<string, never>
  status: 'Success' | 'Failure'
  message?: string
  reason?: string
  details?: { name?: string, group?: string, kind?: string, uid?: string, causes?: Array<{ reason?: string, message: string, field?: string }> }
  code: number
}

/** A Kubernetes error; thrown by the in-process helpers and served as a Status over HTTP. */
class StatusError extends Error {
  readonly code: number
  readonly status: Status
  constructor (status: Status) {
    super(status.message)
    this.code = status.code
    this.status = status
  }
}

const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  409: 'Conflict', 410: 'Expired', 413: 'RequestEntityTooLarge', 415: 'UnsupportedMediaType', 422: 'Invalid',
  429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout'
}

function statusOf (code: number, message: string, reason = REASONS[code] ?? 'Unknown', details?: Status['details']): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code }
}

function failure (code: number, message: string, reason?: string, details?: Status['details']): StatusError {
  return new StatusError(statusOf(code, message, reason, details))
}

// ---------------------------------------------------------------------------------------------
// The resource table: adding a resource is one entry.

interface ResourceKind {
  /** API group; '' is the core group, served under /api/v1 instead of /apis/{group}/{version} */
  group: string
  version: string
  plural: string
  singular: string
  kind: string
  namespaced: boolean
  /** field selectors the real apiserver accepts for this resource */
  fields: Record<string, (obj: KubeObject) => string | undefined>
  /** DNS-1123 label (namespaces) or subdomain (most objects) */
  nameRule: 'label' | 'subdomain'
  /** server-side defaulting on create (old undefined) and update; may throw a StatusError */
  normalize?: (obj: KubeObject, old?: KubeObject) => void
  /** field errors for a 422 Invalid */
  validate?: (obj: KubeObject, old?: KubeObject) => string[]
  /** fields whose JSON the apiserver decodes strictly (a 400 before anything else): MicroTime */
  microTimes?: string[][]
}

function apiVersionOf (resource: ResourceKind): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`
}

/** how the apiserver names a resource in messages: 'secrets', 'leases.coordination.k8s.io' */
function qualifiedName (resource: ResourceKind): string {
  return resource.group === '' ? resource.plural : `${resource.plural}.${resource.group}`
}

const metaFields = {
  'metadata.name': (o: KubeObject) => o.metadata.name,
  'metadata.namespace': (o: KubeObject) => o.metadata.namespace ?? ''
}

// Go's base64.StdEncoding, which is what decodes Secret data: padded, no whitespace
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

const RESOURCES: ResourceKind[] = [
  {
    group: '',
    version: 'v1',
    plural: 'namespaces',
    singular: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    fields: { 'metadata.name': metaFields['metadata.name'], 'status.phase': (o) => recordAt(o, 'status').phase as string | undefined },
    nameRule: 'label',
    normalize (obj, old) {
      // the apiserver always stamps this label (1.21+); namespaceSelectors rely on it
      obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name }
      // finalizers and status are only writable through subresources this double does not serve
      obj.spec = old?.spec ?? { finalizers: ['kubernetes'] }
      obj.status = old?.status ?? { phase: 'Active' }
    }
  },
  {
    group: '',
    version: 'v1',
    plural: 'secrets',
    singular: 'secret',
    kind: 'Secret',
    namespaced: true,
    fields: { ...metaFields, type: (o) => o.type as string | undefined },
    nameRule: 'subdomain',
    normalize (obj) {
      const data = { ...recordAt(obj, 'data') }
      for (const [key, value] of Object.entries(recordAt(obj, 'stringData'))) {
        data[key] = Buffer.from(String(value)).toString('base64')
      }
      delete obj.stringData
      for (const value of Object.values(data)) {
        if (typeof value !== 'string' || !BASE64.test(value)) {
          throw failure(400, 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data')
        }
      }
      if (Object.keys(data).length > 0 || obj.data !== undefined) obj.data = data
      obj.type ??= 'Opaque'
    },
    validate (obj, old) {
      const errors: string[] = []
      if (old !== undefined && old.type !== obj.type) errors.push(`type: Invalid value: "${String(obj.type)}": field is immutable`)
      if (obj.type === 'kubernetes.io/dockerconfigjson') {
        const raw = recordAt(obj, 'data')['.dockerconfigjson']
        if (typeof raw !== 'string') {
          errors.push('data[.dockerconfigjson]: Required value')
        } else {
          try {
            JSON.parse(Buffer.from(raw, 'base64').toString('utf8'))
          } catch {
            errors.push('data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid JSON')
          }
        }
      }
      return errors
    }
  },
  {
    group: '',
    version: 'v1',
    plural: 'serviceaccounts',
    singular: 'serviceaccount',
    kind: 'ServiceAccount',
    namespaced: true,
    fields: metaFields,
    nameRule: 'subdomain'
  },
  {
    group: '',
    version: 'v1',
    plural: 'events',
    singular: 'event',
    kind: 'Event',
    namespaced: true,
    fields: {
      ...metaFields,
      'involvedObject.kind': (o) => recordAt(o, 'involvedObject').kind as string | undefined,
      'involvedObject.name': (o) => recordAt(o, 'involvedObject').name as string | undefined,
      'involvedObject.namespace': (o) => recordAt(o, 'involvedObject').namespace as string | undefined,
      reason: (o) => o.reason as string | undefined,
      type: (o) => o.type as string | undefined
    },
    nameRule: 'subdomain'
  },
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    singular: 'lease',
    kind: 'Lease',
    namespaced: true,
    fields: metaFields,
    nameRule: 'subdomain',
    microTimes: [['spec', 'acquireTime'], ['spec', 'renewTime']],
    validate (obj) {
      const spec = recordAt(obj, 'spec')
      const errors: string[] = []
      const { leaseDurationSeconds: duration, leaseTransitions: transitions } = spec
      if (typeof duration === 'number' && duration <= 0) errors.push(`spec.leaseDurationSeconds: Invalid value: ${duration}: must be greater than 0`)
      if (typeof transitions === 'number' && transitions < 0) errors.push(`spec.leaseTransitions: Invalid value: ${transitions}: must be greater than or equal to 0`)
      return errors
    }
  },
  {
    // The real apiserver keeps these and core/v1 events in one storage, converting between the two
    // shapes; here they are separate tables, so an event written through one API is not seen by the other.
    group: 'events.k8s.io',
    version: 'v1',
    plural: 'events',
    singular: 'event',
    kind: 'Event',
    namespaced: true,
    fields: {
      ...metaFields,
      ...Object.fromEntries(['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath'].map((field) =>
        [`regarding.${field}`, (o: KubeObject) => recordAt(o, 'regarding')[field] as string | undefined])),
      reason: (o) => o.reason as string | undefined,
      reportingController: (o) => o.reportingController as string | undefined,
      source: (o) => (recordAt(o, 'deprecatedSource').component as string | undefined) || (o.reportingController as string | undefined),
      type: (o) => o.type as string | undefined
    },
    nameRule: 'subdomain',
    microTimes: [['eventTime'], ['series', 'lastObservedTime']],
    validate: eventsV1Errors
  }
]

const REPORTING_LIMIT = 128
const NOTE_LIMIT = 1024
const QUALIFIED_NAME = /^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/

/**
 * events.k8s.io/v1 validation as the apiserver runs it (pkg/apis/core/validation/events.go): the
 * field paths name the internal (core) fields — involvedObject, message, source, count — as it does.
 */
function eventsV1Errors (obj: KubeObject, old?: KubeObject): string[] {
  const errors: string[] = []
  const text = (key: string): string => typeof obj[key] === 'string' ? obj[key] : ''
  const regardingNamespace = recordAt(obj, 'regarding').namespace ?? ''
  const namespace = obj.metadata.namespace ?? ''
  if (obj.eventTime === undefined) {
    // an event without eventTime is validated as an old-style one: its namespace must match the object's
    if (regardingNamespace === '' ? !['', 'default'].includes(namespace) : regardingNamespace !== namespace) {
      errors.push(`involvedObject.namespace: Invalid value: ${JSON.stringify(regardingNamespace)}: does not match event.namespace`)
    }
  } else {
    if (regardingNamespace === '' && namespace !== 'default' && namespace !== 'kube-system') {
      errors.push('involvedObject.namespace: Invalid value: "": does not match event.namespace')
    }
    if (text('reportingController') === '') errors.push('reportingController: Required value')
    if (!QUALIFIED_NAME.test(text('reportingController'))) {
      errors.push(`reportingController: Invalid value: ${JSON.stringify(text('reportingController'))}: must be a qualified name`)
    }
    for (const key of ['reportingInstance', 'action', 'reason']) {
      if (text(key) === '') errors.push(`${key}: Required value`)
      if (text(key).length > REPORTING_LIMIT) errors.push(`${key}: Invalid value: "": can have at most ${REPORTING_LIMIT} characters`)
    }
    if (text('note').length > NOTE_LIMIT) errors.push(`message: Invalid value: "": can have at most ${NOTE_LIMIT} characters`)
  }
  const seriesErrors = (): string[] => {
    if (!isRecord(obj.series)) return []
    const { count, lastObservedTime } = obj.series
    return [
      ...(typeof count !== 'number' || count < 2 ? ['series.count: Invalid value: "": should be at least 2'] : []),
      ...(lastObservedTime === undefined ? ['series.lastObservedTime: Required value'] : [])
    ]
  }
  if (old === undefined) {
    errors.push(...seriesErrors())
    if (obj.eventTime === undefined) errors.push('eventTime: Required value')
    if (obj.type !== 'Normal' && obj.type !== 'Warning') errors.push(`type: Invalid value: "": has invalid value: ${text('type')}`)
    for (const [key, internal] of [['deprecatedFirstTimestamp', 'firstTimestamp'], ['deprecatedLastTimestamp', 'lastTimestamp'], ['deprecatedCount', 'count']] as const) {
      if (obj[key] !== undefined && obj[key] !== 0) errors.push(`${internal}: Invalid value: "": needs to be unset`)
    }
    const source = recordAt(obj, 'deprecatedSource')
    if (source.component || source.host) errors.push('source: Invalid value: "": needs to be unset')
    return errors
  }
  // once written, an event only moves on through its series (and metadata)
  if (!isDeepStrictEqual(obj.series, old.series)) errors.push(...seriesErrors())
  const immutable: Array<[string, string]> = [
    ['regarding', 'involvedObject'], ['reason', 'reason'], ['note', 'message'], ['deprecatedSource', 'source'],
    ['deprecatedFirstTimestamp', 'firstTimestamp'], ['deprecatedLastTimestamp', 'lastTimestamp'], ['deprecatedCount', 'count'],
    ['type', 'type'], ['eventTime', 'eventTime'], ['action', 'action'], ['related', 'related'],
    ['reportingController', 'reportingController'], ['reportingInstance', 'reportingInstance']
  ]
  for (const [key, internal] of immutable) {
    if (!isDeepStrictEqual(obj[key], old[key])) errors.push(`${internal}: Invalid value: ${JSON.stringify(obj[key] ?? null)}: field is immutable`)
  }
  return errors
}

// metav1.MicroTime decodes with Go's layout RFC3339Micro, which wants exactly six fractional digits:
// Date#toISOString()'s three are refused with a 400 (kubernetes/kubernetes#141204 proposes leniency).
const RFC3339_MICRO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{6})(Z|[+-]\d{2}:\d{2})$/

/** a MicroTime as the apiserver serves it back: UTC, six digits; throws the 400 a bad one gets */
function decodeMicroTime (resource: ResourceKind, value: unknown): string {
  const cannot = (why: string): StatusError =>
    failure(400, `${resource.kind} in version "${resource.version}" cannot be handled as a ${resource.kind}: ${why}`)
  if (typeof value !== 'string') throw cannot(`json: cannot unmarshal ${Array.isArray(value) ? 'array' : typeof value} into Go value of type string`)
  const parsing = `parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05.000000Z07:00"`
  const m = RFC3339_MICRO.exec(value)
  if (!m) {
    // Go names the rest of the value where the layout stopped matching, and that part of the layout
    const rest = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(value) ? value.slice(19) : undefined
    const [left, layout] = rest === undefined ? [value, '2006-01-02T15:04:05.000000Z07:00'] : /^\.\d{6}/.test(rest) ? [rest.slice(7), 'Z07:00'] : [rest, '.000000']
    throw cannot(`${parsing}: cannot parse ${JSON.stringify(left)} as ${JSON.stringify(layout)}`)
  }
  const [, seconds, micros, zone] = m as unknown as [string, string, string, string]
  const ms = Date.parse(`${seconds}.${micros.slice(0, 3)}${zone}`)
  if (Number.isNaN(ms)) throw cannot(`${parsing}: value out of range`)
  return `${new Date(ms).toISOString().slice(0, -1)}${micros.slice(3)}Z`
}

const NAMESPACES = RESOURCES[0] as ResourceKind

/**
 * 'Lease', 'leases', or qualified with the group as kubectl does ('events.events.k8s.io',
 * 'Event.events.k8s.io'); an unqualified name that several groups serve means the core one.
 */
function resourceFor (name: string, group?: string): ResourceKind {
  const dot = name.indexOf('.')
  if (group === undefined && dot > 0) return resourceFor(name.slice(0, dot), name.slice(dot + 1))
  const candidates = RESOURCES.filter((r) => (r.kind === name || r.plural === name) && (group === undefined || r.group === group))
  const found = candidates.find((r) => r.group === '') ?? candidates[0]
  if (found === undefined) throw new Error(`api-double does not serve ${name}${group ? ` in ${group}` : ''}`)
  return found
}

function recordAt (obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = obj[key]
  return isRecord(value) ? value : {}
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function clone<T> (value: T): T {
  return structuredClone(value)
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

function nameErrors (resource: ResourceKind, name: string): string[] {
  const [rule, max] = resource.nameRule === 'label' ? [DNS_LABEL, 63] : [DNS_SUBDOMAIN, 253]
  if (name.length <= max && rule.test(name)) return []
  return [`metadata.name: Invalid value: "${name}": a lowercase RFC 1123 ${resource.nameRule} of at most ${max} characters`]
}

// ---------------------------------------------------------------------------------------------
// Selectors, parsed the way the apiserver parses them; a parse error is a 400.

export type Matcher = (obj: KubeObject) => boolean

function labelMatcher (selector: string): Matcher {
  const parts: string[] = []
  let depth = 0
  let current = ''
  for (const ch of selector) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      parts.push(current)
      current = ''
    } else {
      current += ch
    }
  }
  parts.push(current)
  const tests = parts.map((p) => p.trim()).filter((p) => p !== '').map(labelRequirement)
  return (obj) => tests.every((test) => test(obj.metadata.labels ?? {}))
}

const KEY = String.raw`[A-Za-z0-9][-A-Za-z0-9_./]*`
const VALUE = String.raw`[-A-Za-z0-9_.]*`

function labelRequirement (text: string): (labels: Record<string, string>) => boolean {
  let m = new RegExp(`^!\\s*(${KEY})$`).exec(text)
  if (m) return (labels) => !(m![1]! in labels)
  m = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`).exec(text)
  if (m) {
    const [, key, op, value] = m as unknown as [string, string, string, string]
    return op === '!=' ? (labels) => labels[key] !== value : (labels) => labels[key] === value
  }
  m = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^()]*)\\)$`).exec(text)
  if (m) {
    const [, key, op, list] = m as unknown as [string, string, string, string]
    const values = list.split(',').map((v) => v.trim())
    if (values.some((v) => !new RegExp(`^${VALUE}$`).test(v))) throw failure(400, `unable to parse requirement: ${text}`)
    return op === 'in'
      ? (labels) => key in labels && values.includes(labels[key]!)
      : (labels) => !(key in labels) || !values.includes(labels[key]!)
  }
  m = new RegExp(`^(${KEY})$`).exec(text)
  if (m) return (labels) => m![1]! in labels
  throw failure(400, `unable to parse requirement: ${text}`)
}

function fieldMatcher (resource: ResourceKind, selector: string): Matcher {
  const tests = selector.split(',').map((p) => p.trim()).filter((p) => p !== '').map((part) => {
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(part)
    if (!m) throw failure(400, `invalid selector: '${selector}'; can't understand '${part}'`)
    const [, field, op, value] = m as unknown as [string, string, string, string]
    const read = resource.fields[field]
    if (read === undefined) throw failure(400, `field label not supported: ${field}`)
    return op === '!=' ? (o: KubeObject) => (read(o) ?? '') !== value : (o: KubeObject) => (read(o) ?? '') === value
  })
  return (obj) => tests.every((test) => test(obj))
}

// ---------------------------------------------------------------------------------------------
// The store: objects, one global resourceVersion bumped by every mutation (like etcd's revision),
// and a bounded history of changes that watches replay from.

type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED'

interface Change {
  type: ChangeType
  resource: ResourceKind
  /** the object after the change; for DELETED the last state stamped with the deletion's RV */
  object: KubeObject
  /** the object before the change (MODIFIED, DELETED) */
  previous?: KubeObject
  resourceVersion: number
}

function keyOf (obj: { metadata: { namespace?: string, name: string } }): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`
}

function timestamp (): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
}

class Store {
  resourceVersion = 0
  /** watches from an older resourceVersion get 410 Expired: the history after it is gone */
  compactedThrough = 0
  private readonly objects = new Map<ResourceKind, Map<string, KubeObject>>(RESOURCES.map((r) => [r, new Map()]))
  private history: Change[] = []
  private readonly historyLimit: number
  private readonly onChange: (change: Change) => void

  constructor (historyLimit: number, onChange: (change: Change) => void) {
    this.historyLimit = historyLimit
    this.onChange = onChange
  }

  get (resource: ResourceKind, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.table(resource).get(`${resource.namespaced ? namespace ?? '' : ''}/${name}`)
    return found && clone(found)
  }

  /** sorted by namespace/name, as etcd keys are */
  list (resource: ResourceKind, namespace?: string): KubeObject[] {
    return [...this.table(resource).values()]
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .sort((a, b) => keyOf(a) < keyOf(b) ? -1 : 1)
      .map(clone)
  }

  changesSince (resourceVersion: number, resource: ResourceKind): Change[] {
    return this.history.filter((c) => c.resourceVersion > resourceVersion && c.resource === resource)
  }

  create (resource: ResourceKind, input: unknown, pathNamespace?: string): KubeObject {
    const obj = this.typed(resource, input)
    const meta = obj.metadata
    if (resource.namespaced) {
      if (pathNamespace !== undefined && meta.namespace !== undefined && meta.namespace !== pathNamespace) {
        throw failure(400, 'the namespace of the provided object does not match the namespace sent on the request')
      }
      meta.namespace = pathNamespace ?? meta.namespace
      if (!meta.namespace) throw failure(400, 'an empty namespace may not be set during creation')
      if (this.get(NAMESPACES, undefined, meta.namespace) === undefined) {
        throw failure(404, `namespaces "${meta.namespace}" not found`, 'NotFound', { name: meta.namespace, kind: 'namespaces' })
      }
    } else {
      delete meta.namespace
    }
    if (!meta.name && typeof meta.generateName === 'string') meta.name = meta.generateName + randomUUID().slice(0, 5)
    if (meta.resourceVersion) throw failure(500, 'resourceVersion should not be set on objects to be created')
    this.check(resource, obj)
    if (this.table(resource).has(keyOf(obj))) {
      throw failure(409, `${qualifiedName(resource)} "${meta.name}" already exists`, 'AlreadyExists', detailsOf(resource, meta.name))
    }
    meta.uid = randomUUID()
    meta.creationTimestamp = timestamp()
    return this.commit('ADDED', resource, obj)
  }

  /** PUT semantics: replace, with metadata.resourceVersion (when set) as an optimistic-lock precondition */
  update (resource: ResourceKind, input: unknown, path?: { namespace?: string, name: string }): KubeObject {
    const obj = this.typed(resource, input)
    const meta = obj.metadata
    if (path !== undefined) {
      if (meta.name !== path.name) throw failure(400, `the name of the object (${meta.name}) does not match the name on the URL (${path.name})`)
      if (resource.namespaced && meta.namespace !== undefined && meta.namespace !== path.namespace) {
        throw failure(400, 'the namespace of the provided object does not match the namespace sent on the request')
      }
      meta.namespace = path.namespace
    }
    if (!resource.namespaced) delete meta.namespace
    const old = this.get(resource, meta.namespace, meta.name)
    if (old === undefined) throw notFound(resource, meta.name)
    if (meta.resourceVersion && meta.resourceVersion !== old.metadata.resourceVersion) throw conflict(resource, meta.name)
    if (meta.uid && meta.uid !== old.metadata.uid) {
      throw conflict(resource, meta.name, `Precondition failed: UID in precondition: ${old.metadata.uid}, UID in object meta: ${meta.uid}`)
    }
    meta.uid = old.metadata.uid
    meta.creationTimestamp = old.metadata.creationTimestamp
    meta.resourceVersion = old.metadata.resourceVersion
    this.check(resource, obj, old)
    // the apiserver skips the write when nothing changed: no new resourceVersion, no event
    if (isDeepStrictEqual(obj, old)) return old
    return this.commit('MODIFIED', resource, obj, old)
  }

  patch (resource: ResourceKind, namespace: string | undefined, name: string, contentType: string, patch: unknown): KubeObject {
    const old = this.get(resource, namespace, name)
    if (old === undefined) throw notFound(resource, name)
    let patched: unknown
    if (contentType === 'application/merge-patch+json' || contentType === 'application/strategic-merge-patch+json') {
      // strategic merge is served as a plain merge: lists are replaced, $patch directives are not understood
      patched = mergePatch(old, patch)
    } else if (contentType === 'application/json-patch+json') {
      if (!Array.isArray(patch)) throw failure(400, 'json patch must be an array of operations')
      try {
        patched = jsonpatch.applyPatch(clone(old), patch, true).newDocument
      } catch (err) {
        const testFailed = (err as { name?: string }).name === 'TEST_OPERATION_FAILED'
        throw failure(testFailed ? 422 : 400, `the server rejected our request due to an error in our request: ${(err as Error).message}`)
      }
    } else {
      throw failure(415, `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`)
    }
    return this.update(resource, patched, { namespace, name })
  }

  delete (resource: ResourceKind, namespace: string | undefined, name: string, preconditions: { resourceVersion?: string, uid?: string } = {}): KubeObject {
    const old = this.get(resource, namespace, name)
    if (old === undefined) throw notFound(resource, name)
    if (preconditions.resourceVersion && preconditions.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(resource, name, `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`)
    }
    if (preconditions.uid && preconditions.uid !== old.metadata.uid) {
      throw conflict(resource, name, `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${old.metadata.uid}`)
    }
    if (resource === NAMESPACES) {
      // the namespace controller's job, done at once: contents go first, each with its own event
      for (const r of RESOURCES.filter((r) => r.namespaced)) {
        for (const obj of this.list(r, name)) this.delete(r, name, obj.metadata.name)
      }
    }
    this.table(resource).delete(keyOf(old))
    return this.commit('DELETED', resource, clone(old), old)
  }

  /** forget the history: watches from any older resourceVersion now get 410 Expired */
  compact (jumpTo?: number): void {
    if (jumpTo !== undefined && jumpTo > this.resourceVersion) this.resourceVersion = jumpTo
    this.history = []
    this.compactedThrough = this.resourceVersion
  }

  private table (resource: ResourceKind): Map<string, KubeObject> {
    return this.objects.get(resource)!
  }

  /** a plain-JSON copy, decoded as the apiserver does: kind and apiVersion checked and set (Dates become strings), MicroTimes parsed */
  private typed (resource: ResourceKind, input: unknown): KubeObject {
    const cannot = `${resource.kind} in version "${resource.version}" cannot be handled as a ${resource.kind}`
    if (!isRecord(input)) throw failure(400, `${cannot}: expected an object`)
    const obj = JSON.parse(JSON.stringify(input)) as KubeObject
    const apiVersion = apiVersionOf(resource)
    if ((obj.kind !== undefined && obj.kind !== resource.kind) || (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion)) {
      throw failure(400, `${cannot}: got ${String(obj.apiVersion)}/${String(obj.kind)}`)
    }
    obj.kind = resource.kind
    obj.apiVersion = apiVersion
    obj.metadata = (isRecord(obj.metadata) ? obj.metadata : {}) as ObjectMeta
    for (const path of resource.microTimes ?? []) {
      const parent = path.slice(0, -1).reduce<Record<string, unknown>>((at, key) => recordAt(at, key), obj)
      const key = path.at(-1)!
      // null is the zero MicroTime: an optional field left out
      if (parent[key] === null) delete parent[key]
      else if (parent[key] !== undefined) parent[key] = decodeMicroTime(resource, parent[key])
    }
    return obj
  }

  private check (resource: ResourceKind, obj: KubeObject, old?: KubeObject): void {
    const name = obj.metadata.name
    const errors = name ? nameErrors(resource, name) : ['metadata.name: Required value: name or generateName is required']
    resource.normalize?.(obj, old)
    errors.push(...(resource.validate?.(obj, old) ?? []))
    if (errors.length === 0) return
    // an Invalid names the kind, qualified by its group: 'Secret', 'Event.events.k8s.io'
    const kind = resource.group === '' ? resource.kind : `${resource.kind}.${resource.group}`
    const message = `${kind} "${name ?? ''}" is invalid: ${errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`}`
    throw failure(422, message, 'Invalid', {
      name, ...(resource.group !== '' ? { group: resource.group } : {}), kind: resource.kind, causes: errors.map((e) => ({ reason: 'FieldValueInvalid', message: e }))
    })
  }

  private commit (type: ChangeType, resource: ResourceKind, obj: KubeObject, previous?: KubeObject): KubeObject {
    const resourceVersion = ++this.resourceVersion
    obj.metadata.resourceVersion = String(resourceVersion)
    if (type !== 'DELETED') this.table(resource).set(keyOf(obj), obj)
    const change: Change = { type, resource, object: clone(obj), ...(previous ? { previous } : {}), resourceVersion }
    this.history.push(change)
    if (this.history.length > this.historyLimit) this.compactedThrough = this.history.shift()!.resourceVersion
    this.onChange(change)
    return clone(obj)
  }
}

/** StatusDetails name the resource by plural, with its group unless core (omitempty) */
function detailsOf (resource: ResourceKind, name: string): NonNullable<Status['details']> {
  return { name, ...(resource.group !== '' ? { group: resource.group } : {}), kind: resource.plural }
}

function notFound (resource: ResourceKind, name: string): StatusError {
  return failure(404, `${qualifiedName(resource)} "${name}" not found`, 'NotFound', detailsOf(resource, name))
}

function conflict (resource: ResourceKind, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): StatusError {
  return failure(409, `Operation cannot be fulfilled on ${qualifiedName(resource)} "${name}": ${why}`, 'Conflict', detailsOf(resource, name))
}

/** RFC 7386 */
function mergePatch (target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch)
  const result: Record<string, unknown> = isRecord(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = mergePatch(result[key], value)
  }
  return result
}

// ---------------------------------------------------------------------------------------------
// The watch hub: open watch streams, each with its resource, namespace and selectors.

interface WatchEvent {
  type: ChangeType | 'BOOKMARK' | 'ERROR'
  object: unknown
}

interface WatchRequest {
  /** the request that opened it, so faults' matches can pick open watches too */
  record: RequestRecord
  resource: ResourceKind
  namespace?: string
  matches: Matcher
  /** undefined or 0: start with the current state; otherwise replay the changes after it */
  from?: number
  timeoutSeconds?: number
  bookmarks: boolean
}

interface Watcher {
  record: RequestRecord
  resource: ResourceKind
  /** changes up to this resourceVersion are not for this watcher (it started later) */
  since: number
  matches: Matcher
  res: ServerResponse
  send (event: WatchEvent): void
  /** stop its timers and leave the hub; ending the stream is the caller's choice */
  dispose (): void
}

/**
 * How one change looks through a watcher's selectors, as the apiserver's watch cache decides it: an
 * object that starts matching is ADDED, one that stops matching is DELETED (previous content, new RV).
 */
function eventFor (change: Change, matches: Matcher): WatchEvent | undefined {
  const before = change.previous !== undefined && matches(change.previous)
  if (change.type === 'DELETED') return before ? { type: 'DELETED', object: change.object } : undefined
  const now = matches(change.object)
  if (now) return { type: before ? 'MODIFIED' : 'ADDED', object: change.object }
  if (!before) return undefined
  const gone = clone(change.previous!)
  gone.metadata.resourceVersion = String(change.resourceVersion)
  return { type: 'DELETED', object: gone }
}

class WatchHub {
  private readonly watchers = new Set<Watcher>()
  private readonly store: Store
  private readonly bookmarkIntervalMs: number
  private readonly defaultTimeoutSeconds: number | undefined

  constructor (store: Store, bookmarkIntervalMs: number, defaultTimeoutSeconds: number | undefined) {
    this.store = store
    this.bookmarkIntervalMs = bookmarkIntervalMs
    this.defaultTimeoutSeconds = defaultTimeoutSeconds
  }

  publish (change: Change): void {
    for (const watcher of this.watchers) {
      if (watcher.resource !== change.resource || change.resourceVersion <= watcher.since) continue
      const event = eventFor(change, watcher.matches)
      if (event) watcher.send(event)
    }
  }

  /** stream newline-delimited events on an HTTP response until it closes, times out or is dropped */
  open (res: ServerResponse, request: WatchRequest): void {
    const store = this.store
    const { resource, matches, from } = request
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' })
    // the client's fetch resolves on headers; flush them before any event exists
    res.flushHeaders()
    const send = (event: WatchEvent): void => {
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(event)}\n`)
    }
    if (from !== undefined && from > 0 && from < store.compactedThrough) {
      send({ type: 'ERROR', object: statusOf(410, `too old resource version: ${from} (${store.compactedThrough})`, 'Expired') })
      res.end()
      return
    }
    const timers: NodeJS.Timeout[] = []
    const watcher: Watcher = {
      record: request.record,
      resource,
      since: from ?? 0,
      matches,
      res,
      send,
      dispose: () => {
        timers.forEach(clearTimeout)
        this.watchers.delete(watcher)
      }
    }
    // no resourceVersion or "0": the current state first, as synthetic ADDED events
    const initial = from === undefined || from === 0
      ? store.list(resource, request.namespace).filter(matches).map((object): WatchEvent => ({ type: 'ADDED', object }))
      : store.changesSince(from, resource).map((c) => eventFor(c, matches)).filter((e) => e !== undefined)
    initial.forEach(send)
    this.watchers.add(watcher)
    res.on('close', watcher.dispose)
    const timeoutSeconds = request.timeoutSeconds ?? this.defaultTimeoutSeconds
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) {
      timers.push(setTimeout(() => {
        watcher.dispose()
        res.end()
      }, timeoutSeconds * 1000))
    }
    if (request.bookmarks) {
      // a bookmark says "you have seen everything up to here"; only metadata.resourceVersion is set
      timers.push(setInterval(() => send({
        type: 'BOOKMARK',
        object: { kind: resource.kind, apiVersion: apiVersionOf(resource), metadata: { resourceVersion: String(store.resourceVersion) } }
      }), this.bookmarkIntervalMs))
    }
  }

  count (resource?: ResourceKind): number {
    return [...this.watchers].filter((w) => resource === undefined || w.resource === resource).length
  }

  /** end every stream (or those opened by requests the match picks): cleanly (terminating chunk) or abruptly (socket destroyed mid-stream) */
  closeAll (how: 'end' | 'destroy', match: RequestMatch = () => true): void {
    for (const watcher of this.watchers) {
      if (!matchesRequest(match, watcher.record)) continue
      watcher.dispose()
      if (how === 'end') watcher.res.end()
      else watcher.res.socket?.destroy()
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Requests, faults and the server.

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'other'

export interface RequestRecord {
  method: string
  path: string
  query: Record<string, string>
  verb: Verb
  /** who sent it, by the bearer token (see StartedApiDouble.kubeConfig); undefined when the token is unknown */
  user?: string
  /** API group: '' for core, 'coordination.k8s.io'…; undefined (like resource) for discovery and unknown paths */
  group?: string
  /** plural, e.g. 'secrets'; undefined for discovery and unknown paths */
  resource?: string
  namespace?: string
  name?: string
  /** HTTP status answered (200 for a watch once its stream opens); undefined while pending or hung */
  status?: number
  /** set when a fault or the down switch decided the answer */
  fault?: string
}

export interface RequestStats {
  total: number
  /** create, update, patch, delete */
  writes: number
  byVerb: Record<Verb, number>
}

export type RequestMatch =
  | ((request: RequestRecord) => boolean)
  | Partial<Pick<RequestRecord, 'method' | 'verb' | 'user' | 'group' | 'resource' | 'namespace' | 'name'>>

/** An HTTP error answer: the body defaults to a Status with the usual reason for the code. */
export interface FaultResponse {
  status: number
  reason?: string
  message?: string
  body?: unknown
}

/** 'hang': never answer until releaseHung(); 'reset': destroy the socket without a response */
export type Fault = FaultResponse | 'hang' | 'reset'

export interface ApiDoubleOptions {
  /** the default user's bearer token, and the stem of every other user's (401 otherwise); default 'api-double-token' */
  token?: string
  /** period of BOOKMARK events for watches with allowWatchBookmarks; default 1000 (the apiserver: ~1 min) */
  bookmarkIntervalMs?: number
  /** changes kept for watch replay; older resourceVersions get 410; default 1000 */
  historyLimit?: number
  /** server-side end of watches that set no timeoutSeconds (the apiserver: 30–60 min); default never */
  watchTimeoutSeconds?: number
}

export interface KubeconfigOptions {
  /** whom its token identifies (RequestRecord.user, RequestMatch.user); default DEFAULT_USER */
  user?: string
}

export interface StartedApiDouble {
  url: string
  port: number
  /** a real KubeConfig pointing at this server (http, so skipTLSVerify is required by the client) */
  kubeConfig (options?: KubeconfigOptions): KubeConfig
  /**
   * write a kubeconfig YAML file (to a fresh temp dir unless dir is given; removed by close());
   * resolves to its path. A string is the dir, as before users existed.
   */
  writeKubeconfig (options?: string | (KubeconfigOptions & { dir?: string })): Promise<string>
}

/** who the token of a kubeconfig made without a user is: the single identity of before */
export const DEFAULT_USER = 'api-double'

// Another user's token is the server's token, a dot and the name in base64url (any name fits a header),
// so the double keeps no list of users: it accepts every token of that form and nothing else.
function tokenFor (serverToken: string, user: string): string {
  return user === DEFAULT_USER ? serverToken : `${serverToken}.${Buffer.from(user).toString('base64url')}`
}

function userOf (serverToken: string, authorization: string | undefined): string | undefined {
  const bearer = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined
  if (bearer === serverToken) return DEFAULT_USER
  if (!bearer?.startsWith(`${serverToken}.`)) return undefined
  const user = Buffer.from(bearer.slice(serverToken.length + 1), 'base64url').toString('utf8')
  // only the exact form it issues: canonical base64url of a non-empty name
  return user !== '' && tokenFor(serverToken, user) === bearer ? user : undefined
}

const WRITES = new Set<Verb>(['create', 'update', 'patch', 'delete'])
// the apiserver refuses request bodies over 3 MB (etcd itself caps objects at 1.5 MiB)
const MAX_BODY_BYTES = 3 * 1024 * 1024

export class ApiDouble {
  private readonly token: string
  private readonly store: Store
  private readonly hub: WatchHub
  private readonly sockets = new Set<Socket>()
  private readonly server: Server
  private readonly log: RequestRecord[] = []
  private readonly faults: Array<{ match: RequestMatch, fault: Fault, remaining: number }> = []
  private readonly parked: Array<() => void> = []
  private readonly tempDirs: string[] = []
  /** every token a TokenRequest issued, in order */
  readonly issuedTokens: Array<{ namespace: string, name: string, audiences: string[], token: string }> = []
  private hanging = false
  private down: 'refuse' | '503' | undefined
  private port = 0

  constructor (options: ApiDoubleOptions = {}) {
    this.token = options.token ?? 'api-double-token'
    // the store reaches the hub only once something changes, after both exist
    this.store = new Store(options.historyLimit ?? 1000, (change) => this.hub.publish(change))
    this.hub = new WatchHub(this.store, options.bookmarkIntervalMs ?? 1000, options.watchTimeoutSeconds)
    this.server = createServer((req, res) => this.receive(req, res))
    this.server.on('connection', (socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
  }

  async start (): Promise<StartedApiDouble> {
    await this.listen(0)
    const address = this.server.address()
    if (address === null || typeof address === 'string') throw new Error('api-double: no TCP address')
    this.port = address.port
    const url = `http://127.0.0.1:${this.port}`
    return {
      url,
      port: this.port,
      kubeConfig: ({ user = DEFAULT_USER } = {}) => {
        const kc = new KubeConfig()
        kc.loadFromOptions({
          clusters: [{ name: 'api-double', server: url, skipTLSVerify: true }],
          users: [{ name: user, token: tokenFor(this.token, user) }],
          contexts: [{ name: 'api-double', cluster: 'api-double', user, namespace: 'default' }],
          currentContext: 'api-double'
        })
        return kc
      },
      writeKubeconfig: async (options = {}) => {
        const { user = DEFAULT_USER, ...rest } = typeof options === 'string' ? { dir: options } : options
        let dir = rest.dir
        if (dir === undefined) {
          dir = await mkdtemp(join(tmpdir(), 'api-double-'))
          this.tempDirs.push(dir)
        }
        const file = join(dir, 'kubeconfig.yaml')
        await writeFile(file, toYaml({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'api-double', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
          users: [{ name: user, user: { token: tokenFor(this.token, user) } }],
          contexts: [{ name: 'api-double', context: { cluster: 'api-double', user, namespace: 'default' } }],
          'current-context': 'api-double'
        }))
        return file
      }
    }
  }

  /** end every stream and socket so the test process can exit */
  async close (): Promise<void> {
    this.hanging = false
    this.parked.length = 0
    this.hub.closeAll('destroy')
    const closed = this.server.listening ? new Promise<void>((resolve) => this.server.close(() => resolve())) : undefined
    for (const socket of this.sockets) socket.destroy()
    await closed
    await Promise.all(this.tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
  }

  // -- state, in process: as if another actor changed the cluster -------------------------------

  get resourceVersion (): string {
    return String(this.store.resourceVersion)
  }

  /** create; throws StatusError (409 AlreadyExists, 404 for a missing namespace, 422…) */
  create<T extends KubeObjectInput> (obj: T): KubeObject {
    return this.store.create(resourceOf(obj), obj)
  }

  /** replace; a set metadata.resourceVersion must be current (409 Conflict otherwise) */
  update<T extends KubeObjectInput> (obj: T): KubeObject {
    return this.store.update(resourceOf(obj), obj)
  }

  /** create, or replace whatever is stored (no resourceVersion precondition) */
  apply<T extends KubeObjectInput> (obj: T): KubeObject {
    const resource = resourceOf(obj)
    const plain = { ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } }
    const exists = this.store.get(resource, obj.metadata?.namespace, obj.metadata?.name ?? '') !== undefined
    return exists ? this.store.update(resource, plain) : this.store.create(resource, plain)
  }

  /** delete; a Namespace takes its contents with it */
  remove (kind: string, namespace: string | undefined, name: string): KubeObject {
    return this.store.delete(resourceFor(kind), namespace, name)
  }

  get<T extends object = KubeObject> (kind: string, namespace: string | undefined, name: string): T | undefined {
    return this.store.get(resourceFor(kind), namespace, name) as T | undefined
  }

  list<T extends object = KubeObject> (kind: string, namespace?: string): T[] {
    return this.store.list(resourceFor(kind), namespace) as T[]
  }

  // -- request log ---------------------------------------------------------------------------

  /** every request received, in order (including faulted ones; none while down in 'refuse' mode) */
  get requests (): readonly RequestRecord[] {
    return this.log
  }

  stats (): RequestStats {
    const byVerb: Record<Verb, number> = { get: 0, list: 0, watch: 0, create: 0, update: 0, patch: 0, delete: 0, other: 0 }
    for (const r of this.log) byVerb[r.verb]++
    return { total: this.log.length, writes: this.log.filter((r) => WRITES.has(r.verb)).length, byVerb }
  }

  clearRequests (): void {
    this.log.length = 0
  }

  // -- watches ---------------------------------------------------------------------------------

  /** open watch streams, optionally only those on one resource (kind or plural) */
  watcherCount (kind?: string): number {
    return this.hub.count(kind === undefined ? undefined : resourceFor(kind))
  }

  waitForWatchers (count: number, kind?: string, timeoutMs = POLL_DEADLINE_MS): Promise<void> {
    return waitFor(() => this.watcherCount(kind) >= count, `${count} watch(es) on ${kind ?? 'any resource'}`, timeoutMs)
  }

  /**
   * cut every open watch (or those whose opening request the match picks, e.g. the one a fault with
   * the same match now refuses): the socket is destroyed mid-stream, as when a connection dies
   */
  dropWatches (match?: RequestMatch): void {
    this.hub.closeAll('destroy', match)
  }

  /** end every open watch (or those the match picks) cleanly, as the apiserver does when a watch reaches its timeout */
  endWatches (match?: RequestMatch): void {
    this.hub.closeAll('end', match)
  }

  /** forget the history: watches from any resourceVersion before now get 410 Expired */
  compact (): void {
    this.store.compact()
  }

  /**
   * What a client sees when the apiserver restarts: every connection dropped, the watch cache gone
   * (old resourceVersions get 410), optionally a resourceVersion far ahead. Objects are kept.
   */
  restart (options: { newResourceVersionBase?: number } = {}): void {
    this.dropWatches()
    this.parked.length = 0
    for (const socket of this.sockets) socket.destroy()
    this.store.compact(options.newResourceVersionBase)
  }

  // -- faults ----------------------------------------------------------------------------------

  /** answer matching requests with the fault (times: how many; default every one); returns its removal */
  injectFault (match: RequestMatch, fault: Fault, options: { times?: number } = {}): () => void {
    const entry = { match, fault, remaining: options.times ?? Infinity }
    this.faults.push(entry)
    return () => {
      const at = this.faults.indexOf(entry)
      if (at >= 0) this.faults.splice(at, 1)
    }
  }

  /** the next n requests (matching, if given) fail with the response, default 500 */
  failNext (n: number, response: FaultResponse = { status: 500 }, match: RequestMatch = () => true): () => void {
    return this.injectFault(match, response, { times: n })
  }

  /** from now on accept requests and never answer them, until releaseHung() */
  hang (): void {
    this.hanging = true
  }

  /** requests held unanswered so far (by hang() or a 'hang' fault), until releaseHung() */
  hungCount (): number {
    return this.parked.length
  }

  /** stop hanging and serve every request held so far (hung by hang() or a 'hang' fault) */
  releaseHung (): void {
    this.hanging = false
    for (const serve of this.parked.splice(0)) serve()
  }

  /**
   * Take the server down or bring it back. 'refuse' (default) stops listening and destroys every
   * connection, so clients see ECONNREFUSED; '503' answers everything with 503 and drops watches.
   */
  async setDown (down: boolean, options: { mode?: 'refuse' | '503' } = {}): Promise<void> {
    if (down) {
      this.down = options.mode ?? 'refuse'
      this.dropWatches()
      if (this.down === 'refuse' && this.server.listening) {
        const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
        for (const socket of this.sockets) socket.destroy()
        await closed
      }
    } else {
      this.down = undefined
      if (!this.server.listening) await this.listen(this.port)
    }
  }

  // -- HTTP ------------------------------------------------------------------------------------

  private listen (port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject)
        resolve()
      })
    })
  }

  private receive (req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://api-double')
    const route = parseRoute(url.pathname)
    const method = req.method ?? 'GET'
    const user = userOf(this.token, req.headers.authorization)
    const record: RequestRecord = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      verb: verbOf(method, route, url.searchParams),
      ...(user !== undefined ? { user } : {}),
      ...(route ? { group: route.resource.group, resource: route.resource.plural, namespace: route.namespace, name: route.name } : {})
    }
    this.log.push(record)
    if (this.down === '503') {
      record.fault = 'down'
      return this.answer(res, record, 503, statusOf(503, 'the server is currently unable to handle the request'))
    }
    const fault = this.takeFault(record)
    if (fault === 'reset') {
      record.fault = 'reset'
      req.socket.destroy()
      return
    }
    if (fault !== undefined && fault !== 'hang') {
      record.fault = `status ${fault.status}`
      return this.answer(res, record, fault.status, fault.body ?? statusOf(fault.status, fault.message ?? 'injected fault', fault.reason))
    }
    const serve = (): void => {
      this.serve(req, res, record, url, route).catch((err: unknown) => {
        if (err instanceof StatusError) return this.answer(res, record, err.code, err.status)
        this.answer(res, record, 500, statusOf(500, `api-double bug: ${String(err)}`))
      })
    }
    if (fault === 'hang' || this.hanging) {
      record.fault = 'hang'
      this.parked.push(serve)
      return
    }
    serve()
  }

  private takeFault (record: RequestRecord): Fault | undefined {
    const entry = this.faults.find((f) => f.remaining > 0 && matchesRequest(f.match, record))
    if (entry === undefined) return undefined
    entry.remaining--
    if (entry.remaining === 0) this.faults.splice(this.faults.indexOf(entry), 1)
    return entry.fault
  }

  private async serve (req: IncomingMessage, res: ServerResponse, record: RequestRecord, url: URL, route: Route | undefined): Promise<void> {
    if (record.user === undefined) throw failure(401, 'Unauthorized')
    const query = url.searchParams
    if (query.has('dryRun')) throw failure(400, 'api-double does not support dryRun')
    if (route === undefined) return this.discovery(res, record, url.pathname)
    const { resource, namespace, name } = route
    const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(record.method) ? await readBody(req) : undefined
    if (route.subresource === 'token') {
      if (record.method !== 'POST') throw failure(405, 'the server does not allow this method on the requested resource')
      return this.answer(res, record, 201, this.tokenRequest(namespace!, name!, parseJson(body)))
    }
    switch (record.verb) {
      case 'list':
        return this.answer(res, record, 200, this.listOf(route, query))
      case 'watch':
        return this.openWatch(res, record, route, query)
      case 'get': {
        const found = this.store.get(resource, namespace, name!)
        if (found === undefined) throw notFound(resource, name!)
        return this.answer(res, record, 200, found)
      }
      case 'create':
        if (resource.namespaced && namespace === undefined) break
        return this.answer(res, record, 201, this.store.create(resource, parseJson(body), namespace))
      case 'update':
        return this.answer(res, record, 200, this.store.update(resource, parseJson(body), { namespace, name: name! }))
      case 'patch': {
        const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim()
        return this.answer(res, record, 200, this.store.patch(resource, namespace, name!, contentType, parseJson(body)))
      }
      case 'delete': {
        const options = body === undefined || body.length === 0 ? undefined : parseJson(body)
        const deleted = this.store.delete(resource, namespace, name!, isRecord(options) ? recordAt(options, 'preconditions') : {})
        // most resources (secrets, events) answer a delete with a Success Status, not the object
        const success: Status = {
          kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { ...detailsOf(resource, name!), uid: deleted.metadata.uid }, code: 200
        }
        return this.answer(res, record, 200, success)
      }
    }
    throw failure(405, `the server does not allow this method on the requested resource`)
  }

  /**
   * TokenRequest (authentication.k8s.io/v1) for a ServiceAccount that exists. The token is not a JWT:
   * `sa-token.<namespace>.<name>.<audiences>.<n>`, so a test can see whose token a plugin was given;
   * issued ones are in `issuedTokens`. expirationSeconds below 600 is refused, as the apiserver does.
   */
  private tokenRequest (namespace: string, name: string, input: unknown): unknown {
    const account = RESOURCES.find((r) => r.plural === 'serviceaccounts')!
    if (this.store.get(account, namespace, name) === undefined) throw notFound(account, name)
    const spec = isRecord(input) ? recordAt(input, 'spec') : {}
    const audiences = Array.isArray(spec.audiences) ? spec.audiences.map(String) : []
    const expirationSeconds = typeof spec.expirationSeconds === 'number' ? spec.expirationSeconds : 3600
    if (expirationSeconds < 600) throw failure(422, `TokenRequest.authentication.k8s.io "${name}" is invalid: spec.expirationSeconds: Invalid value: ${expirationSeconds}: may not specify a duration less than 10 minutes`, 'Invalid')
    const token = `sa-token.${namespace}.${name}.${audiences.join('+')}.${this.issuedTokens.length + 1}`
    this.issuedTokens.push({ namespace, name, audiences, token })
    return {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: { name, namespace, creationTimestamp: new Date().toISOString() },
      spec: { audiences, expirationSeconds },
      status: { token, expirationTimestamp: new Date(Date.now() + expirationSeconds * 1000).toISOString() }
    }
  }

  private listOf (route: Route, query: URLSearchParams): unknown {
    const { resource, namespace } = route
    const current = this.store.resourceVersion
    const asked = parseResourceVersion(query.get('resourceVersion'))
    if (asked !== undefined && asked > current) {
      throw failure(504, `Too large resource version: ${asked}, current: ${current}`, 'Timeout', {
        causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }]
      })
    }
    const matches = this.matcherFor(route, query)
    let items = this.store.list(resource, namespace).filter(matches)
    let listVersion = current
    const token = query.get('continue')
    if (token) {
      const { rv, after } = decodeContinue(token)
      if (rv < this.store.compactedThrough) {
        throw failure(410, 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.', 'Expired')
      }
      items = items.filter((o) => keyOf(o) > after)
      listVersion = rv
    }
    const limit = Number(query.get('limit') ?? 0)
    let next: string | undefined
    if (limit > 0 && items.length > limit) {
      items = items.slice(0, limit)
      next = Buffer.from(JSON.stringify({ rv: listVersion, after: keyOf(items.at(-1)!) })).toString('base64url')
    }
    return {
      kind: `${resource.kind}List`,
      apiVersion: apiVersionOf(resource),
      metadata: { resourceVersion: String(listVersion), ...(next ? { continue: next } : {}) },
      // list items come without kind and apiVersion from the real apiserver too
      items: items.map(({ kind: _kind, apiVersion: _apiVersion, ...rest }) => rest)
    }
  }

  private matcherFor (route: Route, query: URLSearchParams): Matcher {
    const labels = labelMatcher(query.get('labelSelector') ?? '')
    const fields = fieldMatcher(route.resource, query.get('fieldSelector') ?? '')
    const namespace = route.namespace
    return (obj) => (namespace === undefined || obj.metadata.namespace === namespace) && labels(obj) && fields(obj)
  }

  private openWatch (res: ServerResponse, record: RequestRecord, route: Route, query: URLSearchParams): void {
    const request: WatchRequest = {
      record,
      resource: route.resource,
      ...(route.namespace !== undefined ? { namespace: route.namespace } : {}),
      matches: this.matcherFor(route, query),
      from: parseResourceVersion(query.get('resourceVersion')),
      bookmarks: ['true', '1'].includes(query.get('allowWatchBookmarks') ?? '')
    }
    if (query.has('timeoutSeconds')) request.timeoutSeconds = Number(query.get('timeoutSeconds'))
    record.status = 200
    this.hub.open(res, request)
  }

  private discovery (res: ServerResponse, record: RequestRecord, path: string): void {
    if (['/healthz', '/livez', '/readyz'].includes(path)) {
      record.status = 200
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
      return
    }
    const document = DISCOVERY[path]
    if (document === undefined) throw failure(404, 'the server could not find the requested resource', 'NotFound')
    this.answer(res, record, 200, document)
  }

  private answer (res: ServerResponse, record: RequestRecord, status: number, body: unknown): void {
    record.status = status
    if (res.headersSent || res.destroyed) return
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
}

/** the legacy (unaggregated) discovery documents, built from the resource table */
const DISCOVERY: Record<string, unknown> = (() => {
  const groupVersions = [...new Set(RESOURCES.filter((r) => r.group !== '').map(apiVersionOf))]
  const resourceList = (groupVersion: string) => ({
    kind: 'APIResourceList',
    // the apiserver's /api/v1 document carries no apiVersion; the groups' documents do
    ...(groupVersion === 'v1' ? {} : { apiVersion: 'v1' }),
    groupVersion,
    resources: RESOURCES.filter((r) => apiVersionOf(r) === groupVersion).map((r) => ({
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']
    }))
  })
  const group = (groupVersion: string) => {
    const [name, version] = groupVersion.split('/') as [string, string]
    return { name, versions: [{ groupVersion, version }], preferredVersion: { groupVersion, version } }
  }
  return {
    '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] },
    '/api/v1': resourceList('v1'),
    '/apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: groupVersions.map(group) },
    ...Object.fromEntries(groupVersions.flatMap((gv) => [
      [`/apis/${gv.split('/')[0]!}`, { kind: 'APIGroup', apiVersion: 'v1', ...group(gv) }],
      [`/apis/${gv}`, resourceList(gv)]
    ])),
    '/version': { major: '1', minor: '33', gitVersion: 'v1.33.0-api-double' }
  }
})()

interface Route {
  resource: ResourceKind
  namespace?: string
  name?: string
  /** the one subresource served: serviceaccounts/{name}/token (TokenRequest) */
  subresource?: 'token'
}

/**
 * {root}/{plural}[/{name}] or {root}/namespaces/{ns}/{plural}[/{name}], where root is /api/v1 for the
 * core group and /apis/{group}/{version} for the others
 */
function parseRoute (path: string): Route | undefined {
  const root = /^\/api\/v1\/|^\/apis\/([^/]+)\/([^/]+)\//.exec(path)
  if (root === null) return undefined
  const [group, version] = [root[1] ?? '', root[2] ?? 'v1']
  const segments = path.slice(root[0].length).split('/').map(decodeURIComponent)
  const scoped = segments[0] === 'namespaces' && segments.length >= 3
  const [namespace, plural, name, ...rest] = scoped ? segments.slice(1) : [undefined, ...segments]
  const resource = RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural)
  const tokenRequest = resource?.plural === 'serviceaccounts' && rest.length === 1 && rest[0] === 'token' && name
  if (resource === undefined || (rest.length > 0 && !tokenRequest) || (scoped && !resource.namespaced)) return undefined
  return { resource, ...(namespace !== undefined ? { namespace } : {}), ...(name ? { name } : {}), ...(tokenRequest ? { subresource: 'token' as const } : {}) }
}

function verbOf (method: string, route: Route | undefined, query: URLSearchParams): Verb {
  if (route === undefined) return 'other'
  const item = route.name !== undefined
  switch (method) {
    case 'GET': return item ? 'get' : ['true', '1'].includes(query.get('watch') ?? '') ? 'watch' : 'list'
    case 'POST': return item ? 'other' : 'create'
    case 'PUT': return item ? 'update' : 'other'
    case 'PATCH': return item ? 'patch' : 'other'
    case 'DELETE': return item ? 'delete' : 'other'
    default: return 'other'
  }
}

function matchesRequest (match: RequestMatch, record: RequestRecord): boolean {
  if (typeof match === 'function') return match(record)
  return Object.entries(match).every(([key, value]) => record[key as keyof RequestRecord] === value)
}

/** the table entry for an object handed to the helpers: its kind, and its apiVersion's group if set */
function resourceOf (obj: KubeObjectInput): ResourceKind {
  if (obj.kind === undefined) throw new Error('api-double: objects handed to the helpers need a kind')
  const group = obj.apiVersion?.includes('/') ? obj.apiVersion.split('/')[0] : obj.apiVersion === undefined ? undefined : ''
  return resourceFor(obj.kind, group)
}

/** undefined for absent or empty; a 400 for anything but a non-negative integer */
function parseResourceVersion (value: string | null): number | undefined {
  if (value === null || value === '') return undefined
  if (!/^\d+$/.test(value)) throw failure(400, `invalid resource version: ${value}`)
  return Number(value)
}

function decodeContinue (token: string): { rv: number, after: string } {
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { rv: number, after: string }
    if (typeof decoded.rv === 'number' && typeof decoded.after === 'string') return decoded
  } catch {
    // not base64 JSON: fall through to the 400
  }
  throw failure(400, 'continue key is not valid')
}

function parseJson (body: Buffer | undefined): unknown {
  try {
    return JSON.parse(body?.toString('utf8') ?? '')
  } catch (err) {
    throw failure(400, `the body of the request is not valid JSON: ${(err as Error).message}`)
  }
}

async function readBody (req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw failure(413, 'the request body is too large')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/**
 * How long a test waits for a condition before failing. A failsafe, not a speed bar: generous, so a
 * loaded 2-core machine passes; speed is measured by `npm run bench`.
 */
export const POLL_DEADLINE_MS = 10_000

/** poll until the check passes; rejects with what was awaited after timeoutMs */
export async function waitFor (check: () => boolean, what = 'condition', timeoutMs = POLL_DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
