// `pullguard status` for people: one table per concern, then what needs attention. `-o json` prints
// the StatusReport itself.

import type { StatusReport } from '../cluster/status-report.js'
import { table } from './table.js'

export function renderStatusTable (report: StatusReport, managedSecretName: string): string {
  const shared = new Set(report.sources.filter(source => source.tenant === null).map(source => source.name))
  const sections: string[] = []

  sections.push(table(['TENANT', 'NAMESPACES', 'CREDENTIALS (precedence order)'], report.tenants.map(tenant => [
    tenant.tenant,
    tenant.namespaces.join(','),
    tenant.sources.length === 0
      ? (tenant.withoutCredentials ? 'none: its sources are unusable' : 'none')
      : tenant.sources.map(name => shared.has(name) ? `${name} (shared)` : name).join(', ')
  ])))

  sections.push(report.sources.length === 0
    ? 'CREDENTIAL SOURCES: none'
    : table(['SOURCE', 'FOR', 'HEALTH', 'KEYS', 'PROBLEMS'], report.sources.map(source => [
      source.name,
      source.tenant ?? '(shared)',
      source.health,
      source.keys.length === 0 ? '-' : source.keys.join(','),
      source.problems.length === 0 ? '-' : source.problems.map(p => p.scope === undefined ? p.reason : `${p.reason} ${JSON.stringify(p.scope)}`).join(', ')
    ])))

  sections.push(table([`NAMESPACE`, 'TENANT', `SECRET ${managedSecretName}`, 'DETAIL'], report.managedSecrets.map(secret => [
    secret.namespace, secret.tenant ?? '-', secret.state, secret.detail
  ])))

  const leader = report.leader
  const certificate = report.certificate
  sections.push([
    `leader:       ${leader.state === 'held'
      ? `${leader.holder}, renewed ${leader.renewTime} (${leader.secondsSinceRenew} s ago, lease ${leader.leaseDurationSeconds} s)${leader.expired ? ': EXPIRED' : ''}`
      : `${leader.state.replace('-', ' ')}: ${leader.detail}`}`,
    `certificate:  ${certificate.state === 'not-checked'
      ? `not checked: ${certificate.detail}`
      : certificate.state === 'unreadable'
        ? `unreadable: ${certificate.detail}`
        : `${certificate.state}, notAfter ${certificate.notAfter} (${certificate.daysLeft} days left), ${certificate.subject} from ${certificate.source}`}`,
    ...report.inputs.map(input => `read:         ${input.name} from ${input.from}, as of ${input.readAt} (${input.ageSeconds} s ago${input.resourceVersion !== undefined ? `, resourceVersion ${input.resourceVersion}` : ''})`),
    ...report.notes.map(note => `note:         ${note}`)
  ].join('\n'))

  sections.push(report.attention.length === 0
    ? 'all well: nothing needs attention'
    : [`needs attention (${report.attention.length}):`, ...report.attention.map(item => `  - ${item}`)].join('\n'))
  return `${sections.join('\n\n')}\n`
}
