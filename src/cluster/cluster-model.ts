// The cluster as pullguard needs it, in one pure, synchronous model: which namespace belongs to which
// tenant, the credential sources and what they merge into, and the managed Secrets as stored. The
// static view fills it from manifests, the live view from informer events; reviews read it as their
// ClusterSnapshot, and the reconciler asks it what each namespace's Secret should hold. Every event
// says which namespaces need reconciling because of it. No I/O, clock or logger in here.

import { tenantFromLabels, type ClusterSnapshot, type ManagedSecretSpec } from '../admission/cluster-snapshot.js'
import { BoundedMap } from '../admission/bounded-map.js'
import {
  type CredentialSource,
  type KeyConflict,
  type MergedCredentials,
  type SecretObject,
  type SourceReading
} from '../admission/credentials.js'
import type { AdmissionOptions } from '../admission/options.js'
import type { RegistryIndex } from '../admission/registry-index.js'
import { UNUSABLE_SOURCE_REASONS } from '../admission/credential-problems.js'
import type { CredentialHealth, TenantWithoutCredentials } from './credential-health.js'
import { CredentialState, type CredentialProblem, type ServedReading } from './credential-state.js'
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../admission/options.js'
import type { StoredSecret } from './managed-secret.js'
import { readSource } from './tokens/source-reading.js'

export type ClusterModelOptions = Pick<AdmissionOptions,
  'tenantLabel' | 'sharedLabel' | 'credentialsNamespace' | 'managedSecretName' | 'publicRegistries'>

/** The parts of a Namespace the model reads. */
export interface NamespaceObject {
  metadata?: { name?: string, labels?: Record<string, string> | null }
  status?: { phase?: string }
}

/** What changed when pending credential events were folded into the merged state. */
export interface CredentialCommit {
  /** tenant namespaces whose merged content changed: their managed Secrets need rewriting */
  namespaces: string[]
  tenantsChanged: number
  /** credential Secrets the model holds */
  sources: number
  /** set when the conflicts or unusable sources differ from the last commit's: report them */
  issues?: CredentialIssues
}

export interface CredentialIssues {
  conflicts: KeyConflict[]
  problems: CredentialProblem[]
}

// Namespaces answered by a live GET before the informer caught up; the informer replaces them within
// seconds, so this only fills under a flood of brand-new namespaces. Oldest dropped first.
export const LOOKED_UP_NAMESPACES_LIMIT = 10_000

interface NamespaceState {
  tenant: string | null
  terminating: boolean
}

export class ClusterModel implements ClusterSnapshot {
  private readonly namespaces = new Map<string, NamespaceState>()
  private readonly lookedUp = new BoundedMap<string, string | null>(LOOKED_UP_NAMESPACES_LIMIT)
  /** credential-namespace Secrets by name, as last seen; folded into `credentials` by commitCredentials() */
  private readonly sources = new Map<string, SecretObject>()
  /**
   * The last usable reading of each source. A typo in a source (bad JSON, wrong type, no entries)
   * must not wipe that tenant's credentials from every namespace within seconds: the last good
   * reading is served, loudly, until the source is fixed, relabelled or deleted.
   */
  private readonly lastGood = new Map<string, CredentialSource>()
  private sourcesPending = false
  private credentials: CredentialState
  private issuesSignature = JSON.stringify([[], []])
  /** namespace → the Secret of the managed name there (ours, or a squatter's) */
  private readonly managed = new Map<string, StoredSecret>()

  constructor (private readonly options: ClusterModelOptions) {
    this.credentials = CredentialState.build([], options)
  }

  // ClusterSnapshot: what a review reads. Reading never changes the model.

  tenantOf (namespace: string): string | null | undefined {
    const known = this.namespaces.get(namespace)
    return known !== undefined ? known.tenant : this.lookedUp.get(namespace)
  }

  credentialsOf (tenant: string): MergedCredentials | undefined {
    return this.credentials.credentialsOf(tenant)
  }

  get registries (): RegistryIndex {
    return this.credentials.registries
  }

  /** the merged state as of the last commit */
  get credentialState (): CredentialState {
    return this.credentials
  }

