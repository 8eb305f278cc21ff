// `pullguard --help` and `pullguard COMMAND --help`: every flag with its default, its variable and an
// example, generated from the settings table and each command's own flags so that it cannot drift.

import { DEFAULT_CONFIG, envOf, flagOf, SETTINGS, type Command, type CommandFlag, type CommandLine } from '../config/config.js'
import { EXIT } from './exit-codes.js'
import { inspectUsage } from './inspect-usage.js'
import { POD_TEMPLATE_KINDS } from './pod-input.js'
import { REVIEW_COMMAND_LINE } from './review-flags.js'

export const COMMANDS = ['review', 'serve', 'status', 'explain', 'version', 'help'] as const

const COMMAND_LINES: Record<Command, CommandLine> = { review: REVIEW_COMMAND_LINE, serve: {} }

const ABOUT: Record<Command, { synopsis: string, description: string, exitCodes: string, examples: string[] }> = {
  review: {
    synopsis: 'pullguard review --objects FILE [flags] [MANIFEST | -]',
    description: 'Answers one admission request as the webhook would, without a server, and prints the answer on\n' +
      'stdout (logs go to stderr). MANIFEST (stdin when absent or -), YAML or JSON, is an AdmissionReview,\n' +
      `a Pod, or a ${Object.keys(POD_TEMPLATE_KINDS).join(', ')}:\n` +
      'reviewed as the Pod its template makes, CREATEd in its namespace.',
    exitCodes: `${EXIT.ok} answered (allowed, or denied without --fail-on-deny); ${EXIT.failure} an objects file unusable;\n` +
      `  ${EXIT.usage} a wrong call or a malformed manifest; ${EXIT.denied} denied, with --fail-on-deny`,
    examples: [
      'pullguard review --objects examples/standalone/cluster.yaml examples/workloads/deployment.yaml -o patch',
      'pullguard review --objects examples/standalone/cluster.yaml -n team-a -o patched < pod.yaml',
      'pullguard review --objects cluster.yaml --fail-on-deny --foreign-registry-policy deny cronjob.yaml',
      'pullguard review --objects examples/standalone/cluster.yaml < examples/pod-create-review.json'
    ]
  },
  serve: {
    synopsis: 'pullguard serve [--objects FILE ...] [flags]',
    description: 'Runs the webhook over HTTPS (POST /mutate, GET /healthz, GET /readyz) and /metrics over HTTP.\n' +
      'With --objects: standalone mode, the cluster view from manifests. Without: live mode, watching the cluster.',
    exitCodes: `${EXIT.ok} shut down on SIGTERM/SIGINT; ${EXIT.failure} a start failure (one line on stderr naming the flag) or a\n` +
      `  crash; ${EXIT.usage} invalid settings`,
    examples: [
      'pullguard serve --objects examples/standalone/cluster.yaml --host 127.0.0.1     # standalone, self-signed',
      'pullguard serve --tls-cert /tls/tls.crt --tls-key /tls/tls.key                  # in a cluster',
      'pullguard serve --kubeconfig ~/.kube/config --host 127.0.0.1                     # live, from a laptop'
    ]
  }
}

// The value's name in usage; by key, falling back to the setting's kind.
const PLACEHOLDERS: Readonly<Record<string, string>> = {
  objects: 'FILE',
  tlsCert: 'FILE',
  tlsKey: 'FILE',
  kubeconfig: 'FILE',
  foreignRegistryPolicy: 'warn|deny|ignore',
  publicRegistries: 'HOST,...',
  alwaysPullExempt: 'REPO,...',
  tenantLabel: 'KEY',
  credentialsNamespace: 'NAMESPACE',
  leaderElectionNamespace: 'NAMESPACE',
  logLevel: 'LEVEL',
  host: 'ADDRESS'
}
const KIND_PLACEHOLDERS = { string: 'NAME', list: 'A,B', integer: 'N', boolean: 'true|false' } as const

const COLUMN = 40
const WIDTH = 110

