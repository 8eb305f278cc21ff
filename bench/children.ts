// Child processes: the servers under test, the load generator and the fresh processes that measure
// memory. Everything listens on 127.0.0.1 only, and every child is stopped by its own pid.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { request } from 'node:https'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export const HOST = '127.0.0.1'

/**
 * Node's own flags in the container image: the Dockerfile's ENTRYPOINT between the node binary and the
 * script. pullguard servers run with them here too, so the figures are those of the shipped runtime.
 */
export const IMAGE_NODE_FLAGS: readonly string[] = (() => {
  const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8')
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1]
  const argv = entrypoint === undefined ? undefined : JSON.parse(entrypoint) as string[]
  const script = argv?.findIndex(arg => arg.endsWith('/cli/main.js')) ?? -1
  if (argv === undefined || script < 1) throw new Error('Dockerfile: no ENTRYPOINT ["node", …flags, ".../cli/main.js", …] to take the Node flags from')
  return argv.slice(1, script)
})()
const STDERR_TAIL_BYTES = 4096

/** A port free right now on 127.0.0.1 (the kernel picks it; a race with another process is unlikely). */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, HOST)
  await once(server, 'listening')
  const address = server.address()
  server.close()
  await once(server, 'close')
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

export interface NodeChild {
  readonly name: string
  readonly child: ChildProcess
  readonly pid: number
  /** resolves with the exit code (null when killed by a signal) */
  readonly exited: Promise<number | null>
  /** the last few KiB of stderr, for error messages */
  stderr (): string
  /** stdout in full when `captureStdout` was set */
  stdout (): string
}

export interface SpawnOptions {
  /** flags for node itself (--cpu-prof, --expose-gc) */
  nodeFlags?: string[]
  /** keep stdout (small outputs: JSON results); otherwise it goes to /dev/null */
  captureStdout?: boolean
}

/** Runs a script with the Node running the bench (Node 24 from node_modules when run by npm). */
export function spawnNode (name: string, script: string, args: readonly string[], options: SpawnOptions = {}): NodeChild {
  const child = spawn(process.execPath, [...options.nodeFlags ?? [], script, ...args], {
    stdio: ['ignore', options.captureStdout === true ? 'pipe' : 'ignore', 'pipe'],
    // The servers read PULLGUARD_* variables: keep the caller's out of the measurement.
    env: Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('PULLGUARD_')))
  })
  if (child.pid === undefined) throw new Error(`${name}: spawn failed`)
  let stderr = ''
  let stdout = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES) })
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  return { name, child, pid: child.pid, exited, stderr: () => stderr, stdout: () => stdout }
}

/** Waits for a child meant to exit by itself and returns its stdout parsed as JSON. */
export async function jsonResultOf<T> (child: NodeChild, timeoutMs: number): Promise<T> {
  const timer = setTimeout(() => { child.child.kill('SIGKILL') }, timeoutMs)
  const code = await child.exited
  clearTimeout(timer)
  if (code !== 0) throw new Error(`${child.name} exited with ${code ?? 'a signal'}: ${child.stderr().trim()}`)
  try {
    return JSON.parse(child.stdout()) as T
  } catch {
    throw new Error(`${child.name} printed no JSON result: ${child.stdout().slice(0, 200)} ${child.stderr().trim()}`)
  }
}

/** Polls GET path over HTTPS (self-signed: not verified) until 200, the child exits, or the timeout. */
export async function waitForHttps (child: NodeChild, port: number, path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exitCode: number | null | undefined
  void child.exited.then(code => { exitCode = code })
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`${child.name} exited (${exitCode ?? 'signal'}) before serving: ${child.stderr().trim()}`)
    if (await getStatus(port, path) === 200) return
    await sleep(50)
  }
  throw new Error(`${child.name} did not answer ${path} within ${timeoutMs} ms: ${child.stderr().trim()}`)
}

async function getStatus (port: number, path: string): Promise<number | undefined> {
  return await new Promise(resolve => {
    const req = request({ host: HOST, port, path, method: 'GET', rejectUnauthorized: false, agent: false, timeout: 1000 }, res => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode) })
    })
    req.on('error', () => { resolve(undefined) })
    req.on('timeout', () => { req.destroy() })
    req.end()
  })
}

/** SIGTERM (graceful: lets --cpu-prof write its profile), then SIGKILL after the timeout. */
export async function stopChild (child: NodeChild, timeoutMs = 10_000): Promise<number | null> {
  if (child.child.exitCode !== null || child.child.signalCode !== null) return child.child.exitCode
  child.child.kill('SIGTERM')
  const timer = setTimeout(() => { child.child.kill('SIGKILL') }, timeoutMs)
  const code = await child.exited
  clearTimeout(timer)
  return code
}

let clockTicks: number | undefined
function ticksPerSecond (): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** User + system CPU seconds a process has used so far (Linux /proc); undefined elsewhere. */
export function cpuSecondsOf (pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after "pid (comm) ": state is field 3, utime 14, stime 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond()
  } catch {
    return undefined
  }
}

/** Resident set size of a process in bytes (Linux /proc); undefined elsewhere. */
export function rssBytesOf (pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
    return match === null ? undefined : Number(match[1]) * 1024
  } catch {
    return undefined
  }
}
