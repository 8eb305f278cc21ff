// `pullguard explain` as data: why a Pod gets (or does not get) credentials and `Always`, or why it is
// denied. The verdict, patch and warnings are decide()'s own answer; around it, per image, the facts
// decide() reads — whose credentials match the image as the kubelet matches keys, whether another
// tenant owns it, the pull policy before and after the patch, exemptions — and the managed Secret's
// state in the namespace as status reads it. Pure: no second implementation of any rule.

import { isAlwaysPullExempt } from '../admission/always-pull-exempt.js'
import { credentialKeyMatches, parseCredentialKey, safeKeyScope } from '../admission/credential-key.js'
import type { CredentialSource } from '../admission/credentials.js'
import { decide } from '../admission/decide.js'
import { isObject } from '../admission/envelope.js'
import { parseImageName } from '../admission/image-reference.js'
import { fitWarning, WARNINGS } from '../admission/warnings.js'
import type { AdmissionOptions } from '../admission/options.js'
import type { AdmissionRequest, Container, PatchOperation, Pod, Volume } from '../admission/types.js'
import type { ClusterModel } from './cluster-model.js'
import { managedSecretStatus, type ManagedSecretStatus } from './status-report.js'
import type { SecretObject } from '../admission/credentials.js'
import { readSource } from './tokens/source-reading.js'

/** A key of the tenant's merged Secret that gives this image credentials. */
export interface CoveringKey {
  source: string
  /** the key by safeKeyScope: never user-info nor a query */
  key: string
  standing: 'own' | 'shared'
}

export interface ImageExplanation {
  /** `containers/web`, `initContainers/migrate`, `volumes/models` */
  where: string
  image: string
  /** undefined: the runtime would refuse the reference */
  repository?: string
  /** keys of the merged Secret that match, in its precedence order; empty: no credentials for it */
  coveredBy: CoveringKey[]
  /** another tenant claims the image and none of this tenant's keys match it */
  foreign?: { owner: string, scope: string }
  policyBefore: string
  policyAfter: string
  exempt: boolean
}

export interface Explanation {
  namespace: string
  /** null: not a tenant namespace; undefined: the cluster view does not know the namespace */
  tenant: string | null | undefined
  /** the merged credentials' sources in precedence order */
  credentialSources: string[]
  images: ImageExplanation[]
  /** undefined: the namespace is no tenant, nothing is kept there */
  managedSecret?: ManagedSecretStatus
  patch: PatchOperation[]
  warnings: string[]
  auditAnnotations: Record<string, string>
  verdict: { allowed: boolean, decision: string, reason: string, message?: string }
}

export interface ExplainInput {
  request: AdmissionRequest
  model: ClusterModel
  /** the credential Secrets the model was built from, to say which source holds which key */
  secrets: readonly SecretObject[]
  options: AdmissionOptions
}

const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const

export function explain ({ request, model, secrets, options }: ExplainInput): Explanation {
  const decision = decide(request, model, options)
  const { response } = decision
  const patch = response.patch === undefined ? [] : JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as PatchOperation[]
  const patched = new Map(patch.map(op => [op.path, op.value]))
  const pod = request.object as Pod
  const namespace = request.namespace ?? pod.metadata?.namespace ?? ''
  const tenant = model.tenantOf(namespace)
  const merged = typeof tenant === 'string' ? model.credentialsOf(tenant) : undefined
  const sources = sourcesInOrder(merged?.sources ?? [], secrets, options)

  const images: ImageExplanation[] = []
  const visit = (where: string, reference: unknown, policy: unknown, patchPath: string): void => {
    if (typeof reference !== 'string') return
    const name = parseImageName(reference)
    const before = typeof policy === 'string' ? policy : '(unset)'
    const explained: ImageExplanation = {
      where,
      image: reference,
      ...(name !== undefined && { repository: name.name }),
      coveredBy: [],
      policyBefore: before,
      policyAfter: patched.has(patchPath) ? String(patched.get(patchPath)) : before,
      exempt: isAlwaysPullExempt(name, options.alwaysPullExempt)
    }
    if (name !== undefined && typeof tenant === 'string') {
      explained.coveredBy = coveringKeys(name, sources)
      const coverage = model.registries.lookup(name, tenant)
      if (!coverage.covered && coverage.foreignOwner !== undefined) {
        explained.foreign = { owner: coverage.foreignOwner.tenant, scope: coverage.foreignOwner.scope }
      }
    }
    images.push(explained)
  }
  const spec = isObject(pod?.spec) ? pod.spec : {}
  for (const list of CONTAINER_LISTS) {
    const containers = Array.isArray(spec[list]) ? spec[list] as Container[] : []
    containers.forEach((container, index) => {
      if (!isObject(container)) return
      visit(`${list}/${typeof container.name === 'string' ? container.name : `#${index}`}`, container.image, container.imagePullPolicy, `/spec/${list}/${index}/imagePullPolicy`)
    })
  }
  const volumes = Array.isArray(spec.volumes) ? spec.volumes as Volume[] : []
  volumes.forEach((volume, index) => {
    if (!isObject(volume) || !isObject(volume.image)) return
    visit(`volumes/${typeof volume.name === 'string' ? volume.name : `#${index}`}`, volume.image.reference, volume.image.pullPolicy, `/spec/volumes/${index}/image/pullPolicy`)
  })

  const managedSecret = tenant === undefined ? undefined : managedSecretStatus(model, namespace, tenant, options)
  const warnings = [...response.warnings ?? []]
  // what the review service adds when the ensure that follows the decision meets someone else's Secret
  if (decision.ensureSecret !== undefined && managedSecret?.state === 'conflicting') warnings.push(fitWarning(WARNINGS.managedSecretConflict(options.managedSecretName)))
  return {
    namespace,
    tenant,
    credentialSources: merged?.sources ?? [],
    images,
    ...(managedSecret !== undefined && { managedSecret }),
    patch,
    warnings,
    auditAnnotations: response.auditAnnotations ?? {},
    verdict: {
      allowed: response.allowed,
      decision: decision.summary.decision,
      reason: decision.summary.reason,
      ...(response.status?.message !== undefined && { message: response.status.message })
    }
  }
}

/** the tenant's sources as read, in the merge's precedence order */
function sourcesInOrder (names: readonly string[], secrets: readonly SecretObject[], options: AdmissionOptions): CredentialSource[] {
  const byName = new Map<string, CredentialSource>()
  for (const secret of secrets) {
    const reading = readSource(secret, options)
    if (reading.kind === 'source') byName.set(reading.source.name, reading.source)
  }
  return names.flatMap(name => byName.get(name) ?? [])
}

/**
 * The keys of the merged Secret that match the image as the kubelet matches them: each key as its
 * winning source (the first in precedence) holds it, as the merge keeps it.
 */
function coveringKeys (image: NonNullable<ReturnType<typeof parseImageName>>, sources: readonly CredentialSource[]): CoveringKey[] {
  const seen = new Set<string>()
  const found: CoveringKey[] = []
  for (const source of sources) {
    for (const raw of Object.keys(source.auths)) {
      if (seen.has(raw)) continue
      seen.add(raw)
      const key = parseCredentialKey(raw)
      if (key !== undefined && credentialKeyMatches(key, image)) {
        found.push({ source: source.name, key: safeKeyScope(raw), standing: source.tenant === null ? 'shared' : 'own' })
      }
    }
  }
  return found
}