  // Events. Each returns the namespaces whose managed Secret may have to change because of it.

  /**
   * A Namespace added or changed: reconcile it when its tenant changed, or when it is new and either
   * a tenant or already holding a copy of the managed Secret (seen before the namespace itself).
   */
  namespaceChanged (namespace: NamespaceObject): string[] {
    const name = namespace.metadata?.name
    if (name === undefined) return []
    this.lookedUp.delete(name)
    const tenant = tenantFromLabels(namespace.metadata?.labels, this.options.tenantLabel)
    const before = this.namespaces.get(name)
    this.namespaces.set(name, { tenant, terminating: namespace.status?.phase === 'Terminating' })
    const changed = before === undefined ? tenant !== null || this.managed.has(name) : before.tenant !== tenant
    return changed ? [name] : []
  }

  /** a Namespace is gone, and its Secrets with it (the namespace controller deletes them) */
  namespaceDeleted (name: string): void {
    this.namespaces.delete(name)
    this.lookedUp.delete(name)
    this.managed.delete(name)
  }

  /** the namespace's tenant comes from a live lookup, not (yet) from the informer */
  isLookedUp (name: string): boolean {
    return this.lookedUp.has(name)
  }

  /** a live GET answered for a namespace the informer has not delivered yet; the informer's word wins */
  namespaceLookedUp (name: string, tenant: string | null): void {
    if (!this.namespaces.has(name)) this.lookedUp.set(name, tenant)
  }

  /** a Secret in the credentials namespace added or changed; takes effect at the next commit */
  credentialSecretChanged (secret: SecretObject): void {
    const name = secret.metadata?.name
    if (name === undefined || secret.metadata?.namespace !== this.options.credentialsNamespace) return
    this.sources.set(name, secret)
    this.sourcesPending = true
  }

  credentialSecretDeleted (name: string): void {
    // Deleting a source removes its credentials: that is what an admin who deletes one means.
    this.lastGood.delete(name)
    if (this.sources.delete(name)) this.sourcesPending = true
  }

  /**
   * Folds pending credential events into the merged state: once per batch (a relist delivers many
   * events at once), never on the request path.
   */
  commitCredentials (): CredentialCommit | undefined {
    if (!this.sourcesPending) return undefined
    this.sourcesPending = false
    const previous = this.credentials
    const next = CredentialState.fromReadings(this.readSources(), this.options)
    this.credentials = next

    // A tenant's answer is computed once, not once per namespace.
    const changedByTenant = new Map<string, boolean>()
    const namespaces: string[] = []
    for (const [namespace, tenant] of this.tenantNamespaces()) {
      let changed = changedByTenant.get(tenant)
      if (changed === undefined) {
        changed = previous.credentialsOf(tenant)?.contentHash !== next.credentialsOf(tenant)?.contentHash
        changedByTenant.set(tenant, changed)
      }
      if (changed) namespaces.push(namespace)
    }
    let tenantsChanged = 0
    for (const changed of changedByTenant.values()) if (changed) tenantsChanged++

    const commit: CredentialCommit = { namespaces, tenantsChanged, sources: this.sources.size }
    const issues = next.issues()
    const signature = JSON.stringify([issues.conflicts, issues.problems])
    if (signature !== this.issuesSignature) {
      this.issuesSignature = signature
      commit.issues = issues
    }
    return commit
  }

  /** each source's reading; an unusable one replaced by its last good reading for the same owner */
  private * readSources (): Iterable<SourceReading | ServedReading> {
    for (const [name, secret] of this.sources) {
      const reading = readSource(secret, this.options)
      if (reading.kind === 'source') {
        this.lastGood.set(name, reading.source)
        yield reading
        continue
      }
      const last = this.lastGood.get(name)
      // A source relabelled (or unlabelled) no longer grants what it granted before, usable or not.
      if (reading.kind === 'ignored' || last === undefined || last.tenant !== reading.tenant) {
        this.lastGood.delete(name)
        yield reading
        continue
      }
      yield { kind: 'last-good', source: last, problems: reading.problems }
    }
  }

