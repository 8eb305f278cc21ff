#!/usr/bin/env node
// The installed `pullguard` binary: the command line (run.ts) on this process's streams.

import { runCommandLine } from './run.js'

// exitCode, never process.exit: the process ends once the event loop has written out the answer and
// the log (serve's is asynchronous). A running server exits through its own shutdown (src/server/serve.ts).
runCommandLine(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env })
  .then(code => { process.exitCode = code })
