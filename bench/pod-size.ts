// Pod size: what one review costs in-process as the Pod grows from 1 to 60 containers, and the two
// ways of producing its patch. pullguard builds its few operations directly (src/admission/patch.ts);
// cert-manager, gatekeeper, istio and pepr mutate a copy and diff it. Both are timed here on the same
// Pods, diffing the whole Pod and diffing only the parts that change, so the choice rests on a figure.

import jsonpatch from 'fast-json-patch'
import type { AdmissionRequest, PatchOperation, Pod } from '../src/admission/types.js'
import {
  DEFAULT_ADMISSION_OPTIONS,
  ReviewService,
  StaticClusterView,
  addPullSecret,
  createLogger,
  decide,
  encodePatch,
  forceContainerPullPolicy,
  parseAdmissionReview,
  readManifestFile
} from './dist.ts'
import { EXAMPLE_CLUSTER_FILE, podOf, reviewWithContainers } from './fixtures.ts'
import { interleaved, nsPerOp, nsPerOpAsync, type Timed } from './stats.ts'

export interface PodSizeConfig {
  containers: readonly number[]
  rounds: number
  budgetMs: number
}

export interface PodSizeRow {
  containers: number
  /** the review as the API server sends it */
  reviewBytes: number
  /** decide(): the pure decision, patch encoded */
  decideUs: number
  /** JSON.parse of the body, envelope check, ReviewService (decision + in-memory Secret), JSON.stringify */
  servicePathUs: number
  /** the baseline's work on the same body: JSON.parse, JSON.stringify of an answer of the same size */
  parseStringifyUs: number
  patch: {
    /** the operations built directly, as src/admission/patch.ts does */
    directUs: number
    /** deep copy of the whole Pod, mutate, fast-json-patch compare */
    diffPodUs: number
    /** deep copy of the changed parts only (container lists, imagePullSecrets), mutate, compare */
    diffPartsUs: number
    directOps: number
    diffOps: number
  }
}

const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const
type Spec = NonNullable<Pod['spec']>

export async function runPodSize (config: PodSizeConfig): Promise<PodSizeRow[]> {
  const view = new StaticClusterView(await readManifestFile(EXAMPLE_CLUSTER_FILE), DEFAULT_ADMISSION_OPTIONS)
  const service = new ReviewService(view, DEFAULT_ADMISSION_OPTIONS)
  const log = createLogger({ level: 'silent' })
  const secretName = DEFAULT_ADMISSION_OPTIONS.managedSecretName

  const prepared = config.containers.map(count => {
    const review = reviewWithContainers(count)
    const body = JSON.stringify(review)
    const request = review.request as AdmissionRequest
    const pod = podOf(review)
    const answer = { apiVersion: review.apiVersion, kind: 'AdmissionReview', response: decide(request, view.snapshot(), DEFAULT_ADMISSION_OPTIONS).response }
    const direct = directPatch(pod.spec, secretName)
    checkEquivalent(pod, direct, diffWholePod(pod, secretName), diffChangedParts(pod, secretName), count)

    const cases: Record<string, () => unknown> = {
      decide: () => decide(request, view.snapshot(), DEFAULT_ADMISSION_OPTIONS),
      parseStringify: () => {
        JSON.parse(body)
        return JSON.stringify(answer)
      },
      direct: () => encodePatch(directPatch(pod.spec, secretName)),
      // encodePatch only JSON-encodes: fast-json-patch's operations go through it unchanged
      diffPod: () => encodePatch(diffWholePod(pod, secretName) as PatchOperation[]),
      diffParts: () => encodePatch(diffChangedParts(pod, secretName) as PatchOperation[])
    }
    const servicePath = async (): Promise<string> => {
      const parsed = parseAdmissionReview(JSON.parse(body))
      if (!parsed.ok) throw new Error(parsed.error)
      const outcome = await service.review(parsed.review, log)
      return JSON.stringify(outcome.response)
    }
    const timed: Timed[] = [
      ...Object.entries(cases).map(([name, fn]) => ({ name: `${count}/${name}`, run: (budgetMs: number) => nsPerOp(fn, budgetMs) })),
      { name: `${count}/servicePath`, run: async (budgetMs: number) => await nsPerOpAsync(servicePath, budgetMs) }
    ]
    return { count, body, direct, diffOps: diffWholePod(pod, secretName).length, timed }
  })

  const timings = await interleaved(prepared.flatMap(p => p.timed), config.rounds, config.budgetMs)
  const us = (name: string): number => (timings.get(name)?.best ?? Number.NaN) / 1000
  return prepared.map(({ count, body, direct, diffOps }) => ({
    containers: count,
    reviewBytes: Buffer.byteLength(body),
    decideUs: us(`${count}/decide`),
    servicePathUs: us(`${count}/servicePath`),
    parseStringifyUs: us(`${count}/parseStringify`),
    patch: {
      directUs: us(`${count}/direct`),
      diffPodUs: us(`${count}/diffPod`),
      diffPartsUs: us(`${count}/diffParts`),
      directOps: direct.length,
      diffOps
    }
  }))
}

