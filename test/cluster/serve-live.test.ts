// `pullguard serve` in live mode, as a process (the built CLI: npm test builds first): --kubeconfig
// pointing at the API double (plain http with insecure-skip-tls-verify), readiness after sync, managed
// Secrets written, reviews answered.

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { childEnv } from '../support/child-env.js'
import { CLI } from '../support/cli.js'
import { decodePatch, podCreateReview } from '../support/cluster.js'
import { ACME_AUTHS, SECRET, expectedConfig, seed, startApi, waitFor, waitForConfig } from './helper.js'

interface Served {
  lines: Array<Record<string, unknown>>
  exited: Promise<[number | null, string | null]>
  child: ReturnType<typeof spawn>
}

async function serve (t: Test, args: string[], home: string): Promise<Served> {
  // No KUBECONFIG, and an empty home. No drain delay: these tests stop the server themselves
  // (test/cli/serve-drain.test.ts covers the drain).
  const { KUBECONFIG: _kubeconfig, ...env } = childEnv()
  const child = spawn(process.execPath, [CLI, 'serve', '--shutdown-delay-seconds', '0', ...args], {
    env: { ...env, HOME: home },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const lines: Array<Record<string, unknown>> = []
  let buffered = ''
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      lines.push(JSON.parse(buffered.slice(0, i)) as Record<string, unknown>)
      buffered = buffered.slice(i + 1)
    }
  })
  child.stderr.resume()
  return { lines, exited: once(child, 'exit') as Promise<[number | null, string | null]>, child }
}

function request (url: string, body?: unknown): Promise<{ status: number, json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      method: body === undefined ? 'GET' : 'POST',
      rejectUnauthorized: false, // the self-signed localhost certificate
      headers: { 'content-type': 'application/json' }
    }, res => {
      let text = ''
      res.on('data', chunk => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text.startsWith('{') ? JSON.parse(text) : text }))
    })
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

async function emptyHome (t: Test): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'pullguard-home-'))
  t.teardown(() => rm(home, { recursive: true, force: true }))
  return home
}

t.test('serve --kubeconfig: ready after sync, projects Secrets, answers reviews', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  const kubeconfig = await started.writeKubeconfig()
  const { lines, exited, child } = await serve(t, ['--kubeconfig', kubeconfig, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0'], await emptyHome(t))
  await Promise.race([
    waitFor(() => lines.some(l => l.msg === 'pullguard serving'), 'the server', 60_000),
    exited.then(([code]) => { throw new Error(`serve exited early with ${code}: ${JSON.stringify(lines)}`) })
  ])
  const base = lines.find(l => l.msg === 'pullguard serving')!.url as string
  t.match(lines.find(l => l.msg === 'live mode: watching the cluster'), { kubeconfig: 'flag', server: started.url })

  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS), 10_000)
  await waitFor(() => lines.some(l => l.msg === 'live cluster view synced'), 'the sync log')
  t.equal((await request(`${base}/readyz`)).status, 200)
  // Controller and admission metrics share the one registry /metrics serves.
  const metricsUrl = lines.find(l => l.msg === 'pullguard serving')!.metricsUrl as string
  const exposition = await (await fetch(metricsUrl)).text()
  t.match(exposition, /pullguard_reconcile_total\{result="created"\} [1-9]/)
  t.match(exposition, /pullguard_cache_age_seconds\{cache="namespaces"\}/)
  t.match(exposition, /pullguard_managed_secrets [1-9]/)
  t.match(exposition, /# TYPE pullguard_admission_requests_total counter/)

  const { status, json } = await request(`${base}/mutate`, podCreateReview())
  t.equal(status, 200)
  const response = (json as { response: { allowed: boolean, patch?: string } }).response
  t.ok(response.allowed)
  t.ok(decodePatch(response.patch).some(op => JSON.stringify(op).includes(SECRET)), 'pull secret injected')

  child.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 0)
  t.notOk(lines.some(l => JSON.stringify(l).includes(Buffer.from(JSON.stringify({ auths: ACME_AUTHS })).toString('base64'))), 'no secret data in the logs')
})

t.test('serve without --objects and without any cluster configuration: a clear error, exit 1', async t => {
  const { lines, exited } = await serve(t, ['--host', '127.0.0.1', '--port', '0', '--metrics-port', '0'], await emptyHome(t))
  const [code] = await exited
  t.equal(code, 1)
  t.match(lines.find(l => l.level === 'error'), { msg: 'live mode: no usable cluster configuration', error: /no Kubernetes credentials: pass --kubeconfig/ })
})
