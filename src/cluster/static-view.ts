// Standalone mode: the cluster comes from manifest files (Namespaces and Secrets) and writes go to
// memory. Lets `review` and `serve --objects` run on a laptop with no cluster.

import { readFile } from 'node:fs/promises'
import { parseAllDocuments } from 'yaml'
import type { ClusterSnapshot, ManagedSecretSpec } from '../admission/cluster-snapshot.js'
import { TOKEN_SOURCE_TYPE, type SecretObject } from '../admission/credentials.js'
import { isObject } from '../admission/envelope.js'
import type { AdmissionOptions } from '../admission/options.js'
import { ClusterModel, type NamespaceObject } from './cluster-model.js'
import type { CredentialState } from './credential-state.js'
import { managedSecretObject, planManagedSecret, storedSecret } from './managed-secret.js'
import type { ClusterView, EnsureResult } from './view.js'

export class ManifestError extends Error {
  constructor (readonly file: string, reason: string) {
    super(`${file}: ${reason}`)
    this.name = 'ManifestError'
  }
}

export class StaticClusterView implements ClusterView {
  readonly model: ClusterModel
  /** every Secret by `namespace/name`, whole: credential sources and any managed (or squatting) copies */
  private readonly stored = new Map<string, SecretObject>()

  constructor (objects: readonly unknown[], private readonly options: AdmissionOptions) {
    const model = this.model = new ClusterModel(options)
    for (const object of objects) {
      if (!isObject(object) || object.apiVersion !== 'v1') continue
      if (object.kind === 'Namespace') {
        model.namespaceChanged(object as NamespaceObject)
      } else if (object.kind === 'Secret') {
        this.putSecret(object as SecretObject)
      }
    }
    model.commitCredentials()
  }

  static async fromFiles (files: readonly string[], options: AdmissionOptions): Promise<StaticClusterView> {
    const objects: unknown[] = []
    for (const file of files) {
      const read = await readManifestFile(file)
      const tokenSource = read.find(object => isObject(object) && object.kind === 'Secret' && object.type === TOKEN_SOURCE_TYPE)
      if (tokenSource !== undefined) {
        const name = (tokenSource as SecretObject).metadata?.name ?? '(unnamed)'
        // Refused rather than skipped: a tenant would silently lack the credentials it was promised.
        throw new ManifestError(file, `Secret ${name} is a token source (${TOKEN_SOURCE_TYPE}): tokens are minted by the leader in live mode, and standalone mode cannot mint; run serve without --objects, or give a static dockerconfigjson Secret instead`)
      }
      objects.push(...read)
    }
    return new StaticClusterView(objects, options)
  }

  get secrets (): ReadonlyMap<string, SecretObject> {
    return this.stored
  }

  /**
   * Stores a Secret as the API server would (no namespace: `default`). A credential source changes
   * the merged credentials only at the next commit, as in live mode; the constructor commits once.
   */
  putSecret (secret: SecretObject): void {
    const { name, namespace = 'default' } = secret.metadata ?? {}
    if (name === undefined) return
    const placed = { ...secret, metadata: { ...secret.metadata, namespace } }
    this.stored.set(`${namespace}/${name}`, placed)
    this.model.credentialSecretChanged(placed)
    if (name === this.options.managedSecretName) this.model.managedSecretChanged(namespace, storedSecret(placed))
  }

  get credentials (): CredentialState {
    return this.model.credentialState
  }

  snapshot (): ClusterSnapshot {
    return this.model
  }

  async lookupNamespace (): Promise<void> {
    // Nothing beyond the manifests exists in standalone mode.
  }

  // The same plan the live projector follows, applied to memory.
  async ensureManagedSecret (spec: ManagedSecretSpec): Promise<EnsureResult> {
    const key = `${spec.namespace}/${spec.name}`
    const plan = planManagedSecret(spec, this.model.managedSecret(spec.namespace), this.options.tenantLabel)
    const write = (body: SecretObject): void => this.putSecret(body)
    switch (plan.action) {
      case 'none': return { outcome: 'unchanged' }
      case 'conflict': return { outcome: 'conflict', message: `Secret ${key} exists and is not managed by pullguard` }
      case 'create': write(plan.body); return { outcome: 'created' }
      case 'replace': write(plan.body); return { outcome: 'updated' }
      // only a recreate here: a spec to ensure always wants the Secret to exist
      case 'delete': write(managedSecretObject(spec, this.options.tenantLabel)); return { outcome: 'updated' }
    }
  }

  isReady (): boolean {
    return true
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
