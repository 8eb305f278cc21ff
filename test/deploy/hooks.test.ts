// The chart's hook scripts (files/hooks), run with Node as the hook Pods run them, against a loopback
// HTTPS server that plays the API server: the service account's token and CA read from the mounted
// directory, the requests they send, and the exit code for each answer the API server can give.

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createTestCa, issueServerCertificate } from '../support/tls.js'
import { repoPath } from './support/repo.js'

const NODE = process.execPath
const TOKEN = 'hook-token'

interface Seen { method: string, url: string, authorization?: string, body: string }
type Answer = (request: Seen) => { status: number, body: unknown, headers?: Record<string, string> }

/** the API server's stand-in, the mounted service account, and a way to run a hook script against both */
async function apiServer (t: Test, answer: Answer): Promise<{ seen: Seen[], run: (script: string, args?: string[], env?: Record<string, string>) => Promise<{ code: number | null, output: string }> }> {
  const ca = await createTestCa()
  const serving = await issueServerCertificate(ca)
  const seen: Seen[] = []
  const server = createServer({ cert: serving.cert, key: serving.key }, (req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => { body += chunk })
    req.on('end', () => {
      const request: Seen = { method: req.method ?? '', url: req.url ?? '', body, ...(req.headers.authorization !== undefined && { authorization: req.headers.authorization }) }
      seen.push(request)
      const { status, body: payload, headers } = answer(request)
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(payload))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const account = mkdtempSync(join(tmpdir(), 'pullguard-hook-sa-'))
  writeFileSync(join(account, 'token'), `${TOKEN}\n`)
  writeFileSync(join(account, 'ca.crt'), ca.cert)
  t.teardown(() => {
    server.close()
    server.closeAllConnections()
    rmSync(account, { recursive: true, force: true })
  })
  return {
    seen,
    run: async (script, args = [], env = {}) => {
      const child = spawn(NODE, [repoPath(`charts/pullguard/files/hooks/${script}`), ...args], {
        env: { PATH: process.env.PATH ?? '', KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port), SERVICE_ACCOUNT_DIR: account, ...env },
        stdio: ['ignore', 'pipe', 'pipe']
      })
      let output = ''
      child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
      child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
      const code = await new Promise<number | null>(resolve => child.on('close', resolve))
      return { code, output }
    }
  }
}

const PATHS = [
  '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/pullguard-always-pull',
  '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/pullguard-always-pull',
  '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/pullguard'
]

t.test('pre-delete: deletes each object in order with the service account\'s token; gone already is fine', async t => {
  const { seen, run } = await apiServer(t, request => request.url.endsWith('/validatingadmissionpolicies/pullguard-always-pull')
    ? { status: 404, body: { kind: 'Status', reason: 'NotFound', message: 'not found' } }
    : { status: 200, body: { kind: 'Status', status: 'Success' } })
  const { code, output } = await run('delete-admission-config.mjs', PATHS)
  t.equal(code, 0, 'exit 0', { output })
  t.same(seen.map(r => `${r.method} ${r.url}`), PATHS.map(p => `DELETE ${p}`), 'binding, policy, webhook: in that order')
  t.ok(seen.every(r => r.authorization === `Bearer ${TOKEN}`), 'authenticated as the hook\'s service account')
  t.match(output, /already gone: .*validatingadmissionpolicies\/pullguard-always-pull/)
})

t.test('pre-delete: a refusal fails the hook, after trying every object', async t => {
  const { seen, run } = await apiServer(t, request => request.url.includes('mutatingwebhookconfigurations')
    ? { status: 403, body: { kind: 'Status', reason: 'Forbidden', message: 'mutatingwebhookconfigurations.admissionregistration.k8s.io "pullguard" is forbidden' } }
    : { status: 200, body: {} })
  const { code, output } = await run('delete-admission-config.mjs', PATHS)
  t.equal(code, 1, 'exit 1: helm uninstall stops and says why')
  t.equal(seen.length, 3)
  t.match(output, /could not delete .*mutatingwebhookconfigurations\/pullguard: HTTP 403: .*forbidden/)
})

interface PodBody { metadata: { namespace: string }, spec: { containers: Array<{ image: string, imagePullPolicy: string }>, imagePullSecrets?: Array<{ name: string }> } }

t.test('helm test: a dry-run Pod create; passes only when the webhook mutated it', async t => {
  const env = { TEST_NAMESPACE: 'pullguard-test', TEST_IMAGE: 'ghcr.io/pullguard/pullguard:0.1.0' }
  const mutated: Answer = request => {
    const pod = JSON.parse(request.body) as PodBody
    pod.spec.containers = pod.spec.containers.map(c => ({ ...c, imagePullPolicy: 'Always' }))
    pod.spec.imagePullSecrets = [{ name: 'pullguard-registry-credentials' }]
    return { status: 201, body: pod, headers: { warning: '299 - "pullguard: no registry credentials for tenant pullguard-test"' } }
  }
  const passing = await apiServer(t, mutated)
  const ok = await passing.run('webhook-test.mjs', [], env)
  t.equal(ok.code, 0, 'mutated: pass', { output: ok.output })
  t.match(ok.output, /PASS: the webhook answered: imagePullPolicy Always, imagePullSecrets pullguard-registry-credentials/)
  t.match(ok.output, /warnings: .*no registry credentials/, 'the API server\'s warnings are shown')
  const [request] = passing.seen
  t.equal(request?.method, 'POST')
  t.equal(request?.url, '/api/v1/namespaces/pullguard-test/pods?dryRun=All', 'a dry run: nothing is created')
  const sent = JSON.parse(request?.body ?? '{}') as PodBody
  t.same(sent.spec.containers.map(c => [c.image, c.imagePullPolicy]), [[env.TEST_IMAGE, 'IfNotPresent']], 'sent with IfNotPresent, so a mutation shows')

  const unmutated = await apiServer(t, request => ({ status: 201, body: JSON.parse(request.body) as unknown }))
  const failed = await unmutated.run('webhook-test.mjs', [], env)
  t.equal(failed.code, 1, 'unmutated (failurePolicy Ignore hid the failure): fail')
  t.match(failed.output, /FAIL: the Pod came back unmutated \(imagePullPolicy IfNotPresent\)/)

  const refused = await apiServer(t, () => ({ status: 403, body: { kind: 'Status', reason: 'Forbidden', message: 'pods "x" is forbidden: ValidatingAdmissionPolicy \'pullguard-always-pull\' denied request: pullguard: in tenant namespaces every image must be pulled with imagePullPolicy Always' } }))
  const denied = await refused.run('webhook-test.mjs', [], env)
  t.equal(denied.code, 1, 'refused by the always-pull policy: fail')
  t.match(denied.output, /FAIL: the dry-run Pod was refused \(HTTP 403\): .*pullguard-always-pull/)
})
