// What an admin hands the CLI to ask "what would pullguard do to this?": a manifest as written (a Pod,
// or a workload whose pod template becomes Pods), YAML or JSON. This turns it into the Pod the API
// server would send the webhook, and that Pod into a CREATE AdmissionReview. Pure and synchronous:
// `review` and `explain` share it.

import { createHash } from 'node:crypto'
import { parseAllDocuments } from 'yaml'
import { isObject } from '../admission/envelope.js'
import type { AdmissionReview, Pod } from '../admission/types.js'

export type Result<T> = { ok: true, value: T } | { ok: false, error: string }

/** A Pod to review and where it came from. */
export interface PodInput {
  pod: Pod
  namespace: string
  /** `Deployment web`, `Pod debug`: how messages name the manifest */
  origin: string
}

interface TemplateKind {
  /** API group its apiVersion must be in: any version, the template has one shape across them */
  group: string
  /** where the pod template sits */
  template: readonly string[]
}

/** Every built-in kind with a pod template the admin writes (ReplicationController left out: legacy). */
export const POD_TEMPLATE_KINDS: Readonly<Record<string, TemplateKind>> = {
  Deployment: { group: 'apps', template: ['spec', 'template'] },
  StatefulSet: { group: 'apps', template: ['spec', 'template'] },
  DaemonSet: { group: 'apps', template: ['spec', 'template'] },
  ReplicaSet: { group: 'apps', template: ['spec', 'template'] },
  Job: { group: 'batch', template: ['spec', 'template'] },
  CronJob: { group: 'batch', template: ['spec', 'jobTemplate', 'spec', 'template'] }
}

const ACCEPTED = `an AdmissionReview, a Pod, or a ${Object.keys(POD_TEMPLATE_KINDS).join(', ')}`

/**
 * The one manifest in `text`. JSON first (an AdmissionReview of a large Pod parses ~10x faster that
 * way), else YAML; empty documents (a leading `---`) are skipped, and more than one is refused: one
 * manifest, one answer.
 */
export function parseManifest (text: string): Result<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    // not JSON: YAML, of which JSON is a subset, reports the error with its line
  }
  const documents = parseAllDocuments(text)
  if (!Array.isArray(documents)) return { ok: false, error: 'no manifest' }
  const error = documents.flatMap(document => document.errors)[0]
  if (error !== undefined) {
    const [position] = error.linePos ?? []
    // yaml's message ends with the position, which leads here instead.
    const message = (error.message.split('\n')[0] ?? error.code).replace(/ at line \d+, column \d+:?$/, '')
    return { ok: false, error: `not valid YAML or JSON: ${position === undefined ? '' : `line ${position.line}, column ${position.col}: `}${message}` }
  }
  const values = documents.map(document => document.toJS() as unknown).filter(value => value !== null && value !== undefined)
  if (values.length === 0) return { ok: false, error: 'no manifest' }
  if (values.length > 1) return { ok: false, error: `${values.length} manifests; give one at a time` }
  return { ok: true, value: values[0] }
}

/** An AdmissionReview goes to the envelope parser as it is; everything else through podInputOf. */
export function isAdmissionReviewManifest (manifest: unknown): boolean {
  return isObject(manifest) && (manifest.kind === 'AdmissionReview' ||
    (typeof manifest.apiVersion === 'string' && manifest.apiVersion.startsWith('admission.k8s.io/')))
}

/**
 * The Pod a manifest stands for, in its namespace: a Pod as written, or the Pod a controller would
 * create from a workload's template (its labels and annotations, `generateName: <workload>-`). The
 * namespace is the manifest's own, else `namespaceFlag`; both differing is an error, as in kubectl.
 */
export function podInputOf (manifest: unknown, namespaceFlag?: string): Result<PodInput> {
  if (!isObject(manifest)) return { ok: false, error: `not a manifest (an object); expected ${ACCEPTED}` }
  const { kind, apiVersion } = manifest
  if (typeof kind !== 'string' || kind === '') return { ok: false, error: `no kind; expected ${ACCEPTED}` }
  const metadata = isObject(manifest.metadata) ? manifest.metadata : {}
  const name = typeof metadata.name === 'string' && metadata.name !== '' ? metadata.name : undefined
  const origin = name === undefined ? kind : `${kind} ${name}`

  const templateKind = kind === 'Pod' ? { group: '', template: [] } : POD_TEMPLATE_KINDS[kind]
  if (templateKind === undefined) return { ok: false, error: `${origin}: no pod template to review; expected ${ACCEPTED}` }
  const expected = templateKind.group === '' ? 'v1' : `${templateKind.group}/v1`
  if (typeof apiVersion !== 'string' || groupOf(apiVersion) !== templateKind.group) {
    return { ok: false, error: `${origin}: apiVersion must be ${expected}, got ${apiVersion === undefined ? 'none' : JSON.stringify(apiVersion)}` }
  }

  const own = typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : undefined
  if (own !== undefined && namespaceFlag !== undefined && own !== namespaceFlag) {
    return { ok: false, error: `${origin}: metadata.namespace ${own} differs from --namespace ${namespaceFlag}` }
  }
  const namespace = own ?? namespaceFlag
  if (namespace === undefined) return { ok: false, error: `${origin}: no metadata.namespace; pass --namespace` }

  if (kind === 'Pod') {
    if (!isObject(manifest.spec)) return { ok: false, error: `${origin}: spec is missing` }
    const pod = structuredClone(manifest) as Pod
    // The API server fills the namespace in from the request before any webhook sees the Pod.
    pod.metadata = { ...pod.metadata, namespace }
    return { ok: true, value: { pod, namespace, origin } }
  }

  const template = valueAt(manifest, templateKind.template)
  const path = templateKind.template.join('.')
  if (!isObject(template) || !isObject(template.spec)) return { ok: false, error: `${origin}: ${path}.spec is missing` }
  const templateMetadata = isObject(template.metadata) ? structuredClone(template.metadata) : {}
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...(name !== undefined && { generateName: `${name}-` }),
      ...templateMetadata,
      namespace
    },
    spec: structuredClone(template.spec)
  }
  return { ok: true, value: { pod, namespace, origin } }
}

/**
 * The AdmissionReview the API server would send for creating `input.pod`. The uid is a hash of the Pod
 * and its namespace, so the same manifest gets the same answer byte for byte (CI diffs stay quiet).
 */
export function createReviewOf ({ pod, namespace }: PodInput): AdmissionReview {
  const digest = createHash('sha256').update(namespace).update('\0').update(JSON.stringify(pod)).digest('hex')
  const uid = [digest.slice(0, 8), digest.slice(8, 12), digest.slice(12, 16), digest.slice(16, 20), digest.slice(20, 32)].join('-')
  const name = pod.metadata?.name
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      ...(name !== undefined && { name }),
      operation: 'CREATE',
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' }
    }
  }
}

function groupOf (apiVersion: string): string {
  const slash = apiVersion.indexOf('/')
  return slash === -1 ? '' : apiVersion.slice(0, slash)
}

function valueAt (value: unknown, path: readonly string[]): unknown {
  let current = value
  for (const key of path) current = isObject(current) ? current[key] : undefined
  return current
}
