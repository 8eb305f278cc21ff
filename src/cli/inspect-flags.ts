// The command lines of `status` and `explain`, which look at a cluster rather than serve one. The
// settings they share with `review` (--objects, --credentials-namespace, --tenant-label…) go through
// loadConfig, so their environment variables, --config file and validation are review's; the flags
// that only say what this look reads or prints are parsed here.

import { parseArgs } from 'node:util'
import { ConfigError, loadConfig, type Config } from '../config/config.js'

export interface InspectFlag {
  name: string
  short?: string
  kind: 'string' | 'boolean'
  help: string
  default?: string
  choices?: readonly string[]
}

export interface InspectCommandLine {
  config: Config
  flags: Record<string, string | boolean | undefined>
  positionals: string[]
}

export const OUTPUT_FLAG: InspectFlag = { name: 'output', short: 'o', kind: 'string', default: 'table', choices: ['table', 'json'], help: 'table | json' }
export const KUBECONFIG_FLAG: InspectFlag = { name: 'kubeconfig', kind: 'string', help: 'read the live cluster (read-only) with this kubeconfig instead of --objects' }

/** Splits argv into this command's own flags and review's settings, and reports every problem at once. */
export function parseInspectCommandLine (command: string, own: readonly InspectFlag[], maxPositionals: number, argv: readonly string[], env: NodeJS.ProcessEnv): InspectCommandLine {
  const options: Record<string, { type: 'string' | 'boolean', short?: string }> = {}
  for (const flag of own) options[flag.name] = { type: flag.kind, ...(flag.short !== undefined && { short: flag.short }) }
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true })
  const flags: Record<string, string | boolean | undefined> = {}
  const settings: string[] = []
  const positionals: string[] = []
  const problems: string[] = []
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]
    if (token === undefined || token.kind === 'option-terminator') continue
    if (token.kind === 'positional') {
      positionals.push(token.value)
      continue
    }
    const flag = own.find(f => f.name === token.name)
    if (flag === undefined) {
      // a setting (or a mistake loadConfig names): handed over with its value
      settings.push(token.rawName)
      if (token.value !== undefined) {
        if (token.inlineValue === true) settings[settings.length - 1] += `=${token.value}`
        else settings.push(token.value)
      } else if (tokens[i + 1]?.kind === 'positional' && tokens[i + 1]?.index === token.index + 1) {
        settings.push((tokens[++i] as { value: string }).value)
      }
      continue
    }
    if (flag.kind === 'boolean') flags[flag.name] = true
    else if (token.value === undefined) problems.push(`${token.rawName}: needs a value`)
    else flags[flag.name] = token.value
  }
  for (const extra of positionals.slice(maxPositionals)) problems.push(`unexpected argument ${JSON.stringify(extra)}`)
  for (const flag of own) {
    flags[flag.name] ??= flag.default
    const value = flags[flag.name]
    if (flag.choices !== undefined && typeof value === 'string' && !flag.choices.includes(value)) {
      problems.push(`--${flag.name}: ${JSON.stringify(value)} is not one of ${flag.choices.join(', ')}`)
    }
  }
  let config: Config | undefined
  try {
    config = loadConfig('review', settings, env).config
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    problems.push(...error.problems.map(problem => problem.replace(/ for review\b/, ` for ${command}`)))
  }
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems)
  return { config, flags, positionals: positionals.slice(0, maxPositionals) }
}
