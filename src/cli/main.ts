#!/usr/bin/env node
// pullguard's command line: `review` answers one AdmissionReview from stdin, `serve` runs the webhook.

import { ConfigError } from '../config/config.js'
import { ManifestError } from '../cluster/static-view.js'
import { runReview, UsageError } from './review-command.js'
import { usage } from './usage.js'

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(usage())
    return command === undefined ? 2 : 0
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(usage(command))
    return 0
  }
  switch (command) {
    case 'review': return await runReview(rest)
    // Loaded only for serve: Fastify, prom-client and the TLS stack cost `review` a second or more.
    case 'serve': return await (await import('./serve-command.js')).runServe(rest)
    case 'status': return await (await import('./status-command.js')).runStatus(rest)
    case 'explain': return await (await import('./explain-command.js')).runExplain(rest)
    default:
      process.stderr.write(`pullguard: unknown command ${JSON.stringify(command)}\n\n${usage()}`)
      return 2
  }
}

// exitCode, never process.exit: the process ends once the event loop has written out the answer and
// the log (serve's is asynchronous). A running server exits through its own shutdown (src/server/serve.ts).
main(process.argv.slice(2)).then(
  code => { process.exitCode = code },
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof UsageError) {
      process.stderr.write(`pullguard: ${error.message}\n`)
      process.exitCode = 2
    } else if (error instanceof ManifestError) {
      process.stderr.write(`pullguard: objects file ${error.message}\n`)
      process.exitCode = 1
    } else if (error instanceof Error && error.name === 'KeyPairError') {
      // A bad certificate file is the operator's to fix, not a bug: its message, without a stack.
      process.stderr.write(`pullguard: ${error.message}\n`)
      process.exitCode = 1
    } else {
      process.stderr.write(`pullguard: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
      process.exitCode = 1
    }
  }
)
