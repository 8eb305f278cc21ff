// Every end of `pullguard serve`, with every line it logged on stdout, in order: stdout is written
// asynchronously, and lines still queued when the process exits would land late or not at all.

import t from 'tap'
import { createServer, type AddressInfo } from 'node:net'
import { podCreateReview } from '../support/cluster.js'
import { logLines, NO_DRAIN_DELAY, post, run, serving, STANDALONE } from './serve-process.js'

const SHUTDOWN = ['draining: readiness failing, still answering reviews', 'drain delay over: closing idle connections, finishing the reviews in flight', 'shut down']

// The thread pool busy when shutdown starts: the first shutdown line is still queued for writing when
// the last is logged, and the exit must wait for it instead of writing the others ahead of it.
t.test('SIGTERM with the thread pool busy: the shutdown lines arrive, in order', async t => {
  const server = run(t, [...STANDALONE, ...NO_DRAIN_DELAY, '--port', '0'], { busyThreadpool: true })
  const url = await serving(server)
  t.equal((await post(url, JSON.stringify(podCreateReview()))).status, 200)
  server.child.kill('SIGTERM')
  t.equal(await server.closed, 0)
  const messages = logLines(server.output()).map(line => line.msg)
  t.same(messages.slice(messages.indexOf('review')), ['review', 'signal received, shutting down', ...SHUTDOWN])
})

t.test('an uncaught error: the fatal line and the shutdown arrive, in order, and the exit code is 1', async t => {
  const server = run(t, [...STANDALONE, ...NO_DRAIN_DELAY, '--port', '0'], { busyThreadpool: true })
  await serving(server)
  server.child.stdin.write('throw\n')
  t.equal(await server.closed, 1)
  const lines = logLines(server.output())
  t.same(lines.slice(-4).map(line => line.msg), ['uncaught error, shutting down', ...SHUTDOWN])
  t.match(lines.at(-4), { level: 'fatal', err: { message: 'injected fault' } })
})

// Ctrl-C under `npm start` delivers SIGINT twice at once (the terminal's and npm's copy): one request
// to stop. A SIGINT later than that, while the drain still runs, is an impatient Ctrl-C: exit now.
t.test('SIGINT twice at once: one graceful shutdown; once more a while later: exit 1 at once', async t => {
  const once = run(t, [...STANDALONE, ...NO_DRAIN_DELAY, '--port', '0'])
  await serving(once)
  once.child.kill('SIGINT')
  once.child.kill('SIGINT')
  t.equal(await once.closed, 0, 'graceful')
  t.same(logLines(once.output()).map(line => line.msg).slice(-4), ['signal received, shutting down', ...SHUTDOWN])
  t.match(logLines(once.output()).at(-4), { signal: 'SIGINT' })

  // a 30 s drain delay: only the second interrupt can end this run soon
  const impatient = run(t, [...STANDALONE, '--shutdown-delay-seconds', '30', '--port', '0'])
  await serving(impatient)
  impatient.child.kill('SIGINT')
  await new Promise<void>(resolve => {
    const check = setInterval(() => {
      if (!logLines(impatient.output()).some(line => line.msg === 'draining: readiness failing, still answering reviews')) return
      clearInterval(check)
      resolve()
    }, 20)
  })
  await new Promise(resolve => setTimeout(resolve, 1200))
  impatient.child.kill('SIGINT')
  t.equal(await impatient.closed, 1, 'exits at once, not after the 30 s drain')
  t.match(logLines(impatient.output()).at(-1), { msg: 'shutdown', detail: 'second SIGINT, exiting' })
})

// A failed start ends with runServe throwing and no process.exit: the event loop writes out the log
// first. (Live mode's "no usable cluster configuration" end is tested in test/cluster/serve-live.)
t.test('port in use: exit 1, the error on stderr, and every line logged until then on stdout', async t => {
  const taken = createServer()
  await new Promise<void>(resolve => { taken.listen(0, '127.0.0.1', resolve) })
  t.teardown(() => { taken.close() })
  const failed = run(t, [...STANDALONE, '--port', String((taken.address() as AddressInfo).port)])
  t.equal(await failed.closed, 1)
  t.match(failed.stderr(), /EADDRINUSE/)
  const messages = logLines(failed.output()).map(line => line.msg)
  t.equal(messages.at(-2), 'configuration loaded')
  t.match(messages.at(-1), /^NO TLS CERTIFICATE GIVEN/, 'the last line before the failure arrived')
})
