// SIGTERM under load, through the built CLI. The API server talks HTTP/1.1 to webhooks over several
// keep-alive connections (kubernetes/kubernetes#82090), keeps using open ones to a terminating Pod
// (kubernetes/kubernetes#127335) and opens new ones until its endpoint is gone. No request that has
// reached pullguard may be reset or answered 503: reviews are served through the delay, each answer
// retiring its connection, then idle connections close, then in-flight reviews finish.

import t, { type Test } from 'tap'
import { Agent, request } from 'node:https'
import type { Socket } from 'node:net'
import { DEFAULT_SHUTDOWN_DELAY_SECONDS } from '../../src/server/limits.js'
import { podCreateReview } from '../support/cluster.js'
import { logLines, run, serving, STANDALONE, type Run } from './serve-process.js'

const BODY = JSON.stringify(podCreateReview())
const JSON_TYPE = { 'content-type': 'application/json' }
// The standalone server's certificate is self-signed on purpose; verification is tested in test/server.
const INSECURE = { rejectUnauthorized: false }

/** what became of one review, as its client saw it */
type Outcome =
  | { kind: 'answered', status: number, connection: string | undefined, reusedSocket: boolean }
  // The connection to pullguard was established (TLS done, or a kept-alive one) and then failed.
  | { kind: 'lost', code: string, reusedSocket: boolean }
  // No connection: refused, or reset during the handshake (the listener had closed). The API server
  // moves on to another endpoint; nothing reached pullguard.
  | { kind: 'not connected', code: string }

function review (url: string, agent: Agent): Promise<Outcome> {
  return new Promise(resolve => {
    let connected = false
    const req = request(`${url}/mutate?timeout=10s`, { method: 'POST', agent, ...INSECURE, headers: JSON_TYPE }, res => {
      res.resume()
      res.on('end', () => { resolve({ kind: 'answered', status: res.statusCode ?? 0, connection: res.headers.connection, reusedSocket: req.reusedSocket }) })
      res.on('error', err => { resolve({ kind: 'lost', code: codeOf(err), reusedSocket: req.reusedSocket }) })
    })
    req.on('socket', socket => {
      if (req.reusedSocket) connected = true
      else socket.once('secureConnect', () => { connected = true })
    })
    req.on('error', err => {
      resolve(connected ? { kind: 'lost', code: codeOf(err), reusedSocket: req.reusedSocket } : { kind: 'not connected', code: codeOf(err) })
    })
    req.end(BODY)
  })
}

const codeOf = (err: Error): string => (err as NodeJS.ErrnoException).code ?? err.message

/**
 * A review in flight on the server's side: its headers are parsed (the server answered
 * `Expect: 100-continue`) and part of its body is on the wire; `finish` sends the rest.
 */
async function inFlightReview (url: string): Promise<{ finish: () => void, outcome: Promise<Outcome> }> {
  let started!: () => void
  const inFlight = new Promise<void>(resolve => { started = resolve })
  let finish!: () => void
  const outcome = new Promise<Outcome>(resolve => {
    const req = request(`${url}/mutate?timeout=10s`, {
      method: 'POST',
      agent: false,
      ...INSECURE,
      headers: { ...JSON_TYPE, 'content-length': Buffer.byteLength(BODY), expect: '100-continue' }
    }, res => {
      res.resume()
      res.on('end', () => { resolve({ kind: 'answered', status: res.statusCode ?? 0, connection: res.headers.connection, reusedSocket: false }) })
    })
    req.on('error', err => { resolve({ kind: 'lost', code: codeOf(err), reusedSocket: false }) })
    req.on('continue', () => { req.write(BODY.slice(0, 1000), () => { started() }) })
    req.flushHeaders()
    finish = () => { req.end(BODY.slice(1000)) }
  })
  await inFlight
  return { finish, outcome }
}

/** resolves once `count` sockets of the agent sit idle in its pool, each having served a review */
async function idleConnections (t: Test, url: string, count: number): Promise<{ agent: Agent, sockets: Socket[] }> {
  const agent = new Agent({ keepAlive: true, maxSockets: count, ...INSECURE })
  t.teardown(() => { agent.destroy() })
  const outcomes = await Promise.all(Array.from({ length: count }, () => review(url, agent)))
  t.same(outcomes.map(o => o.kind === 'answered' && o.connection), Array.from({ length: count }, () => 'keep-alive'), `${count} connections kept alive`)
  const sockets = Object.values(agent.freeSockets).flat().filter((s): s is Socket => s !== undefined)
  t.equal(sockets.length, count, `${count} idle sockets in the pool`)
  return { agent, sockets }
}

function logged (server: Run, message: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const look = (): void => {
      const line = logLines(server.output()).find(l => l.msg === message)
      if (line !== undefined) {
        server.child.stdout.off('data', look)
        resolve(line as unknown as Record<string, unknown>)
      }
    }
    server.child.stdout.on('data', look)
    look()
    void server.closed.then(code => { reject(new Error(`exited ${code} before logging "${message}": ${server.output()}${server.stderr()}`)) })
  })
}

function get (url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false, ...INSECURE }, res => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject).end()
  })
}

const DRAINING = 'draining: readiness failing, still answering reviews'
// Short for the test, long enough that the steps between SIGTERM and its end (seeing the draining
// line, a review on each idle connection) fit on a loaded machine: they would fail, not pass, if not.
const DELAY_SECONDS = 2
const CLIENTS = 6

