// The load generator, run as its own process so that it never shares an event loop with the bench's
// bookkeeping. It still shares the machine's cores with the server under test: on 2 cores the server
// (one JS thread) gets about one core and this client the other; the report says so.
//
//   node bench/load-client.ts '<LoadConfig JSON>'   → one JSON result on stdout
//
// max:   autocannon, closed loop, N keep-alive connections each with one request in flight: the
//        highest rate the server sustains.
// paced: an open-loop schedule at a fixed rate over a keep-alive pool of N connections (a minimal
//        HTTP/1.1 client: see ConnectionPool). Requests are issued on schedule whatever the server
//        does; one that finds every connection busy waits in the pool, and that wait counts in its
//        latency, so a stalled server is charged for every request queued behind the stall (no
//        coordinated omission). Latency runs from the moment the request is issued; the schedule's
//        own planned time is also kept, which adds the client's timer lateness (up to ~1 ms).
//        autocannon's rate limit sends each second's quota in a burst, hence this loop.

import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect, type TLSSocket } from 'node:tls'
import { cpuSecondsOf, HOST } from './children.ts'
import { quantile, round } from './stats.ts'

export interface LoadConfig {
  mode: 'max' | 'paced'
  port: number
  path: string
  bodyFile: string
  connections: number
  warmupSec: number
  durationSec: number
  /** paced only: requests per second */
  rate?: number
  /** the server's pid, to charge its CPU time to the measured window */
  serverPid?: number
}

export interface LatencySummary {
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

export interface MaxResult {
  mode: 'max'
  requests: number
  durationSec: number
  rps: number
  non2xx: number
  errors: number
  latencyMs: { p50: number, p99: number, max: number }
  serverCpuSec: number | undefined
  clientCpuSec: number
}

export interface PacedResult {
  mode: 'paced'
  targetRate: number
  sent: number
  completed: number
  failed: number
  durationSec: number
  achievedRate: number
  /** from the moment each request was issued, waiting for a free connection included */
  latencyMs: LatencySummary
  /** from each request's planned time: adds the client's own timer lateness (≤ ~1 ms) */
  fromPlanMs: LatencySummary
  /** most requests in flight at once */
  maxInFlight: number
  serverCpuSec: number | undefined
  clientCpuSec: number
}

/** The subset of autocannon's result this bench reads (autocannon ships no types). */
interface AutocannonResult {
  '2xx': number
  non2xx: number
  errors: number
  timeouts: number
  duration: number
  latency: { p50: number, p99: number, max: number }
}
type Autocannon = (options: Record<string, unknown>, done: (error: Error | null, result: AutocannonResult) => void) => unknown

const HEADERS = { 'content-type': 'application/json' }

async function runMax (config: LoadConfig, body: Buffer): Promise<MaxResult> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon
  const run = async (durationSec: number): Promise<AutocannonResult> => await new Promise((resolve, reject) => {
    autocannon({
      url: `https://${HOST}:${config.port}${config.path}`,
      method: 'POST',
      headers: HEADERS,
      body,
      connections: config.connections,
      pipelining: 1,
      duration: durationSec
    }, (error, result) => { if (error === null) resolve(result); else reject(error) })
  })
  if (config.warmupSec > 0) await run(config.warmupSec)

  const cpu0 = process.cpuUsage()
  const server0 = config.serverPid === undefined ? undefined : cpuSecondsOf(config.serverPid)
  const result = await run(config.durationSec)
  const server1 = config.serverPid === undefined ? undefined : cpuSecondsOf(config.serverPid)
  const cpu = process.cpuUsage(cpu0)
  return {
    mode: 'max',
    requests: result['2xx'],
    durationSec: result.duration,
    rps: result['2xx'] / result.duration,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    serverCpuSec: server0 === undefined || server1 === undefined ? undefined : server1 - server0,
    clientCpuSec: (cpu.user + cpu.system) / 1e6
  }
}

