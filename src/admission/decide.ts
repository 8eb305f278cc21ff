// The decision: (request, cluster snapshot, options) → response + the managed Secret to ensure.
// Pure and synchronous: no network, clock or logger, so every rule is a table test.

import { isAlwaysPullExempt } from './always-pull-exempt.js'
import { auditList } from './audit-annotations.js'
import type { ClusterSnapshot, ManagedSecretSpec } from './cluster-snapshot.js'
import { isObject } from './envelope.js'
import { parseImageName, type ImageName } from './image-reference.js'
import { MIRROR_POD_ANNOTATION, type AdmissionOptions } from './options.js'
import {
  addPullSecret,
  type ContainerList,
  encodePatch,
  forceContainerPullPolicy,
  forceImageVolumePullPolicy
} from './patch.js'
import { decidePodUpdate } from './pod-update.js'
import type { AdmissionRequest, AdmissionResponse, Container, PatchOperation, Pod, Volume } from './types.js'
import { foreignImageDenial, ReviewWarnings, WARNINGS } from './warnings.js'

export type DecisionKind = 'patched' | 'allowed' | 'denied'

export interface Decision {
  response: AdmissionResponse
  /** set for a Pod CREATE in a tenant namespace with credentials, unless dryRun */
  ensureSecret?: ManagedSecretSpec
  /** loggable facts about the decision; never credentials */
  summary: {
    decision: DecisionKind
    reason: string
    tenant?: string
    patchOperations: number
    warnings: number
  }
}

const CONTAINER_LISTS: readonly ContainerList[] = ['initContainers', 'containers', 'ephemeralContainers']

export function decide (request: AdmissionRequest, cluster: ClusterSnapshot, options: AdmissionOptions): Decision {
  const skip = (reason: string): Decision => allow(request.uid, reason)

  const target = targetOf(request)
  if (target === undefined) return skip('not a pod creation, update or debug container')
  const pod = isObject(request.object) ? request.object as Pod : undefined
  if (pod === undefined || !isObject(pod.spec)) return skip('no pod spec in the request')
  const namespace = request.namespace ?? pod.metadata?.namespace ?? ''
  const tenant = cluster.tenantOf(namespace)
  if (tenant === null) return skip('namespace is not a tenant')
  // Only a kubelet's mirror of a static Pod is spared: anyone can write the annotation on a Pod.
  if (pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined &&
      request.userInfo?.username?.startsWith('system:node:') === true) return skip('mirror pod')
  // An UPDATE cannot change a pull policy, so it is judged, never patched (pod-update.ts).
  if (target === 'update') return decidePodUpdate(request, pod.spec, tenant, options)

  // The API server calls pullguard only for namespaces carrying the tenant label, so one the view
  // cannot resolve (created a moment ago, and the live lookup failed) is a tenant whose name is not
  // known: the pull policy, which needs no name, is still enforced; credentials cannot be chosen.
  const review = new PodReview(tenant, cluster, options)
  if (target === 'create') {
    for (const list of CONTAINER_LISTS) review.containers(list, pod.spec[list])
    review.imageVolumes(pod.spec.volumes)
  } else {
    // kubectl debug: only the ephemeral containers this request adds may (and must) change.
    const oldPod = request.oldObject as Pod | undefined
    const existing = new Set((asArray(oldPod?.spec?.ephemeralContainers)).map(c => isObject(c) ? c.name : undefined))
    review.containers('ephemeralContainers', pod.spec.ephemeralContainers, c => !existing.has(c.name))
  }

  if (review.foreign.length > 0 && options.foreignRegistryPolicy === 'deny') return review.deny(request.uid)

  let ensureSecret: ManagedSecretSpec | undefined
  const credentials = tenant === undefined ? undefined : cluster.credentialsOf(tenant)
  if (target === 'create') {
    if (tenant === undefined) {
      review.warn(WARNINGS.tenantUnknown(namespace))
    } else if (credentials === undefined) {
      review.warn(WARNINGS.noCredentials(tenant))
    } else {
      const op = addPullSecret(pod.spec.imagePullSecrets, options.managedSecretName)
      if (op !== undefined) {
        review.patch.push(op)
        review.audit['pull-secret-injected'] = options.managedSecretName
      }
      if (request.dryRun !== true) {
        ensureSecret = { namespace, name: options.managedSecretName, tenant, ...credentials }
      }
    }
  }
  return review.answer(request.uid, ensureSecret)
}

type Target = 'create' | 'update' | 'debug'

function targetOf (request: AdmissionRequest): Target | undefined {
  const resource = request.resource
  if (resource === undefined || resource.group !== '' || resource.resource !== 'pods') return undefined
  const sub = request.subResource ?? ''
  // CREATE on pods/binding or pods/eviction is not a Pod creation.
  if (request.operation === 'CREATE' && sub === '') return 'create'
  if (request.operation === 'UPDATE' && sub === '') return 'update'
  if (request.operation === 'UPDATE' && sub === 'ephemeralcontainers') return 'debug'
  return undefined
}

interface ForeignImage {
  image: string
  scope: string
  owner: string
}

/**
 * Accumulates one Pod's patch, warnings, audit notes and foreign images as its parts are visited.
 * A Pod may have thousands of containers: every step is one pass or one set lookup per part, and
 * warnings and audit notes are bounded (warnings.ts, audit-annotations.ts).
 */
