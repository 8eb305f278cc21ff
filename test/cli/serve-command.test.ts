// The built binary in standalone mode, as `npm start` runs it: serve, answer, say its version (log and
// metric), drain on SIGTERM.

import t from 'tap'
import { readFileSync } from 'node:fs'
import { get } from 'node:http'
import { decodePatch, podCreateReview } from '../support/cluster.js'
import { logLines, NO_DRAIN_DELAY, post, run, serving, STANDALONE } from './serve-process.js'

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

function scrape (url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, res => {
      let text = ''
      res.on('data', chunk => { text += chunk })
      res.on('end', () => { resolve(text) })
    }).on('error', reject)
  })
}

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

  const lines = logLines(server.output()) as Array<{ msg: string, version?: string, node?: string, metricsUrl?: string }>
  t.match(lines[0], { msg: 'pullguard starting', version, node: process.version }, 'the first line says which version starts')
  const metricsUrl = lines.find(line => line.msg === 'pullguard serving')?.metricsUrl ?? ''
  const metrics = await scrape(metricsUrl)
  t.match(metrics, /# TYPE pullguard_build_info gauge\n/)
  t.match(metrics, new RegExp(`\npullguard_build_info\\{version="${version.replace(/\./g, '\\.')}",node="${process.version.replace(/\./g, '\\.')}"\\} 1\n`))

  server.child.kill('SIGTERM')
  t.equal(await server.closed, 0, 'drained and exited 0')
  // stdout is written asynchronously: nothing logged may be lost on the way out.
  const messages = logLines(server.output()).map(line => line.msg)
  t.equal(messages.filter(msg => msg === 'review').length, 2, 'both reviews logged')
  t.equal(messages.at(-1), 'shut down', 'the last line, written just before exit, arrived')
})
