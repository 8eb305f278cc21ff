// The built binary in standalone mode, as `npm start` runs it: serve, answer, drain on SIGTERM.

import t from 'tap'
import { decodePatch, podCreateReview } from '../support/cluster.js'
import { logLines, NO_DRAIN_DELAY, post, run, serving, STANDALONE } from './serve-process.js'

t.test('serve --objects answers reviews and exits 0 on SIGTERM', async t => {
  const server = run(t, [...STANDALONE, ...NO_DRAIN_DELAY, '--port', '0'])
  const url = await serving(server)
  t.match(server.output(), /SELF-SIGNED/, 'says loudly that the certificate is self-signed')
  t.match(logLines(server.output()).find(line => line.msg.startsWith('loaded ')),
    { level: 'info', msg: 'loaded 5 namespaces, 3 tenants, 3 credential Secrets; 1 ignored: Secret outside pullguard-system (1)' },
    'one summary line of what the objects file held')

  const answer = await post(url, JSON.stringify(podCreateReview()))
  t.equal(answer.status, 200)
  const review = JSON.parse(answer.body)
  t.equal(review.response.uid, 'c5a0d3b2-8e51-4b0c-a9f3-2f6c1d9e7b44')
  t.equal(decodePatch(review.response.patch).length, 4)

  const bad = await post(url, '{"kind":"AdmissionReview"')
  t.equal(bad.status, 400, 'malformed JSON is a 400, and the process stays up')
  t.equal((await post(url, JSON.stringify(podCreateReview()))).status, 200)

  server.child.kill('SIGTERM')
  t.equal(await server.closed, 0, 'drained and exited 0')
  // stdout is written asynchronously: nothing logged may be lost on the way out.
  const messages = logLines(server.output()).map(line => line.msg)
  t.equal(messages.filter(msg => msg === 'review').length, 2, 'both reviews logged')
  t.equal(messages.at(-1), 'shut down', 'the last line, written just before exit, arrived')
})
