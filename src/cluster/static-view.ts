// Standalone mode: the cluster comes from manifest files (Namespaces and Secrets) and writes go to
// memory. Lets `review` and `serve --objects` run on a laptop with no cluster.

import { readFile } from 'node:fs/promises'
import { parseAllDocuments } from 'yaml'
import { tenantFromLabels, type ClusterSnapshot, type ManagedSecretSpec } from '../admission/cluster-snapshot.js'
import { readCredentialSource, TOKEN_SOURCE_TYPE, type SecretObject } from '../admission/credentials.js'
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

/** What a standalone start loaded, for its summary line. */
export interface LoadSummary {
  namespaces: number
  /** distinct tenants of those namespaces */
  tenants: number
  /** Secrets labelled as credential sources in the credentials namespace, usable or not */
  credentialSecrets: number
  /** Secrets of the managed name in other namespaces: copies as stored */
  managedSecrets: number
  /** objects pullguard does not read, counted by why (e.g. `Secret outside pullguard-system`, `ConfigMap`) */
  ignored: Map<string, number>
}

export class StaticClusterView implements ClusterView {
  readonly model: ClusterModel
  readonly summary: LoadSummary
  /** every Secret by `namespace/name`, whole: credential sources and any managed (or squatting) copies */
  private readonly stored = new Map<string, SecretObject>()

  constructor (objects: readonly unknown[], private readonly options: AdmissionOptions) {
    const model = this.model = new ClusterModel(options)
    const summary: LoadSummary = this.summary = { namespaces: 0, tenants: 0, credentialSecrets: 0, managedSecrets: 0, ignored: new Map() }
    const ignore = (why: string): void => { summary.ignored.set(why, (summary.ignored.get(why) ?? 0) + 1) }
    const tenants = new Set<string>()
    for (const object of objects) {
      if (!isObject(object) || object.apiVersion !== 'v1' || (object.kind !== 'Namespace' && object.kind !== 'Secret')) {
        ignore(isObject(object) && typeof object.kind === 'string' ? object.kind : 'object without a kind')
      } else if (object.kind === 'Namespace') {
        summary.namespaces++
        const tenant = tenantFromLabels((object as NamespaceObject).metadata?.labels, options.tenantLabel)
        if (tenant !== null) tenants.add(tenant)
        model.namespaceChanged(object as NamespaceObject)
      } else {
        const placed = this.putSecret(object as SecretObject)
        const why = placed === undefined ? 'Secret without a name' : this.secretRole(placed)
        if (why === 'credential') summary.credentialSecrets++
        else if (why === 'managed') summary.managedSecrets++
        else ignore(why)
      }
    }
    summary.tenants = tenants.size
    model.commitCredentials()
  }

  /**
   * Reads manifests for standalone mode. A file set without any Namespace, or without any Secret,
   * would run but decide nothing (every tenant unknown, or none with credentials), and a Secret
   * without a namespace is ambiguous in a file: all three are errors, naming the file(s).
   */
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
      const unplaced = read.filter(object => isSecret(object) && typeof object.metadata?.namespace !== 'string')
      if (unplaced.length > 0) {
        const names = unplaced.map(object => JSON.stringify((object as SecretObject).metadata?.name ?? '')).join(', ')
        throw new ManifestError(file, `Secret ${names} has no metadata.namespace: say where it lives ` +
          `(credential sources belong in ${options.credentialsNamespace}, managed copies in their tenant namespace)`)
      }
      objects.push(...read)
    }
    const label = files.join(', ')
    if (!objects.some(object => isObject(object) && object.apiVersion === 'v1' && object.kind === 'Namespace')) {
      throw new ManifestError(label, `holds no Namespace: pullguard finds tenants by the ${options.tenantLabel} label on Namespaces, ` +
        'so no namespace would be a tenant; add them (kubectl get namespaces -o yaml)')
    }
    if (!objects.some(isSecret)) {
      throw new ManifestError(label, `holds no Secret: credential sources are Secrets in ${options.credentialsNamespace} labelled ` +
        `${options.tenantLabel}=<tenant> or ${options.sharedLabel}=true, so no tenant would have credentials; ` +
        `add them (kubectl get secrets -n ${options.credentialsNamespace} -o yaml)`)
    }
    return new StaticClusterView(objects, options)
  }

  /** what a Secret from the manifests is to pullguard; anything but credential/managed is why it is ignored */
  private secretRole (secret: SecretObject): 'credential' | 'managed' | string {
    const namespace = secret.metadata?.namespace
    const reading = readCredentialSource(secret, this.options)
    if (reading.kind !== 'ignored') return 'credential'
    if (namespace !== this.options.credentialsNamespace) {
      return secret.metadata?.name === this.options.managedSecretName ? 'managed' : `Secret outside ${this.options.credentialsNamespace}`
    }
    if (reading.why === 'managed copy') return `managed copy in ${this.options.credentialsNamespace}`
    if (reading.why === 'token source') return 'token source (minted in live mode only)'
    return `Secret in ${this.options.credentialsNamespace} without ${this.options.tenantLabel} or ${this.options.sharedLabel}=true`
  }

  get secrets (): ReadonlyMap<string, SecretObject> {
    return this.stored
  }

  /**
   * Stores a Secret as the API server would (no namespace: `default`). A credential source changes
   * the merged credentials only at the next commit, as in live mode; the constructor commits once.
   */
  putSecret (secret: SecretObject): SecretObject | undefined {
    const { name, namespace = 'default' } = secret.metadata ?? {}
    if (name === undefined) return undefined
    const placed = { ...secret, metadata: { ...secret.metadata, namespace } }
    this.stored.set(`${namespace}/${name}`, placed)
    this.model.credentialSecretChanged(placed)
    if (name === this.options.managedSecretName) this.model.managedSecretChanged(namespace, storedSecret(placed))
    return placed
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
    const write = (body: SecretObject): void => { this.putSecret(body) }
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

const isSecret = (object: unknown): object is SecretObject => isObject(object) && object.apiVersion === 'v1' && object.kind === 'Secret'

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
