// The Dockerfile's production install, without Docker: take the build (`npm test` builds first, as the
// build stage runs `npm run build`), `npm pack` it, unpack it and `npm ci --omit=dev` from the lockfile
// (the runtime stage's exact steps), then start the installed CLI with the Deployment's own flags from
// deploy/ and talk to it over HTTPS. This proves the runtime stage has every file and dependency the
// server needs and that the CLI accepts every flag the chart passes.
//
// Needs the npm cache or the npm registry (--prefer-offline). Works in a temporary directory; the
// repository's dist/ is only read, so it can run next to tests that spawn it.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generate } from 'selfsigned'
import t from 'tap'
import { childEnv } from '../support/child-env.js'
import { fixture } from '../support/fixtures.js'
import { deployManifests, only, readJson, repoPath, type KubeObject } from './support/repo.js'

t.setTimeout(10 * 60 * 1000)

// The repository's Node.js 24 (the `node` devDependency) when present: the image runs Node.js 24.
const NODE = existsSync(repoPath('node_modules/node/bin/node')) ? repoPath('node_modules/node/bin/node') : process.execPath
const work = mkdtempSync(join(tmpdir(), 'pullguard-install-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))

function run (command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: childEnv({ npm_config_update_notifier: 'false' }) })
}

/** src/ files whose dist/ output is missing or older: what the copied build would get wrong. */
function staleOutputs (): string[] {
  const sources = readdirSync(repoPath('src'), { recursive: true, encoding: 'utf8' }).filter(file => file.endsWith('.ts') && !file.endsWith('.d.ts'))
  return sources.filter(file => {
    const output = repoPath(`dist/${file.replace(/\.ts$/, '.js')}`)
    return !existsSync(output) || statSync(output).mtimeMs < statSync(repoPath(`src/${file}`)).mtimeMs
  })
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

interface Answer { status: number, body: string }

async function call (url: string, options: { ca?: string, method?: string, body?: string } = {}): Promise<Answer> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest
  return await new Promise((resolve, reject) => {
    const req = request(url, {
      method: options.method ?? 'GET',
      ...(options.ca !== undefined && { ca: options.ca }),
      headers: options.body === undefined ? {} : { 'content-type': 'application/json' },
      timeout: 5000
    }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    })
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)))
    req.on('error', reject)
    req.end(options.body)
  })
}

async function waitFor (url: string, ca: string, child: ChildProcess, output: () => string): Promise<Answer> {
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pullguard exited with ${child.exitCode}:\n${output()}`)
    try {
      return await call(url, { ca })
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${url} did not answer: ${(error as Error).message}\n${output()}`)
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }
}

