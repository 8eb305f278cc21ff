// Standalone mode reads its cluster once: one line at start says what it loaded, what it ignored and
// why, and every credential problem (the same ones live mode turns into Events).

import type { StaticClusterView } from '../cluster/static-view.js'
import type { Logger } from '../logging.js'

// the line names this many problems; the structured `problems` field has them all
const PROBLEMS_NAMED = 10

export interface StartupSummary {
  level: 'info' | 'warn'
  message: string
  fields: Record<string, unknown>
}

/** The summary of a standalone view, as data (tests read it without a logger). */
export function standaloneSummary (view: StaticClusterView): StartupSummary {
  const { summary } = view
  const health = view.model.credentialHealth()
  const counted = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`

  let message = `loaded ${counted(summary.namespaces, 'namespace')}, ${counted(summary.tenants, 'tenant')}, ` +
    `${counted(summary.credentialSecrets, 'credential Secret')}`
  if (summary.managedSecrets > 0) message += `, ${counted(summary.managedSecrets, 'managed Secret')}`
  let ignored = 0
  for (const count of summary.ignored.values()) ignored += count
  message += `; ${ignored} ignored`
  if (ignored > 0) message += `: ${[...summary.ignored].map(([why, count]) => `${why} (${count})`).join(', ')}`

  const named = [
    ...health.problems.map(p => `Secret ${p.secret} ${p.reason}${p.scope !== undefined ? ` ${JSON.stringify(p.scope)}` : ''}`),
    ...health.tenantsWithoutCredentials.map(t => `tenant ${t.tenant} TenantWithoutCredentials`)
  ]
  if (named.length > 0) {
    const more = named.length - PROBLEMS_NAMED
    message += `; ${counted(named.length, 'credential problem')}: ${named.slice(0, PROBLEMS_NAMED).join(', ')}${more > 0 ? ` and ${more} more` : ''}`
  }

  const { conflicts } = view.credentials.issues()
  const fields: Record<string, unknown> = {
    namespaces: summary.namespaces,
    tenants: summary.tenants,
    credentialSecrets: summary.credentialSecrets,
    managedSecrets: summary.managedSecrets,
    ignored: Object.fromEntries(summary.ignored),
    // names, reasons, scopes and messages: never Secret data nor raw keys
    ...(health.problems.length > 0 && { problems: health.problems }),
    ...(health.tenantsWithoutCredentials.length > 0 && { tenantsWithoutCredentials: health.tenantsWithoutCredentials }),
    // includes a tenant's own key overriding a shared one: the documented precedence, worth a look
    ...(conflicts.length > 0 && { conflicts })
  }
  return { level: named.length > 0 ? 'warn' : 'info', message, fields }
}

export function logStandaloneSummary (logger: Logger, view: StaticClusterView): void {
  const { level, message, fields } = standaloneSummary(view)
  logger[level](fields, message)
}
