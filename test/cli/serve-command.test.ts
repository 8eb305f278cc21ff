// The built binary in standalone mode, as `npm start` runs it: serve, answer, drain on SIGTERM.

import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { request } from 'node:https'
import { fileURLToPath } from 'node:url'
import { decodePatch, podCreateReview } from '../support/cluster.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

function post (url: string, body: string): Promise<{ status: number, body: string }> {
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

t.test('serve --objects answers reviews and exits 0 on SIGTERM', async t => {
  const child = spawn(process.execPath, [cli, 'serve', '--objects', 'examples/standalone/cluster.yaml', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  let output = ''
  const serving = new Promise<{ url: string }>((resolve, reject) => {
    child.stdout.on('data', chunk => {
      output += chunk
      for (const line of output.split('\n')) {
        if (line.includes('"pullguard serving"')) resolve(JSON.parse(line))
      }
    })
    child.on('exit', code => reject(new Error(`exited ${code}: ${output}`)))
  })
  const { url } = await serving
  t.match(output, /SELF-SIGNED/, 'says loudly that the certificate is self-signed')

  const answer = await post(url, JSON.stringify(podCreateReview()))
  t.equal(answer.status, 200)
  const review = JSON.parse(answer.body)
  t.equal(review.response.uid, 'c5a0d3b2-8e51-4b0c-a9f3-2f6c1d9e7b44')
  t.equal(decodePatch(review.response.patch).length, 4)

  const bad = await post(url, '{"kind":"AdmissionReview"')
  t.equal(bad.status, 400, 'malformed JSON is a 400, and the process stays up')
  t.equal((await post(url, JSON.stringify(podCreateReview()))).status, 200)

  child.kill('SIGTERM')
  // 'close' comes after stdout has ended: every line the process wrote is in `output` by then.
  const [code] = await once(child, 'close')
  t.equal(code, 0, 'drained and exited 0')
  // stdout is written asynchronously: nothing logged may be lost on the way out.
  const messages = output.split('\n').filter(line => line !== '').map(line => (JSON.parse(line) as { msg: string }).msg)
  t.equal(messages.filter(msg => msg === 'review').length, 2, 'both reviews logged')
  t.equal(messages.at(-1), 'shut down', 'the last line, written just before exit, arrived')
})