/** What decide() does for a Pod CREATE: one `add` per container not yet Always, plus the pull secret. */
function directPatch (spec: Spec, secretName: string): PatchOperation[] {
  const operations: PatchOperation[] = []
  for (const list of CONTAINER_LISTS) {
    const containers = spec[list] ?? []
    for (let index = 0; index < containers.length; index++) {
      if (containers[index]?.imagePullPolicy !== 'Always') operations.push(forceContainerPullPolicy(list, index))
    }
  }
  const secret = addPullSecret(spec.imagePullSecrets, secretName)
  if (secret !== undefined) operations.push(secret)
  return operations
}

/** The same changes made on a copy of the spec's parts, in place. */
function mutate (spec: Partial<Spec>, secretName: string): void {
  for (const list of CONTAINER_LISTS) {
    for (const container of spec[list] ?? []) container.imagePullPolicy = 'Always'
  }
  spec.imagePullSecrets = [...spec.imagePullSecrets ?? [], { name: secretName }]
}

function diffWholePod (pod: Pod, secretName: string): jsonpatch.Operation[] {
  const changed = jsonpatch.deepClone(pod) as Pod & { spec: Spec }
  mutate(changed.spec, secretName)
  return jsonpatch.compare(pod, changed)
}

function diffChangedParts (pod: Pod & { spec: Spec }, secretName: string): jsonpatch.Operation[] {
  const parts: Partial<Spec> = {}
  for (const key of [...CONTAINER_LISTS, 'imagePullSecrets'] as const) {
    if (pod.spec[key] !== undefined) Object.assign(parts, { [key]: pod.spec[key] })
  }
  const changed = jsonpatch.deepClone(parts) as Partial<Spec>
  mutate(changed, secretName)
  return jsonpatch.compare(parts, changed).map(op => ({ ...op, path: `/spec${op.path}` }))
}

/** The three patches must turn the Pod into the same Pod, or the comparison means nothing. */
function checkEquivalent (pod: Pod, direct: PatchOperation[], diffPod: jsonpatch.Operation[], diffParts: jsonpatch.Operation[], count: number): void {
  const apply = (operations: readonly jsonpatch.Operation[]): unknown =>
    jsonpatch.applyPatch(jsonpatch.deepClone(pod), operations as jsonpatch.Operation[]).newDocument
  const expected = apply(direct as jsonpatch.Operation[])
  for (const [name, patch] of [['whole-Pod diff', diffPod], ['changed-parts diff', diffParts]] as const) {
    if (jsonpatch.compare(expected as object, apply(patch) as object).length !== 0) {
      throw new Error(`${count} containers: the ${name} patch does not give the Pod the direct patch gives`)
    }
  }
}
