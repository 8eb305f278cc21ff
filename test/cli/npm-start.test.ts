// `npm start` must leave no server behind when npm is stopped. npm forwards SIGINT and SIGTERM to the
// script's process; the start script `exec`s the server so that this process is the server itself,
// not a shell that dies and orphans it. Run as README says, through npm, with --ignore-scripts to skip
// the prestart build (npm test has built dist/, and rebuilding it under the other tests' feet would
// race them), and ports picked by the system.

import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { childEnv } from '../support/child-env.js'
import { REPO_ROOT } from '../support/cli.js'

// The npm running these tests when there is one (npm test, npx tap), else the one on PATH.
const npm = process.env.npm_execpath?.endsWith('.js') === true
  ? { command: process.execPath, args: [process.env.npm_execpath] }
  : { command: 'npm', args: [] }

// Bounds, not expectations: a stopped server releases its port in milliseconds.
const SERVING_WITHIN_MS = 60_000
const RELEASED_WITHIN_MS = 15_000

interface ServingLine { msg: string, pid: number, url: string }

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const refused = (port: number): Promise<boolean> => new Promise(resolve => {
  const socket = connect(port, '127.0.0.1')
  socket.once('connect', () => { socket.destroy(); resolve(false) })
  socket.once('error', () => { resolve(true) })
})

async function until (condition: () => Promise<boolean> | boolean, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs
  while (Date.now() < deadline) {
    if (await condition()) return true
    await sleep(50)
  }
  return await condition()
}

// [name, how npm is stopped]: a signal to npm alone (a supervisor, `kill`), or SIGINT to its whole
// process group, as Ctrl-C in a terminal sends it. Then the server gets SIGINT twice at once, directly
// and from npm: one request to stop (src/server/serve.ts), so it still shuts down gracefully.
const table: Array<[string, NodeJS.Signals, 'npm' | 'group']> = [
  ['SIGTERM to npm', 'SIGTERM', 'npm'],
  ['SIGINT to npm', 'SIGINT', 'npm'],
  ['Ctrl-C: SIGINT to the process group', 'SIGINT', 'group']
]

for (const [name, signal, target] of table) {
  t.test(`${name}: the server shuts down and its port is released`, async t => {
    const child = spawn(npm.command, [...npm.args, 'start', '--ignore-scripts', '--', '--port', '0', '--metrics-port', '0'],
      { cwd: REPO_ROOT, env: childEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', chunk => { output += chunk })
    child.stderr.on('data', chunk => { output += chunk })
    const exited = once(child, 'exit')
    const lines = (): Array<{ msg?: string }> =>
      output.split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line) as { msg?: string })
    let server: ServingLine | undefined
    t.teardown(() => {
      // Whatever failed above, leave nothing running.
      if (server !== undefined && alive(server.pid)) process.kill(server.pid, 'SIGKILL')
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })

    t.ok(await until(() => {
      server = lines().find(line => line.msg === 'pullguard serving') as ServingLine | undefined
      return server !== undefined
    }, SERVING_WITHIN_MS), 'npm start serves', { output })
    if (server === undefined) return
    const port = Number(new URL(server.url).port)
    t.not(server.pid, child.pid, 'the server is npm\'s child, not npm')
    t.notOk(await refused(port), 'the port is open while serving')

    if (target === 'group') process.kill(-(child.pid as number), signal)
    else child.kill(signal)
    await exited

    const pid = server.pid
    t.ok(await until(() => !alive(pid), RELEASED_WITHIN_MS), 'the server process is gone')
    t.ok(await until(() => refused(port), RELEASED_WITHIN_MS), 'its port is released')
    t.equal(lines().at(-1)?.msg, 'shut down', 'it shut down gracefully', { output })
  })
}
