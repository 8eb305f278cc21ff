// What is wrong with the credential sources right now, as the cluster model says: plain data, no
// I/O. The live view turns it into Events (credential-events.ts); both views export it as the gauge
// pullguard_credential_source_problems (credential-metrics.ts); standalone mode prints it at start.

import type { CredentialProblemReason } from '../admission/credential-problems.js'
import type { CredentialProblem } from './credential-state.js'

export interface SourceProblem extends CredentialProblem {
  /** the Secret's uid, when the model has it (live mode): Events regarding it name it */
  uid?: string
}

/** A tenant with namespaces and no usable credentials, because sources meant for it are unusable. */
export interface TenantWithoutCredentials {
  tenant: string
  /** its namespaces, sorted; terminating ones left out */
  namespaces: string[]
  /** its own and shared sources that are unusable, sorted */
  unusableSources: string[]
}

export interface CredentialHealth {
  problems: SourceProblem[]
  tenantsWithoutCredentials: TenantWithoutCredentials[]
}

/**
 * The gauge's tenant label for a shared source's problems. Not a valid label value, so no tenant can
 * be named so.
 */
export const SHARED_TENANT = '(shared)'

export interface ProblemCount {
  tenant: string
  reason: CredentialProblemReason
  count: number
}

/** problems per tenant and reason; a tenant without credentials counts once under TenantWithoutCredentials */
export function problemCounts (health: CredentialHealth): ProblemCount[] {
  const counts = new Map<string, ProblemCount>()
  const add = (tenant: string, reason: CredentialProblemReason): void => {
    const key = `${tenant}\u0000${reason}`
    const found = counts.get(key)
    if (found === undefined) counts.set(key, { tenant, reason, count: 1 })
    else found.count++
  }
  for (const problem of health.problems) add(problem.tenant ?? SHARED_TENANT, problem.reason)
  for (const { tenant } of health.tenantsWithoutCredentials) add(tenant, 'TenantWithoutCredentials')
  return [...counts.values()]
}
