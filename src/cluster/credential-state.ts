// Everything the admission path derives from the credential Secrets, computed once per change of
// those Secrets (never per review): merged credentials per tenant and the registry ownership index.

import {
  mergeTenantCredentials,
  type CredentialSource,
  type CredentialSourceOptions,
  type KeyConflict,
  type MergedCredentials,
  type SecretObject,
  type SourceReading
} from '../admission/credentials.js'
import { UNUSABLE_SOURCE_REASONS, type ConfigProblem, type CredentialProblemReason } from '../admission/credential-problems.js'
import type { AdmissionOptions } from '../admission/options.js'
import { RegistryIndex } from '../admission/registry-index.js'
import { readSource } from './tokens/source-reading.js'

export type CredentialStateOptions = CredentialSourceOptions & Pick<AdmissionOptions, 'publicRegistries'>

/** A source whose current version is unusable, served from its last good reading. */
export interface ServedReading {
  kind: 'last-good'
  source: CredentialSource
  /** why the current version cannot be used */
  problems: ConfigProblem[]
}

/** One problem of one source Secret, as logs, Events and the gauge report it. */
export interface CredentialProblem {
  /** the source Secret's name, in the credentials namespace */
  secret: string
  /** the source's tenant (for a conflict: the tenant whose merge it is); null: shared */
  tenant: string | null
  reason: CredentialProblemReason
  /** the entry's key by safeKeyScope (a header's name for HttpHeaderConflict), when the problem is one entry's */
  scope?: string
  /** what is wrong and what pullguard does about it, for people; never Secret data nor a raw key */
  message: string
}

export class CredentialState {
  private constructor (
    private readonly byTenant: Map<string, MergedCredentials>,
    private readonly sharedOnly: MergedCredentials | undefined,
    readonly registries: RegistryIndex,
    /** for logs: same key defined twice for one tenant, including a tenant's own key overriding a shared one */
    readonly conflicts: readonly KeyConflict[],
    /** every problem of every credential-labelled Secret, conflicts between sources of one standing included */
    readonly problems: readonly CredentialProblem[]
  ) {}

  static build (secrets: Iterable<SecretObject>, options: CredentialStateOptions): CredentialState {
    const readings: SourceReading[] = []
    for (const secret of secrets) readings.push(readSource(secret, options))
    return CredentialState.fromReadings(readings, options)
  }

  /** from sources already read (the cluster model substitutes last good readings for broken ones) */
  static fromReadings (readings: Iterable<SourceReading | ServedReading>, options: Pick<AdmissionOptions, 'publicRegistries'>): CredentialState {
    const sources: CredentialSource[] = []
    const problems: CredentialProblem[] = []
    const report = (secret: string, tenant: string | null, found: readonly ConfigProblem[], consequence: (problem: ConfigProblem) => string): void => {
      for (const problem of found) {
        problems.push({ secret, tenant, reason: problem.reason, ...(problem.scope !== undefined && { scope: problem.scope }), message: `${problem.detail}${consequence(problem)}` })
      }
    }
    const whole = (then: string) => (problem: ConfigProblem): string => UNUSABLE_SOURCE_REASONS.has(problem.reason) ? then : ''
    for (const reading of readings) {
      if (reading.kind === 'source') {
        sources.push(reading.source)
        report(reading.source.name, reading.source.tenant, reading.problems, () => '; left out of the merged Secret')
      } else if (reading.kind === 'invalid') {
        report(reading.name, reading.tenant, reading.problems, whole('; the Secret gives no credentials until it is fixed'))
      } else if (reading.kind === 'last-good') {
        sources.push(reading.source)
        report(reading.source.name, reading.source.tenant, reading.problems, whole('; its last good version stays in use until it is fixed or deleted'))
      }
    }
    const merged = mergeTenantCredentials(sources)
    const shared = new Set(sources.filter(source => source.tenant === null).map(source => source.name))
    for (const conflict of merged.conflicts) {
      // a tenant's own key over a shared one is the documented precedence (a tenant's own account on
      // a shared registry): logged with the conflicts, no problem
      if (conflict.tenant !== null && shared.has(conflict.dropped)) continue
      problems.push({
        secret: conflict.dropped,
        tenant: conflict.tenant,
        reason: 'RegistryKeyConflict',
        scope: conflict.key,
        message: `registry key ${JSON.stringify(conflict.key)} is also in Secret ${conflict.kept}, which wins (Secret name order); this entry is not used`
      })
    }
    for (const conflict of merged.headerConflicts) {
      if (conflict.tenant !== null && shared.has(conflict.dropped)) continue
      problems.push({
        secret: conflict.dropped,
        tenant: conflict.tenant,
        reason: 'HttpHeaderConflict',
        scope: conflict.header,
        message: `HttpHeaders ${JSON.stringify(conflict.header)} is also set by Secret ${conflict.kept}, which wins (Secret name order); this value is not used`
      })
    }
    const registries = RegistryIndex.build(merged.grants, options.publicRegistries)
    return new CredentialState(merged.byTenant, merged.sharedOnly, registries, merged.conflicts, problems)
  }

  /** own + shared; a tenant with only shared sources still gets them */
  credentialsOf (tenant: string): MergedCredentials | undefined {
    return this.byTenant.get(tenant) ?? this.sharedOnly
  }

  /** conflicts and problems as plain loggable records: names and scopes, never data */
  issues (): { conflicts: KeyConflict[], problems: CredentialProblem[] } {
    return {
      conflicts: this.conflicts.map(({ tenant, key, kept, dropped }) => ({ tenant, key, kept, dropped })),
      problems: this.problems.map(problem => ({ ...problem }))
    }
  }
}
