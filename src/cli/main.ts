#!/usr/bin/env node
// pullguard's command line: `review` answers one admission request, `serve` runs the webhook. Exit
// codes are in exit-codes.ts; an operator's mistake is a line on stderr, a stack trace means a bug.

import { ConfigError } from '../config/config.js'
import { closestName } from '../config/did-you-mean.js'
import { EXIT } from './exit-codes.js'
import { describeStartupError, StartupError } from './startup-error.js'
import { COMMANDS, usage } from './usage.js'
import { pullguardVersion } from './version.js'

async function main (command: string | undefined, rest: string[]): Promise<number> {
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    const topic = command === 'help' ? rest[0] : undefined
    process.stdout.write(usage(pullguardVersion(), topic))
    return command === undefined ? EXIT.usage : EXIT.ok
  }
  if (command === 'version' || command === '--version') {
    if (rest.length > 0) return usageError(`${command} takes no arguments, got ${rest.join(' ')}`, command)
    // Bare, for scripts: `pullguard --version` in a CI log or an image label.
    process.stdout.write(`${pullguardVersion()}\n`)
    return EXIT.ok
  }
  const beforeTerminator = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest
  if (beforeTerminator.includes('--help') || beforeTerminator.includes('-h')) {
    process.stdout.write(usage(pullguardVersion(), command))
    return EXIT.ok
  }
  switch (command) {
    // Each command loads only its own path: Fastify, prom-client and the TLS stack cost `review` a
    // second or more, and `serve` has no use for the review's output formats.
    case 'review': return await (await import('./review-command.js')).runReview(rest)
    case 'serve': return await (await import('./serve-command.js')).runServe(rest)
    case 'status': return await (await import('./status-command.js')).runStatus(rest)
    case 'explain': return await (await import('./explain-command.js')).runExplain(rest)
    default: {
      const meant = closestName(command, COMMANDS.filter(name => name !== 'help'))
      return usageError(`unknown command ${JSON.stringify(command)}${meant === undefined ? '' : `; did you mean ${meant}?`}`)
    }
  }
}

function usageError (message: string, command?: string): number {
  process.stderr.write(`pullguard: ${message}\n${hint(command)}`)
  return EXIT.usage
}

const hint = (command?: string): string =>
  `Run \`pullguard ${command === 'review' || command === 'serve' ? `${command} ` : ''}--help\` for usage.\n`

// exitCode, never process.exit: the process ends once the event loop has written out the answer and
// the log (serve's is asynchronous). A running server exits through its own shutdown (src/server/serve.ts).
const [command, ...rest] = process.argv.slice(2)
main(command, rest).then(
  code => { process.exitCode = code },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`pullguard: ${error.message}\n${hint(command)}`)
      process.exitCode = EXIT.usage
      return
    }
    const line = error instanceof StartupError ? error.message : describeStartupError(error)
    if (line !== undefined) {
      process.stderr.write(`pullguard: ${line}\n`)
    } else if (error instanceof Error && error.name === 'KeyPairError') {
      // A bad certificate file is the operator's to fix, not a bug: its message, without a stack.
      process.stderr.write(`pullguard: ${error.message}\n`)
    } else {
      process.stderr.write(`pullguard: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    }
    process.exitCode = EXIT.failure
  }
)
