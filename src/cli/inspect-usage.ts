// Usage of `status` and `explain`, from their flag tables; their shared settings are review's.

import { EXPLAIN_FLAGS } from './explain-command.js'
import type { InspectFlag } from './inspect-flags.js'
import { STATUS_EXIT, STATUS_FLAGS } from './status-command.js'

const ABOUT = {
  status: 'pullguard status (--objects FILE ... | --kubeconfig FILE) [flags]\n' +
    '  Tenants, credential sources and their health, managed Secrets, the leader, the certificate.\n' +
    `  Exit ${STATUS_EXIT.ok}: all well; ${STATUS_EXIT.attention}: something needs attention; ${STATUS_EXIT.failure}: could not read; ${STATUS_EXIT.usage}: wrong call.`,
  explain: 'pullguard explain (--objects FILE ... | --kubeconfig FILE) [flags] [MANIFEST | -]\n' +
    '  Why a Pod or workload (YAML or JSON; stdin when absent or -) gets credentials and Always, or is denied.'
} as const

export function inspectUsage (command?: string): string {
  const commands: Array<keyof typeof ABOUT> = command === 'status' || command === 'explain' ? [command] : ['status', 'explain']
  const lines: string[] = []
  for (const name of commands) {
    lines.push(`  ${ABOUT[name].split('\n').join('\n  ')}`, '')
    const flags: readonly InspectFlag[] = name === 'status' ? STATUS_FLAGS : EXPLAIN_FLAGS
    for (const flag of flags) {
      const spelled = `${flag.short !== undefined ? `-${flag.short}, ` : ''}--${flag.name}`
      lines.push(`    ${spelled.padEnd(30)} ${flag.help}${flag.default !== undefined ? ` (default ${flag.default})` : ''}`)
    }
    lines.push(`    ${'(review\'s settings)'.padEnd(30)} --objects, --credentials-namespace, --managed-secret-name, --tenant-label, ...`, '')
  }
  return `${lines.join('\n')}\n`
}