export function usage (version: string, command?: string): string {
  if (command === 'review' || command === 'serve') return commandUsage(command)
  if (command === 'status' || command === 'explain') return `Usage:\n${inspectUsage(command)}`
  return [
    `pullguard ${version}: per-tenant image pull credentials and imagePullPolicy Always, as a mutating webhook`,
    '',
    'Usage:',
    `  ${'pullguard review --objects FILE [MANIFEST]'.padEnd(COLUMN + 4)}answer one admission request, no server`,
    `  ${'pullguard serve [--objects FILE]'.padEnd(COLUMN + 4)}run the webhook`,
    `  ${'pullguard status (--objects FILE | --kubeconfig FILE)'.padEnd(COLUMN + 4)}what needs attention (exit 4 if anything)`,
    `  ${'pullguard explain --objects FILE [MANIFEST]'.padEnd(COLUMN + 4)}why a Pod gets credentials and Always, or is denied`,
    `  ${'pullguard version'.padEnd(COLUMN + 4)}print the version (also --version)`,
    '',
    'Run `pullguard COMMAND --help` for its flags, their defaults, and examples.',
    ''
  ].join('\n')
}

function commandUsage (command: Command): string {
  const about = ABOUT[command]
  const lines = [`Usage: ${about.synopsis}`, '', about.description, '']
  const flags = COMMAND_LINES[command].flags ?? []
  if (flags.length > 0) {
    lines.push('Flags:')
    for (const flag of flags) lines.push(...describeCommandFlag(flag))
    lines.push('')
  }
  lines.push('Settings (each also a PULLGUARD_* variable and a camelCase key of the --config file):')
  for (const setting of SETTINGS.filter(s => s.commands.includes(command))) {
    const placeholder = PLACEHOLDERS[setting.key] ?? KIND_PLACEHOLDERS[setting.kind]
    const byDefault = defaultOf(DEFAULT_CONFIG[setting.key], setting.help)
    lines.push(...entry(`${flagOf(setting.key)} ${placeholder}`, setting.help,
      [...(byDefault === undefined ? [] : [`default ${byDefault}`]), `env ${envOf(setting.key)}`]))
  }
  lines.push(...entry('--config FILE', 'YAML file of the settings above', ['env PULLGUARD_CONFIG']))
  lines.push(...entry('-h, --help', 'this text', []))
  lines.push('', `Exit codes: ${about.exitCodes}`, '', 'Examples:', ...about.examples.map(example => `  ${example}`), '')
  return lines.join('\n')
}

function describeCommandFlag (flag: CommandFlag): string[] {
  const name = `${flag.short === undefined ? '    ' : `-${flag.short}, `}--${flag.name}`
  const spelled = flag.kind === 'boolean' ? name : `${name} ${flag.placeholder ?? 'VALUE'}`
  return entry(spelled, flag.help, flag.default === undefined ? [] : [`default ${flag.default}`])
}

/**
 * The flag, then its help and details wrapped in the second column (on the next line if the flag is too
 * long). A detail (`default X`, `env Y`) is never split.
 */
function entry (spelled: string, help: string, details: readonly string[]): string[] {
  const indent = ' '.repeat(COLUMN)
  const text = [...wrap(help.split(' '), ' '), ...(details.length === 0 ? [] : wrap(details, ', '))].map(line => `${indent}${line}`)
  const fits = spelled.length <= COLUMN - 4
  if (!fits) return [`  ${spelled}`, ...text]
  return [`  ${spelled.padEnd(COLUMN - 2)}${text[0]?.trimStart() ?? ''}`, ...text.slice(1)]
}

function wrap (words: readonly string[], separator: string): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of words) {
    if (line !== '' && COLUMN + line.length + separator.length + word.length > WIDTH) {
      lines.push(separator === ' ' ? line : `${line}${separator.trimEnd()}`)
      line = word
    } else {
      line = line === '' ? word : `${line}${separator}${word}`
    }
  }
  return [...lines, line]
}

function defaultOf (value: unknown, help: string): string | undefined {
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.join(',')
  if (value !== undefined) return String(value)
  // The help text says what an absent value means ("self-signed if absent", "default: POD_NAME, ...").
  return /default|absent|else/.test(help) ? undefined : 'none'
}
