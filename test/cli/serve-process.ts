// Runs `pullguard serve` from the built CLI (npm test builds first) as a process that stays up, and
// reads what it logs on stdout.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { request } from 'node:https'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { childEnv } from '../support/child-env.js'
import { CLI, REPO_ROOT } from '../support/cli.js'

const BUSY_THREADPOOL = fileURLToPath(new URL('./fixtures/busy-threadpool.mjs', import.meta.url))

export const STANDALONE = ['serve', '--objects', 'examples/standalone/cluster.yaml', '--host', '127.0.0.1', '--metrics-port', '0']
// For tests about answers and exits rather than the drain (serve-drain.test.ts): exit at once on SIGTERM
// instead of after the default 5 s delay.
export const NO_DRAIN_DELAY = ['--shutdown-delay-seconds', '0']

export interface LogLine { level: string, msg: string, err?: { message: string } }

export interface Run {
  child: ChildProcessWithoutNullStreams
  /** every line on stdout so far */
  output: () => string
  /** exit code, once stdout and stderr have ended: every line the process wrote is in output() then */
  closed: Promise<number | null>
  stderr: () => string
}

/** busyThreadpool: see fixtures/busy-threadpool.mjs (SIGTERM and stdin then hold the thread pool) */
export function run (t: Test, args: string[], { busyThreadpool = false } = {}): Run {
  const child = busyThreadpool
    ? spawn(process.execPath, ['--import', BUSY_THREADPOOL, CLI, ...args], { cwd: REPO_ROOT, env: childEnv({ UV_THREADPOOL_SIZE: '1' }) })
    : spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: childEnv() })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let output = ''
  let stderr = ''
  child.stdout.on('data', chunk => { output += chunk })
  child.stderr.on('data', chunk => { stderr += chunk })
  const closed = once(child, 'close').then(([code]) => code as number | null)
  return { child, output: () => output, closed, stderr: () => stderr }
}

/** the server's URL, once it has logged that it is serving */
export async function serving (server: Run): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    server.child.stdout.on('data', () => {
      const line = server.output().split('\n').find(line => line.includes('"pullguard serving"'))
      if (line !== undefined) resolve((JSON.parse(line) as { url: string }).url)
    })
    void server.closed.then(code => { reject(new Error(`exited ${code}: ${server.output()}${server.stderr()}`)) })
  })
}

export function logLines (output: string): LogLine[] {
  return output.split('\n').filter(line => line !== '').map(line => JSON.parse(line) as LogLine)
}

export function post (url: string, body: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    // The standalone server's certificate is self-signed on purpose; verification is tested in test/server.
    const req = request(`${url}/mutate?timeout=10s`, { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, res => {
      let text = ''
      res.on('data', chunk => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

