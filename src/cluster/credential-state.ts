// Everything the admission path derives from the credential Secrets, computed once per change of
// those Secrets (never per review): merged credentials per tenant and the registry ownership index.

import {
  mergeTenantCredentials,
  readCredentialSource,
  type CredentialSource,
  type CredentialSourceOptions,
  type KeyConflict,
  type MergedCredentials,
  type SecretObject,
  type SourceReading
} from '../admission/credentials.js'
import type { AdmissionOptions } from '../admission/options.js'
import { RegistryIndex } from '../admission/registry-index.js'

export type CredentialStateOptions = CredentialSourceOptions & Pick<AdmissionOptions, 'publicRegistries'>

/** A source whose current version is unusable, served from its last good reading. */
export interface ServedReading {
  kind: 'last-good'
  source: CredentialSource
  /** why the current version cannot be used */
  reason: string
}

export interface CredentialProblem {
  secret: string
  reason: string
}

export class CredentialState {
  private constructor (
    private readonly byTenant: Map<string, MergedCredentials>,
    private readonly sharedOnly: MergedCredentials | undefined,
    readonly registries: RegistryIndex,
    /** for logs: same key defined twice for one tenant */
    readonly conflicts: readonly KeyConflict[],
    /** for logs: credential-labelled Secrets that could not be used */
    readonly problems: readonly CredentialProblem[]
  ) {}

  static build (secrets: Iterable<SecretObject>, options: CredentialStateOptions): CredentialState {
    const readings: SourceReading[] = []
    for (const secret of secrets) readings.push(readCredentialSource(secret, options))
    return CredentialState.fromReadings(readings, options)
  }

  /** from sources already read (the cluster model substitutes last good readings for broken ones) */
  static fromReadings (readings: Iterable<SourceReading | ServedReading>, options: Pick<AdmissionOptions, 'publicRegistries'>): CredentialState {
    const sources: CredentialSource[] = []
    const problems: CredentialProblem[] = []
    for (const reading of readings) {
      if (reading.kind === 'source') sources.push(reading.source)
      else if (reading.kind === 'invalid') problems.push({ secret: reading.name, reason: reading.reason })
      else if (reading.kind === 'last-good') {
        sources.push(reading.source)
        problems.push({ secret: reading.source.name, reason: `${reading.reason}; its last good version stays in use until it is fixed or deleted` })
      }
    }
    const merged = mergeTenantCredentials(sources)
    const registries = RegistryIndex.build(merged.grants, options.publicRegistries)
    for (const key of registries.invalidKeys) problems.push({ secret: '(auths key)', reason: `unparseable registry key ${JSON.stringify(key)}` })
    return new CredentialState(merged.byTenant, merged.sharedOnly, registries, merged.conflicts, problems)
  }

  /** own + shared; a tenant with only shared sources still gets them */
  credentialsOf (tenant: string): MergedCredentials | undefined {
    return this.byTenant.get(tenant) ?? this.sharedOnly
  }

  /** conflicts and unusable sources as plain loggable records: names and keys, never data */
  issues (): { conflicts: KeyConflict[], problems: CredentialProblem[] } {
    return {
      conflicts: this.conflicts.map(({ tenant, key, kept, dropped }) => ({ tenant, key, kept, dropped })),
      problems: this.problems.map(({ secret, reason }) => ({ secret, reason }))
    }
  }
}
