// Runs pullguard's command line two ways, with one result shape: the exit code and everything printed.
// - runCli: in this process, through runCommandLine with captured streams. The table tests use it: a
//   Node.js start per row cost ~0.5–1 s of CPU and most of the suite's time.
// - spawnCli: the built CLI (npm test builds first), as an admin's script runs it. For what only a
//   process shows: the exit code reaching the shell, a large answer through a pipe, the bin entry.

import { spawn } from 'node:child_process'
import { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { runCommandLine } from '../../src/cli/run.js'
import { childEnv } from './child-env.js'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

export interface CliRun { code: number | null, stdout: string, stderr: string }

export async function runCli (args: readonly string[], stdin = '', env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  // The fixtures' paths are relative to the repository, as for the spawned CLI (cwd REPO_ROOT).
  if (`${process.cwd()}/` !== REPO_ROOT) throw new Error(`run the tests from ${REPO_ROOT} (cwd is ${process.cwd()})`)
  const stdout = capture()
  const stderr = capture()
  const code = await runCommandLine(args, {
    stdin: Readable.from(stdin === '' ? [] : [Buffer.from(stdin)]),
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: { ...process.env, ...env }
  })
  return { code, stdout: stdout.text(), stderr: stderr.text() }
}

export function spawnCli (args: readonly string[], stdin = '', env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: childEnv(env) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', chunk => { stdout += chunk })
    child.stderr.on('data', chunk => { stderr += chunk })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
    child.stdin.end(stdin)
  })
}

function capture (): { stream: Writable, text: () => string } {
  const chunks: Buffer[] = []
  const stream = new Writable({
    write (chunk: Buffer | string, _encoding, done) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
      done()
    }
  })
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') }
}
