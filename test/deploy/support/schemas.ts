// Validation of manifests against the Kubernetes API: types, enums and required fields from the
// kubernetes-models JSON schemas (and cert-manager's CRD schemas), plus a strict unknown-field check
// from @kubernetes/client-node's generated models, because those JSON schemas, like the API server
// without --validate=strict, accept fields that do not exist (a misspelt field would be dropped).

import * as k8s from '@kubernetes/client-node'
import * as certManager from '@kubernetes-models/cert-manager/cert-manager.io/v1'
import * as admissionregistration from 'kubernetes-models/admissionregistration.k8s.io/v1'
import * as apps from 'kubernetes-models/apps/v1'
import * as batch from 'kubernetes-models/batch/v1'
import * as networking from 'kubernetes-models/networking.k8s.io/v1'
import * as policy from 'kubernetes-models/policy/v1'
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1'
import * as core from 'kubernetes-models/v1'
import type { KubeObject } from './repo.js'

interface ValidatingModel {
  new (data: object): { validate(): void }
}

const MODELS: Record<string, Record<string, unknown>> = {
  v1: core,
  'apps/v1': apps,
  'batch/v1': batch,
  'policy/v1': policy,
  'networking.k8s.io/v1': networking,
  'rbac.authorization.k8s.io/v1': rbac,
  'admissionregistration.k8s.io/v1': admissionregistration,
  'cert-manager.io/v1': certManager
}

/** The kubernetes-models class of an apiVersion/kind, or undefined when the API is not known here. */
export function modelOf (apiVersion: string, kind: string): ValidatingModel | undefined {
  const model = MODELS[apiVersion]?.[kind]
  return typeof model === 'function' ? model as ValidatingModel : undefined
}

/** Schema errors of an object (empty when valid); throws for an apiVersion/kind no model knows. */
export function schemaErrors (object: KubeObject): string[] {
  const Model = modelOf(object.apiVersion, object.kind)
  if (Model === undefined) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`)
  try {
    new Model(object).validate()
    return []
  } catch (error) {
    return [(error as Error).message]
  }
}

interface Attribute {
  baseName: string
  type: string
}
interface GeneratedModel {
  getAttributeTypeMap(): Attribute[]
}

const generated = k8s as unknown as Record<string, GeneratedModel | undefined>

/** client-node's model name of a built-in apiVersion/kind (V1Deployment), or undefined for CRDs. */
function generatedTypeOf (apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.split('/').pop() ?? ''
  const name = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`
  return typeof generated[name]?.getAttributeTypeMap === 'function' ? name : undefined
}

/** JSON paths of fields the API does not define; [] for kinds client-node has no model of (CRDs). */
export function unknownFields (object: KubeObject): string[] {
  const type = generatedTypeOf(object.apiVersion, object.kind)
  if (type === undefined) return []
  const found: string[] = []
  walk(object, type, '', found)
  return found
}

function walk (value: unknown, type: string, path: string, found: string[]): void {
  if (value === null || value === undefined) return
  const list = /^Array<(.+)>$/.exec(type)
  if (list !== null) {
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, list[1] as string, `${path}[${i}]`, found))
    return
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type)
  if (map !== null) {
    if (typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) walk(item, map[1] as string, `${path}.${key}`, found)
    }
    return
  }
  const model = generated[type]
  if (typeof model?.getAttributeTypeMap !== 'function' || typeof value !== 'object' || Array.isArray(value)) return
  const attributes = new Map(model.getAttributeTypeMap().map(a => [a.baseName, a.type]))
  for (const [key, item] of Object.entries(value)) {
    const itemType = attributes.get(key)
    if (itemType === undefined) found.push(`${path}.${key}`)
    else walk(item, itemType, `${path}.${key}`, found)
  }
}