class PodReview {
  readonly patch: PatchOperation[] = []
  readonly warnings = new ReviewWarnings()
  readonly audit: Record<string, string> = {}
  /** each image once */
  readonly foreign: ForeignImage[] = []
  /** made on the first foreign image, as most Pods have none */
  private foreignImages: Set<string> | undefined
  private readonly enforced: string[] = []

  constructor (
    /** undefined: a tenant namespace whose tenant could not be resolved */
    private readonly tenant: string | undefined,
    private readonly cluster: ClusterSnapshot,
    private readonly options: AdmissionOptions
  ) {}

  containers (list: ContainerList, value: unknown, include: (c: Container) => boolean = () => true): void {
    const containers = asArray(value)
    for (let index = 0; index < containers.length; index++) {
      const container = containers[index]
      if (!isObject(container) || !include(container as unknown as Container)) continue
      const { name, image, imagePullPolicy } = container as unknown as Container
      const imageName = this.image(image)
      if (imagePullPolicy !== 'Always' && !this.exempt(imageName)) {
        this.patch.push(forceContainerPullPolicy(list, index))
        this.enforced.push(`${list}/${nameOr(name, index)}`)
      }
    }
  }

  imageVolumes (value: unknown): void {
    const volumes = asArray(value)
    for (let index = 0; index < volumes.length; index++) {
      const volume = volumes[index] as Volume
      if (!isObject(volume) || !isObject(volume.image)) continue
      const imageName = this.image(volume.image.reference)
      if (volume.image.pullPolicy !== 'Always' && !this.exempt(imageName)) {
        this.patch.push(forceImageVolumePullPolicy(index))
        this.enforced.push(`volumes/${nameOr(volume.name, index)}`)
      }
    }
  }

  /** Parses a reference and records whether it reaches into another tenant's registry. */
  private image (reference: unknown): ImageName | undefined {
    if (typeof reference !== 'string') return undefined
    const name = parseImageName(reference)
    if (name === undefined) {
      this.warnings.image('invalid', reference, () => WARNINGS.invalidImage(reference))
      return undefined
    }
    if (this.tenant === undefined || this.foreignImages?.has(reference) === true) return name
    const coverage = this.cluster.registries.lookup(name, this.tenant)
    if (!coverage.covered && coverage.foreignOwner !== undefined) {
      (this.foreignImages ??= new Set()).add(reference)
      this.foreign.push({ image: reference, scope: coverage.foreignOwner.scope, owner: coverage.foreignOwner.tenant })
    }
    return name
  }

  private exempt (image: ImageName | undefined): boolean {
    return isAlwaysPullExempt(image, this.options.alwaysPullExempt)
  }

  warn (message: string): void {
    this.warnings.add(message)
  }

  deny (uid: string): Decision {
    const first = this.foreign[0] as ForeignImage
    const message = foreignImageDenial(first, this.tenant, this.foreign.length - 1)
    return {
      response: {
        uid,
        allowed: false,
        status: { code: 403, reason: 'Forbidden', message },
        auditAnnotations: { 'foreign-registry': this.foreignNote() }
      },
      summary: { decision: 'denied', reason: 'foreign registry', tenant: this.tenant, patchOperations: 0, warnings: 0 }
    }
  }

  answer (uid: string, ensureSecret: ManagedSecretSpec | undefined): Decision {
    if (this.foreign.length > 0 && this.options.foreignRegistryPolicy === 'warn') {
      for (const { image, scope } of this.foreign) {
        this.warnings.image('foreign', image, () => WARNINGS.foreignImage(image, scope))
      }
      this.audit['foreign-registry'] = this.foreignNote()
    }
    if (this.enforced.length > 0) this.audit['always-pull-enforced'] = auditList(this.enforced, entry => entry)

    const response: AdmissionResponse = { uid, allowed: true }
    if (this.patch.length > 0) {
      response.patchType = 'JSONPatch'
      response.patch = encodePatch(this.patch)
    }
    const warnings = this.warnings.list()
    if (warnings.length > 0) response.warnings = warnings
    if (Object.keys(this.audit).length > 0) response.auditAnnotations = this.audit
    const decision: DecisionKind = this.patch.length > 0 ? 'patched' : 'allowed'
    return {
      response,
      ...(ensureSecret !== undefined && { ensureSecret }),
      summary: {
        decision,
        reason: this.tenant === undefined ? 'tenant unknown: pull policy only' : this.patch.length > 0 ? 'enforced' : 'already compliant',
        tenant: this.tenant,
        patchOperations: this.patch.length,
        warnings: warnings.length
      }
    }
  }

  // Audit logs are read by cluster admins only, so they may name the owning tenant; warnings may not.
  private foreignNote (): string {
    return auditList(this.foreign, f => `${f.image}=${f.scope}(${f.owner})`)
  }
}

function allow (uid: string, reason: string): Decision {
  return {
    response: { uid, allowed: true },
    summary: { decision: 'allowed', reason, patchOperations: 0, warnings: 0 }
  }
}

// Names come from the request and are strings in anything the API server sends; a hand-made review
// may carry anything, and building the audit note must not throw on it.
function nameOr (name: unknown, index: number): string {
  return typeof name === 'string' ? name : `#${index}`
}

function asArray (value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}