  /** the Secret of the managed name in a namespace, as stored (undefined: there is none) */
  managedSecretChanged (namespace: string, stored: StoredSecret | undefined): void {
    if (stored === undefined) this.managed.delete(namespace)
    else this.managed.set(namespace, stored)
  }

  // What the reconciler reads.

  managedSecret (namespace: string): StoredSecret | undefined {
    return this.managed.get(namespace)
  }

  /**
   * What the namespace's managed Secret should hold right now; null: it should not exist;
   * undefined: the model does not know the namespace (or it is terminating), so leave it alone.
   */
  desired (namespace: string): ManagedSecretSpec | null | undefined {
    const tenant = this.tenantOf(namespace)
    if (tenant === undefined || this.namespaces.get(namespace)?.terminating === true) return undefined
    if (tenant === null) return null
    const credentials = this.credentials.credentialsOf(tenant)
    if (credentials === undefined) return null
    return {
      namespace,
      name: this.options.managedSecretName,
      tenant,
      dockerConfigJson: credentials.dockerConfigJson,
      contentHash: credentials.contentHash
    }
  }

  /** every namespace a full pass re-checks: tenant namespaces, and any holding a managed copy */
  namespacesToResync (): string[] {
    const seen = new Set<string>()
    for (const [namespace] of this.tenantNamespaces()) seen.add(namespace)
    // A copy in a namespace that stopped being a tenant is removed even if that event was missed.
    for (const namespace of this.managed.keys()) seen.add(namespace)
    return [...seen]
  }

  /**
   * Every problem of the credential sources as of the last commit (each with the Secret's uid, for
   * Events regarding it), and the tenants left without credentials because of them: a tenant with
   * namespaces and no usable credentials while a source meant for it (its own or a shared one) is
   * unusable. A tenant that simply has no sources is an admin's choice, and reviews say so already.
   */
  credentialHealth (): CredentialHealth {
    const problems = this.credentials.problems.map(problem => {
      const uid = this.sources.get(problem.secret)?.metadata?.uid
      return uid === undefined ? problem : { ...problem, uid }
    })
    const brokenFor = new Map<string | null, string[]>()
    for (const problem of problems) {
      if (!UNUSABLE_SOURCE_REASONS.has(problem.reason)) continue
      const list = brokenFor.get(problem.tenant) ?? []
      if (!list.includes(problem.secret)) list.push(problem.secret)
      brokenFor.set(problem.tenant, list)
    }
    // per tenant, decided once: left without credentials (and why), or null: fine
    const tenants = new Map<string, TenantWithoutCredentials | null>()
    if (brokenFor.size > 0) {
      for (const [namespace, tenant] of this.tenantNamespaces()) {
        // an Event there would be refused: the namespace is going
        if (this.namespaces.get(namespace)?.terminating === true) continue
        let found = tenants.get(tenant)
        if (found === undefined) {
          const broken = [...brokenFor.get(tenant) ?? [], ...brokenFor.get(null) ?? []]
          found = broken.length === 0 || this.credentials.credentialsOf(tenant) !== undefined
            ? null
            : { tenant, namespaces: [], unusableSources: broken.sort() }
          tenants.set(tenant, found)
        }
        found?.namespaces.push(namespace)
      }
    }
    const without = [...tenants.values()].filter(found => found !== null)
    for (const found of without) found.namespaces.sort()
    return { problems, tenantsWithoutCredentials: without }
  }

  counts (): { namespaces: number, tenantNamespaces: number, managedSecrets: number } {
    let tenantNamespaces = 0
    for (const state of this.namespaces.values()) if (state.tenant !== null) tenantNamespaces++
    let managedSecrets = 0
    for (const stored of this.managed.values()) {
      if (stored.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) managedSecrets++
    }
    return { namespaces: this.namespaces.size, tenantNamespaces, managedSecrets }
  }

  private * tenantNamespaces (): Iterable<[string, string]> {
    for (const [namespace, state] of this.namespaces) if (state.tenant !== null) yield [namespace, state.tenant]
    for (const [namespace, tenant] of this.lookedUp) if (tenant !== null) yield [namespace, tenant]
  }
}