async function runPaced (config: LoadConfig, body: Buffer): Promise<PacedResult> {
  const rate = config.rate ?? 1000
  const pool = new ConnectionPool(config.port, requestBytes(config, body))
  let inFlight = 0
  let maxInFlight = 0
  const send = async (): Promise<number> => {
    inFlight++
    if (inFlight > maxInFlight) maxInFlight = inFlight
    try {
      return await pool.send()
    } finally {
      inFlight--
    }
  }

  // Open all connections (TLS handshakes) before anything is timed.
  await pool.open(config.connections)

  // One schedule: warm-up requests are sent and answered like the others, only not recorded.
  const intervalMs = 1000 / rate
  const warmup = Math.round(config.warmupSec * rate)
  const total = warmup + Math.round(config.durationSec * rate)
  const measured = total - warmup
  const fromIssue = new Float64Array(measured)
  const fromPlan = new Float64Array(measured)
  let completed = 0
  let failed = 0
  let sent = 0
  const pending: Array<Promise<void>> = []
  let cpu0 = process.cpuUsage()
  let server0: number | undefined
  let windowStart = 0
  let lastEnd = 0

  const start = performance.now() + 5
  for (;;) {
    const now = performance.now()
    // Catch up on every request whose planned time has passed, however late the timer fired.
    while (sent < total && start + sent * intervalMs <= now) {
      const index = sent++
      const planned = start + index * intervalMs
      if (index === warmup) {
        cpu0 = process.cpuUsage()
        server0 = config.serverPid === undefined ? undefined : cpuSecondsOf(config.serverPid)
        windowStart = planned
      }
      const issuedAt = performance.now()
      pending.push(send().then(status => {
        const end = performance.now()
        if (index < warmup) return
        if (status !== 200) { failed++; return }
        fromIssue[completed] = end - issuedAt
        fromPlan[completed] = end - planned
        completed++
        if (end > lastEnd) lastEnd = end
      }))
    }
    if (sent >= total) break
    // Timers fire at ~1 ms granularity: requests go out in small groups at the planned rate. No busy
    // loop: this process must leave the other core to the server.
    await sleep(Math.max(0, start + sent * intervalMs - performance.now()))
  }
  await Promise.all(pending)
  const server1 = config.serverPid === undefined ? undefined : cpuSecondsOf(config.serverPid)
  const cpu = process.cpuUsage(cpu0)
  pool.close()

  const durationSec = (lastEnd - windowStart) / 1000
  return {
    mode: 'paced',
    targetRate: rate,
    sent: measured,
    completed,
    failed,
    durationSec,
    achievedRate: completed / durationSec,
    latencyMs: summarise(fromIssue.subarray(0, completed)),
    fromPlanMs: summarise(fromPlan.subarray(0, completed)),
    maxInFlight,
    serverCpuSec: server0 === undefined || server1 === undefined ? undefined : server1 - server0,
    clientCpuSec: (cpu.user + cpu.system) / 1e6
  }
}

function requestBytes (config: LoadConfig, body: Buffer): Buffer {
  const head = `POST ${config.path} HTTP/1.1\r\nHost: ${HOST}:${config.port}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\n\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), body])
}

interface Connection {
  socket: TLSSocket
  /** bytes of the response being read */
  buffer: Buffer
  answer: ((status: number) => void) | undefined
}

/**
 * Keep-alive TLS connections, each with at most one request in flight, speaking just enough HTTP/1.1
 * to read a Content-Length answer. node:https's client costs the second core several times more CPU
 * per request than this, and on 2 cores that CPU is taken from the server being measured.
 */
class ConnectionPool {
  private readonly port: number
  private readonly request: Buffer
  private readonly idle: Connection[] = []
  private readonly all: Connection[] = []
  private readonly waiting: Array<(connection: Connection) => void> = []

  constructor (port: number, request: Buffer) {
    this.port = port
    this.request = request
  }

  async open (size: number): Promise<void> {
    await Promise.all(Array.from({ length: size }, async () => {
      const socket = connect({ host: HOST, port: this.port, rejectUnauthorized: false })
      await once(socket, 'secureConnect')
      socket.setNoDelay(true)
      const connection: Connection = { socket, buffer: Buffer.alloc(0), answer: undefined }
      socket.on('data', (chunk: Buffer) => { this.read(connection, chunk) })
      const fail = (): void => { connection.answer?.(0); connection.answer = undefined }
      socket.on('error', fail)
      socket.on('close', fail)
      this.all.push(connection)
      this.idle.push(connection)
    }))
  }

  /** The answer's status code; 0 when the connection failed. Waits for a free connection, FIFO. */
  async send (): Promise<number> {
    const connection = this.idle.pop() ?? await new Promise<Connection>(resolve => { this.waiting.push(resolve) })
    if (connection.socket.destroyed) return 0
    const status = await new Promise<number>(resolve => {
      connection.answer = resolve
      connection.socket.write(this.request)
    })
    const next = this.waiting.shift()
    if (next !== undefined) next(connection)
    else this.idle.push(connection)
    return status
  }

  close (): void {
    for (const connection of this.all) connection.socket.destroy()
  }

  private read (connection: Connection, chunk: Buffer): void {
    connection.buffer = connection.buffer.length === 0 ? chunk : Buffer.concat([connection.buffer, chunk])
    const end = connection.buffer.indexOf('\r\n\r\n')
    if (end === -1) return
    const head = connection.buffer.toString('latin1', 0, end)
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
    if (connection.buffer.length < end + 4 + length) return
    connection.buffer = connection.buffer.subarray(end + 4 + length)
    const answer = connection.answer
    connection.answer = undefined
    answer?.(Number(head.slice(9, 12)))
  }
}

function summarise (values: Float64Array): LatencySummary {
  return {
    p50: round(quantile(values, 0.5), 3),
    p90: round(quantile(values, 0.9), 3),
    p99: round(quantile(values, 0.99), 3),
    p999: round(quantile(values, 0.999), 3),
    max: round(quantile(values, 1), 3)
  }
}

if (import.meta.main) {
  const config = JSON.parse(process.argv[2] ?? '{}') as LoadConfig
  const body = readFileSync(config.bodyFile)
  const result = config.mode === 'max' ? await runMax(config, body) : await runPaced(config, body)
  process.stdout.write(JSON.stringify(result))
}