t.test('SIGTERM under keep-alive load: every review that reached pullguard is answered, none 503', async t => {
  const server = run(t, [...STANDALONE, '--port', '0', '--shutdown-delay-seconds', String(DELAY_SECONDS)])
  const url = await serving(server)

  // Connections the API server opened earlier and holds idle: some carry a review during the delay,
  // the others stay idle until pullguard closes them.
  const usedDuringDelay = await idleConnections(t, url, 3)
  const idleThroughout = await idleConnections(t, url, 3)
  const idleClosed = Promise.all(idleThroughout.sockets.map(socket => new Promise<void>(resolve => { socket.once('close', () => { resolve() }) })))

  // Clients sending reviews back to back over their keep-alive connections, on until one cannot
  // connect any more (the listener is closed: the API server then uses another endpoint).
  const outcomes: Array<Outcome & { phase: 'before' | 'signalled' | 'draining' }> = []
  let phase: 'before' | 'signalled' | 'draining' = 'before'
  const loadAgent = new Agent({ keepAlive: true, maxSockets: CLIENTS, ...INSECURE })
  t.teardown(() => { loadAgent.destroy() })
  let warm!: () => void
  const warmedUp = new Promise<void>(resolve => { warm = resolve })
  const clients = Array.from({ length: CLIENTS }, async () => {
    for (;;) {
      const sentIn = phase
      const outcome = await review(url, loadAgent)
      outcomes.push({ ...outcome, phase: sentIn })
      if (outcomes.filter(o => o.kind === 'answered' && o.reusedSocket).length >= 2 * CLIENTS) warm()
      if (outcome.kind !== 'answered') return
    }
  })
  await warmedUp
  const inFlight = await inFlightReview(url)

  server.child.kill('SIGTERM')
  phase = 'signalled'
  const draining = await logged(server, DRAINING)
  phase = 'draining'
  t.match(draining, { shutdownDelaySeconds: DELAY_SECONDS })

  t.equal(await get(`${url}/readyz`), 503, 'not ready while draining')
  const onIdle = await Promise.all(usedDuringDelay.sockets.map(() => review(url, usedDuringDelay.agent)))
  t.same(onIdle, onIdle.map(() => ({ kind: 'answered', status: 200, connection: 'close', reusedSocket: true })),
    'reviews on connections idle since before SIGTERM: answered, each connection told to close')

  // The delay ends: idle connections are closed while the review in flight is still waited for.
  await idleClosed
  t.equal(await Promise.race([inFlight.outcome, 'pending']), 'pending', 'the in-flight review outlives the idle connections')
  inFlight.finish()
  t.match(await inFlight.outcome, { kind: 'answered', status: 200, connection: 'close' }, 'the in-flight review is answered')

  t.equal(await server.closed, 0, 'drained and exited 0')
  await Promise.all(clients)

  const after = outcomes.filter(o => o.phase !== 'before')
  const figures = {
    sentAfterSigterm: after.length,
    answered200: after.filter(o => o.kind === 'answered' && o.status === 200).length,
    answered503: after.filter(o => o.kind === 'answered' && o.status === 503).length,
    lost: after.filter(o => o.kind === 'lost').length,
    notConnected: after.filter(o => o.kind === 'not connected').length,
    onNewConnections: after.filter(o => o.kind === 'answered' && !o.reusedSocket).length
  }
  t.comment(`drain under load: ${JSON.stringify(figures)}`)
  t.same(outcomes.filter(o => o.kind === 'lost'), [], 'no review lost on an established connection')
  t.same(outcomes.filter(o => o.kind === 'answered' && o.status !== 200), [], 'every answer is a 200: none 503')
  t.ok(figures.onNewConnections >= CLIENTS, 'reviews on new connections are served during the delay')
  const sentWhileDraining = outcomes.filter(o => o.phase === 'draining' && o.kind === 'answered')
  t.ok(sentWhileDraining.length > 0)
  t.same(sentWhileDraining.filter(o => o.kind === 'answered' && o.connection !== 'close'), [], 'every answer while draining says Connection: close')
  t.same(outcomes.filter(o => o.kind === 'not connected' && o.phase !== 'draining'), [], 'connections are refused only once draining, never before')
  const messages = logLines(server.output()).map(line => line.msg)
  t.notOk(messages.some(msg => /refusing to accept new requests/.test(msg)), 'Fastify answered no request 503 while closing')
})

t.test('with the defaults: the CLI drains for 5 s, the chart\'s value, serving every connection meanwhile', async t => {
  t.equal(DEFAULT_SHUTDOWN_DELAY_SECONDS, 5)
  const server = run(t, [...STANDALONE, '--port', '0'])
  const url = await serving(server)
  const { agent } = await idleConnections(t, url, 1)

  server.child.kill('SIGTERM')
  t.match(await logged(server, DRAINING), { shutdownDelaySeconds: 5 }, 'no flag: the default delay')
  t.equal(await get(`${url}/readyz`), 503, 'not ready while draining')
  t.match(await review(url, agent), { kind: 'answered', status: 200, connection: 'close', reusedSocket: true }, 'a kept-alive connection: answered, told to close')
  t.match(await review(url, agent), { kind: 'answered', status: 200, connection: 'close', reusedSocket: false }, 'a new connection: answered, told to close')
  // What follows the delay is the test above's, with a shorter one; the teardown ends this process.
})
