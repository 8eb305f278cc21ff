import { envOf, flagOf, SETTINGS, type Command } from '../config/config.js'
import { inspectUsage } from './inspect-usage.js'

const SUMMARY: Record<Command, string> = {
  review: 'pullguard review --objects FILE [--objects FILE ...] [options] < review.json\n' +
    '  Reads one AdmissionReview on stdin and prints the answer on stdout.',
  serve: 'pullguard serve [--objects FILE ...] [options]\n' +
    '  Runs the webhook over HTTPS (POST /mutate, GET /healthz, GET /readyz) and /metrics over HTTP.\n' +
    '  With --objects: standalone mode from manifests. Without: live mode against the cluster.'
}

export function usage (command?: string): string {
  if (command === 'status' || command === 'explain') return `Usage:\n${inspectUsage(command)}`
  const commands: Command[] = command === 'review' || command === 'serve' ? [command] : ['review', 'serve']
  const lines = ['Usage:']
  for (const name of commands) {
    lines.push(`  ${SUMMARY[name].split('\n').join('\n  ')}`, '')
    for (const setting of SETTINGS.filter(s => s.commands.includes(name))) {
      lines.push(`    ${flagOf(setting.key).padEnd(30)} ${setting.help} [${envOf(setting.key)}]`)
    }
    lines.push(`    ${'--config FILE'.padEnd(30)} YAML file of the settings above, camelCase keys [PULLGUARD_CONFIG]`, '')
  }
  return `${lines.join('\n')}\n${inspectUsage()}`
}