t.test('the packed package, installed with production dependencies only, serves the webhook', async t => {
  // 1. The build stage's output beside a copy of the package's files. Copied, not rebuilt: tsc here
  //    cost ~10 s of CPU to produce what `npm test` has just built.
  const stale = staleOutputs()
  t.same(stale, [], 'dist/ is built from the current src/ (run `npm run build`)')
  if (stale.length > 0) return
  const source = join(work, 'source')
  mkdirSync(source)
  for (const entry of ['package.json', 'package-lock.json', 'dist', 'examples']) cpSync(repoPath(entry), join(source, entry), { recursive: true })
  const pkg = readJson<{ bin: { pullguard: string } }>('package.json')
  t.ok(existsSync(join(source, pkg.bin.pullguard)), `the build holds ${pkg.bin.pullguard}`)

  // 2. npm pack, unpack, npm ci --omit=dev from the lockfile: the runtime stage's file set.
  const packed = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], source)) as Array<{ filename: string, files: Array<{ path: string }> }>
  const tarball = packed[0]
  if (tarball === undefined) throw new Error('npm pack produced nothing')
  const packedFiles = tarball.files.map(f => f.path)
  t.ok(packedFiles.includes(pkg.bin.pullguard), 'the tarball holds the CLI')
  t.ok(packedFiles.includes('examples/tenant/01-namespace.yaml'), 'and the example tenant')
  t.notOk(packedFiles.some(f => f.startsWith('src/') || f.startsWith('test/')), 'but no sources or tests')
  const app = join(work, 'app')
  mkdirSync(app)
  run('tar', ['xzf', join(work, tarball.filename), '-C', app, '--strip-components=1'], work)
  cpSync(repoPath('package-lock.json'), join(app, 'package-lock.json'))
  run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], app)
  t.notOk(existsSync(join(app, 'node_modules/typescript')) || existsSync(join(app, 'node_modules/tap')), 'no development dependencies installed')

  // 3. The Deployment's flags from deploy/, on loopback ports and with a certificate on disk laid out
  //    like the mounted Secret; the example tenant as the cluster (standalone mode).
  const deployment = only(deployManifests(), 'Deployment') as KubeObject & { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } }
  const args = [...(deployment.spec.template.spec.containers[0]?.args ?? [])]
  const tls = join(work, 'tls')
  mkdirSync(tls)
  const ca = await generate([{ name: 'commonName', value: 'pullguard install test CA' }], {
    keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, critical: true }]
  })
  const serving = await generate([{ name: 'commonName', value: 'pullguard.pullguard-system.svc' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { cert: ca.cert, key: ca.private },
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'pullguard.pullguard-system.svc' }, { type: 7, ip: '127.0.0.1' }] }]
  })
  writeFileSync(join(tls, 'tls.crt'), serving.cert)
  writeFileSync(join(tls, 'tls.key'), serving.private)
  const port = await freePort()
  const metricsPort = await freePort()
  const replace = (flag: string, value: string): void => {
    const at = args.indexOf(flag)
    if (at === -1) throw new Error(`the Deployment does not pass ${flag}`)
    args[at + 1] = value
  }
  replace('--host', '127.0.0.1')
  replace('--port', String(port))
  replace('--metrics-port', String(metricsPort))
  replace('--tls-cert', join(tls, 'tls.crt'))
  replace('--tls-key', join(tls, 'tls.key'))
  // The flag kept, its wait shortened: the drain itself is serve-drain's test (the 5 s default there).
  replace('--shutdown-delay-seconds', '1')
  const objects = readdirSync(join(app, 'examples/tenant')).filter(f => /\.ya?ml$/.test(f)).flatMap(f => ['--objects', join(app, 'examples/tenant', f)])

  let output = ''
  // The Deployment's args begin with the subcommand: the image's entrypoint is the pullguard command.
  t.equal(args[0], 'serve', 'the Deployment runs serve')
  const child = spawn(NODE, [join(app, pkg.bin.pullguard), ...args, ...objects], {
    cwd: app,
    env: childEnv({ NODE_ENV: 'production', POD_NAMESPACE: 'pullguard-system' }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })

  // 4. Probes, metrics and one review, verified against the CA that signed the mounted certificate.
  const base = `https://127.0.0.1:${port}`
  const healthz = await waitFor(`${base}/healthz`, ca.cert, child, () => output)
  t.equal(healthz.status, 200, 'GET /healthz over HTTPS (the certificate from --tls-cert/--tls-key)')
  t.equal((await call(`${base}/readyz`, { ca: ca.cert })).status, 200, 'GET /readyz')
  const metrics = await call(`http://127.0.0.1:${metricsPort}/metrics`)
  t.equal(metrics.status, 200, 'GET /metrics on the metrics port, plain HTTP')
  t.match(metrics.body, /pullguard_/, 'pullguard\'s metrics are exported')

  const review = fixture<{ request: { namespace: string, object: { metadata: { namespace: string } } } }>('pod-create.json')
  review.request.namespace = 'team-acme'
  review.request.object.metadata.namespace = 'team-acme'
  const answer = await call(`${base}/mutate`, { ca: ca.cert, method: 'POST', body: JSON.stringify(review) })
  t.equal(answer.status, 200, 'POST /mutate')
  const response = (JSON.parse(answer.body) as { response: { allowed: boolean, patch?: string } }).response
  t.equal(response.allowed, true, 'the Pod is admitted')
  const patch = Buffer.from(response.patch ?? '', 'base64').toString('utf8')
  t.match(patch, /pullguard-registry-credentials/, 'the tenant\'s pull Secret is injected')
  t.match(patch, /"Always"/, 'pull policies are forced to Always')

  // 5. SIGTERM: drain for --shutdown-delay-seconds, then exit 0.
  const exited = new Promise<number | null>(resolve => child.on('exit', code => { resolve(code) }))
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'exits 0 after the drain window', { output: output.slice(-2000) })
})
