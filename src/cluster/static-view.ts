// Standalone mode: the cluster comes from manifest files (Namespaces and Secrets) and writes go to
// memory. Lets `review` and `serve --objects` run on a laptop with no cluster.

import { readFile } from 'node:fs/promises'
import { parseAllDocuments } from 'yaml'
import type { SecretObject } from '../admission/credentials.js'
import { isObject } from '../admission/envelope.js'
import type { AdmissionOptions } from '../admission/options.js'
import { CredentialState } from './credential-state.js'
import { managedSecretObject, planManagedSecret, storedSecret, type StoredSecret } from './managed-secret.js'
import type { ClusterSnapshot, ClusterView, EnsureResult, ManagedSecretSpec } from './view.js'

export class ManifestError extends Error {
  constructor (readonly file: string, reason: string) {
    super(`${file}: ${reason}`)
    this.name = 'ManifestError'
  }
}

interface NamespaceObject {
  metadata?: { name?: string, labels?: Record<string, string> | null }
}

export class StaticClusterView implements ClusterView {
  readonly credentials: CredentialState
  private readonly tenants = new Map<string, string | null>()
  /** every Secret by `namespace/name`: credential sources and any managed (or squatting) copies */
  readonly secrets = new Map<string, SecretObject>()
  private readonly current: ClusterSnapshot

  constructor (objects: readonly unknown[], private readonly options: AdmissionOptions) {
    for (const object of objects) {
      if (!isObject(object)) continue
      if (object.apiVersion === 'v1' && object.kind === 'Namespace') {
        const { metadata } = object as NamespaceObject
        if (metadata?.name === undefined) continue
        const tenant = metadata.labels?.[options.tenantLabel]
        this.tenants.set(metadata.name, tenant === undefined || tenant === '' ? null : tenant)
      } else if (object.apiVersion === 'v1' && object.kind === 'Secret') {
        const secret = object as SecretObject
        const { name, namespace = 'default' } = secret.metadata ?? {}
        if (name !== undefined) this.secrets.set(`${namespace}/${name}`, { ...secret, metadata: { ...secret.metadata, namespace } })
      }
    }
    this.credentials = CredentialState.build(this.secrets.values(), options)
    const { tenants, credentials } = this
    this.current = {
      tenantOf: namespace => tenants.get(namespace),
      credentialsOf: tenant => credentials.credentialsOf(tenant),
      registries: credentials.registries
    }
  }

  static async fromFiles (files: readonly string[], options: AdmissionOptions): Promise<StaticClusterView> {
    const objects: unknown[] = []
    for (const file of files) objects.push(...await readManifestFile(file))
    return new StaticClusterView(objects, options)
  }

  snapshot (): ClusterSnapshot {
    return this.current
  }

  async lookupNamespace (): Promise<void> {
    // Nothing beyond the manifests exists in standalone mode.
  }

  // The same plan the live projector follows, applied to memory.
  async ensureManagedSecret (spec: ManagedSecretSpec): Promise<EnsureResult> {
    const key = `${spec.namespace}/${spec.name}`
    const existing = this.secrets.get(key)
    const plan = planManagedSecret(spec, existing === undefined ? undefined : this.storedOf(existing), this.options.tenantLabel)
    switch (plan.action) {
      case 'none': return { outcome: 'unchanged' }
      case 'conflict': return { outcome: 'conflict', message: `Secret ${key} exists and is not managed by pullguard` }
      case 'create': this.secrets.set(key, plan.body); return { outcome: 'created' }
      case 'replace': this.secrets.set(key, plan.body); return { outcome: 'updated' }
      // only a recreate here: a spec to ensure always wants the Secret to exist
      case 'delete': this.secrets.set(key, managedSecretObject(spec, this.options.tenantLabel)); return { outcome: 'updated' }
    }
  }

  isReady (): boolean {
    return true
  }

  // The plan's trimmed form, made once per stored object rather than digested again on every review.
  private readonly trimmed = new WeakMap<SecretObject, StoredSecret>()

  private storedOf (secret: SecretObject): StoredSecret {
    let stored = this.trimmed.get(secret)
    if (stored === undefined) {
      stored = storedSecret(secret)
      this.trimmed.set(secret, stored)
    }
    return stored
  }
}

/** YAML or JSON, multi-document, `kind: List` flattened. Errors name the file, never its content. */
export async function readManifestFile (file: string): Promise<unknown[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new ManifestError(file, `cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
  const objects: unknown[] = []
  for (const value of parseDocuments(file, text)) {
    if (value === null || value === undefined) continue
    if (!isObject(value)) throw new ManifestError(file, 'a document is not an object')
    if (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items)) objects.push(...value.items)
    else objects.push(value)
  }
  return objects
}

// JSON first: the YAML parser takes ~7x longer and ~4x the memory on a large `kubectl get -o json` dump.
function parseDocuments (file: string, text: string): unknown[] {
  if (/^\s*[[{]/.test(text)) {
    try {
      return [JSON.parse(text)]
    } catch {
      // Not one JSON document after all (e.g. YAML flow style); the YAML parser reports the error.
    }
  }
  return parseAllDocuments(text).map(document => {
    const [error] = document.errors
    if (error !== undefined) throw new ManifestError(file, `invalid YAML/JSON at line ${error.linePos?.[0].line ?? '?'}: ${error.code}`)
    return document.toJS() as unknown
  })
}
