// pullguard's command line, minus the process: `review` answers one admission request, `serve` runs the
// webhook, `status` and `explain` look at a cluster. Exit codes are in exit-codes.ts; an operator's
// mistake is a line on stderr, a stack trace means a bug. main.ts hands it the process's streams.

import { ConfigError } from '../config/config.js'
import { closestName } from '../config/did-you-mean.js'
import type { CliIo } from './cli-io.js'
import { EXIT } from './exit-codes.js'
import { describeStartupError, StartupError } from './startup-error.js'
import { COMMANDS, usage } from './usage.js'
import { pullguardVersion } from './version.js'

/** Runs one command line to its exit code; never rejects. */
export async function runCommandLine (argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv
  try {
    return await dispatch(command, rest, io)
  } catch (error) {
    io.stderr.write(`pullguard: ${failureLine(error)}\n${error instanceof ConfigError ? hint(command) : ''}`)
    return error instanceof ConfigError ? EXIT.usage : EXIT.failure
  }
}

async function dispatch (command: string | undefined, rest: string[], io: CliIo): Promise<number> {
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    const topic = command === 'help' ? rest[0] : undefined
    io.stdout.write(usage(pullguardVersion(), topic))
    return command === undefined ? EXIT.usage : EXIT.ok
  }
  if (command === 'version' || command === '--version') {
    if (rest.length > 0) return usageError(io, `${command} takes no arguments, got ${rest.join(' ')}`, command)
    // Bare, for scripts: `pullguard --version` in a CI log or an image label.
    io.stdout.write(`${pullguardVersion()}\n`)
    return EXIT.ok
  }
  const beforeTerminator = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest
  if (beforeTerminator.includes('--help') || beforeTerminator.includes('-h')) {
    io.stdout.write(usage(pullguardVersion(), command))
    return EXIT.ok
  }
  switch (command) {
    // Each command loads only its own path: Fastify, prom-client and the TLS stack cost `review` a
    // second or more, and `serve` has no use for the review's output formats.
    case 'review': return await (await import('./review-command.js')).runReview(rest, io)
    case 'serve': return await (await import('./serve-command.js')).runServe(rest, io)
    case 'status': return await (await import('./status-command.js')).runStatus(rest, io)
    case 'explain': return await (await import('./explain-command.js')).runExplain(rest, io)
    default: {
      const meant = closestName(command, COMMANDS.filter(name => name !== 'help'))
      return usageError(io, `unknown command ${JSON.stringify(command)}${meant === undefined ? '' : `; did you mean ${meant}?`}`)
    }
  }
}

function failureLine (error: unknown): string {
  if (error instanceof ConfigError || error instanceof StartupError) return error.message
  const line = describeStartupError(error)
  if (line !== undefined) return line
  // A bad certificate file is the operator's to fix, not a bug: its message, without a stack.
  if (error instanceof Error && error.name === 'KeyPairError') return error.message
  return error instanceof Error ? (error.stack ?? error.message) : String(error)
}

function usageError (io: CliIo, message: string, command?: string): number {
  io.stderr.write(`pullguard: ${message}\n${hint(command)}`)
  return EXIT.usage
}

const hint = (command?: string): string =>
  `Run \`pullguard ${command === 'review' || command === 'serve' ? `${command} ` : ''}--help\` for usage.\n`
