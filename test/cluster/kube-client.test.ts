// Finding the cluster as kubectl does, per-call timeouts, list pages as plain JSON, and reading the
// client's errors.

import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import * as k8s from '@kubernetes/client-node'
import t, { type Test } from 'tap'
import { stringify as toYaml } from 'yaml'
import { apiFailure, isStatus, listPageAsJson, loadKubeConfig, withTimeout } from '../../src/cluster/live/kube-client.js'
import { startApi } from './helper.js'

async function tempDir (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pullguard-kube-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function kubeconfig (context: string, server: string, options: { skipTls?: boolean, current?: boolean } = {}): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: context, cluster: { server, ...(options.skipTls !== false && { 'insecure-skip-tls-verify': true }) } }],
    users: [{ name: context, user: { token: 'api-double-token' } }],
    contexts: [{ name: context, context: { cluster: context, user: context } }],
    ...(options.current !== false && { 'current-context': context })
  })
}

t.test('--kubeconfig wins; a plain-http server with insecure-skip-tls-verify works', async t => {
  const { started } = await startApi(t)
  const file = await started.writeKubeconfig()
  const loaded = loadKubeConfig({ file, env: { KUBECONFIG: '/nonexistent' } })
  t.equal(loaded.source, 'flag')
  t.equal(loaded.server, started.url)
  const namespaces = await loaded.kubeConfig.makeApiClient(k8s.CoreV1Api).listNamespace()
  t.same(namespaces.items, [])
})

t.test('KUBECONFIG is a path list; the first file naming a current context wins', async t => {
  const { started } = await startApi(t)
  const dir = await tempDir(t)
  await writeFile(join(dir, 'a.yaml'), kubeconfig('first', started.url))
  await writeFile(join(dir, 'b.yaml'), kubeconfig('second', 'https://elsewhere.example:6443'))
  const loaded = loadKubeConfig({ env: { KUBECONFIG: [join(dir, 'a.yaml'), join(dir, 'b.yaml')].join(delimiter) }, home: dir })
  t.equal(loaded.source, 'KUBECONFIG')
  t.equal(loaded.kubeConfig.getCurrentContext(), 'first')
  t.same(loaded.kubeConfig.getContexts().map(c => c.name), ['first', 'second'], 'both files merged')
  t.equal(loaded.server, started.url)

  await writeFile(join(dir, 'c.yaml'), kubeconfig('third', 'https://third.example', { current: false }))
  const later = loadKubeConfig({ env: { KUBECONFIG: [join(dir, 'c.yaml'), join(dir, 'b.yaml')].join(delimiter) }, home: dir })
  t.equal(later.kubeConfig.getCurrentContext(), 'second', 'a file without current-context leaves it to the next')
})

t.test('~/.kube/config, then the in-cluster service account, then a clear error', async t => {
  const home = await tempDir(t)
  await mkdir(join(home, '.kube'))
  await writeFile(join(home, '.kube', 'config'), kubeconfig('laptop', 'https://laptop.example:6443'))
  t.equal(loadKubeConfig({ env: {}, home }).source, '~/.kube/config')

  const empty = await tempDir(t)
  const token = join(empty, 'token')
  await writeFile(token, 'sa-token')
  // client-node's loadFromCluster reads the service address from process.env itself
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT }
  t.teardown(() => {
    for (const [key, value] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  })
  process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1'
  process.env.KUBERNETES_SERVICE_PORT = '443'
  const inCluster = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, home: empty, serviceAccountToken: token })
  t.equal(inCluster.source, 'in-cluster')
  t.equal(inCluster.server, 'https://10.96.0.1:443')

  t.throws(() => loadKubeConfig({ env: {}, home: empty, serviceAccountToken: join(empty, 'absent') }),
    /no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG/)
})

t.test('plain http without insecure-skip-tls-verify is refused up front', async t => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'config'), kubeconfig('plain', 'http://127.0.0.1:8080', { skipTls: false }))
  t.throws(() => loadKubeConfig({ file: join(dir, 'config') }), /plain http .* insecure-skip-tls-verify: true/)
})

t.test('typed calls: timeouts, and errors read as code + reason', async t => {
  const { api, started } = await startApi(t)
  const core = started.kubeConfig().makeApiClient(k8s.CoreV1Api)
  api.create({ kind: 'Namespace', metadata: { name: 'team-a' } })

  api.injectFault({ verb: 'get' }, 'hang', { times: 1 })
  // the double never answers this one: only the call's own timeout can end it
  const hung = await core.readNamespace({ name: 'team-a' }, withTimeout(100)).catch((err: unknown) => err)
  t.match(apiFailure(hung), { reason: 'TimeoutError' })
  api.releaseHung()

  const conflict = await core.createNamespace({ body: { metadata: { name: 'team-a' } } }).catch((err: unknown) => err)
  t.match(apiFailure(conflict), { code: 409, reason: 'AlreadyExists', message: 'namespaces "team-a" already exists' })
  t.ok(isStatus(conflict, 409))
  t.ok(isStatus(conflict, 409, 'AlreadyExists'))
  t.notOk(isStatus(conflict, 409, 'Conflict'))

  await api.setDown(true)
  const refused = await core.readNamespace({ name: 'team-a' }).catch((err: unknown) => err)
  t.match(apiFailure(refused), { reason: 'ECONNREFUSED', message: 'fetch failed' })
  t.notOk(isStatus(refused, 404))
})

t.test('list pages as plain JSON: selectors, limit and continue, the credentials, typed-call errors', async t => {
  const { api, started } = await startApi(t)
  for (const ns of ['a', 'b', 'c']) {
    api.create({ kind: 'Namespace', metadata: { name: ns } })
    api.create({ kind: 'Secret', metadata: { name: 'managed', namespace: ns, labels: { tier: ns === 'c' ? 'gold' : 'plain' } } })
    api.create({ kind: 'Secret', metadata: { name: 'other', namespace: ns } })
  }
  const listPage = listPageAsJson<k8s.V1Secret>(started.kubeConfig(), '/api/v1/secrets')
  const names = (page: k8s.KubernetesListObject<k8s.V1Secret>): string[] => page.items.map(s => `${s.metadata?.namespace}/${s.metadata?.name}`)

  const first = await listPage({ fieldSelector: 'metadata.name=managed', limit: 2 }, withTimeout(5000))
  t.same(names(first), ['a/managed', 'b/managed'])
  t.equal(first.metadata?.resourceVersion, String(api.resourceVersion))
  t.ok(first.metadata?._continue, 'the continue token, under the typed list\'s name')
  t.type(first.items[0]?.metadata?.creationTimestamp, 'string', 'plain JSON, as watch events are: no model classes, no Dates')
  const last = await listPage({ fieldSelector: 'metadata.name=managed', limit: 2, _continue: first.metadata!._continue! }, withTimeout(5000))
  t.same(names(last), ['c/managed'])
  t.notOk(last.metadata?._continue)
  t.same(names(await listPage({ labelSelector: 'tier=gold', limit: 10 }, withTimeout(5000))), ['c/managed'])
  const lists = api.requests.filter(r => r.verb === 'list')
  t.same(lists.map(r => r.query), [
    { fieldSelector: 'metadata.name=managed', limit: '2' },
    { fieldSelector: 'metadata.name=managed', limit: '2', continue: first.metadata!._continue! },
    { labelSelector: 'tier=gold', limit: '10' }
  ])

  const stranger = new k8s.KubeConfig()
  stranger.loadFromOptions({
    clusters: [{ name: 'c', server: started.url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'not-the-token' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c'
  })
  const unauthorized = await listPageAsJson(stranger, '/api/v1/secrets')({ limit: 10 }, withTimeout(5000)).catch((err: unknown) => err)
  t.ok(unauthorized instanceof k8s.ApiException, 'what a typed call throws')
  t.match(apiFailure(unauthorized), { code: 401, reason: 'Unauthorized' })

  api.create({ kind: 'Secret', metadata: { name: 'fresh', namespace: 'a' } })
  api.compact()
  const expired = await listPage({ limit: 2, _continue: first.metadata!._continue! }, withTimeout(5000)).catch((err: unknown) => err)
  t.ok(isStatus(expired, 410, 'Expired'), 'an expired continue token: 410 with its Status')

  api.injectFault({ verb: 'list' }, 'hang', { times: 1 })
  // the double never answers this one: the call options' signal is what ends it
  const hung = await listPage({ limit: 2 }, withTimeout(100)).catch((err: unknown) => err)
  t.match(apiFailure(hung), { reason: 'TimeoutError' })
  api.releaseHung()
})

t.test('kubeconfig errors name the file and never quote it (it holds credentials)', async t => {
  const dir = await tempDir(t)
  const broken = join(dir, 'broken.yaml')
  await writeFile(broken, 'users:\n- name: x\n  user:\n    token: hunter2-token: [\n')
  const err = (() => { try { loadKubeConfig({ file: broken }) } catch (e) { return e as Error } })()
  t.match(err?.message, /^kubeconfig .*broken\.yaml: invalid YAML \(bad indentation of a mapping entry at line 4\)$/)
  t.notMatch(err?.message, /hunter2/)
  t.throws(() => loadKubeConfig({ file: join(dir, 'absent.yaml') }), /absent\.yaml: cannot read \(ENOENT\)/)
})

t.test('the same name in two KUBECONFIG files: the first definition wins, as in kubectl', async t => {
  const { started } = await startApi(t)
  const dir = await tempDir(t)
  await writeFile(join(dir, 'a.yaml'), kubeconfig('dup', started.url))
  await writeFile(join(dir, 'b.yaml'), kubeconfig('dup', 'https://shadowed.example'))
  const loaded = loadKubeConfig({ env: { KUBECONFIG: [join(dir, 'a.yaml'), join(dir, 'b.yaml')].join(delimiter) }, home: dir })
  t.equal(loaded.server, started.url)
  t.equal(loaded.kubeConfig.getClusters().length, 1)
})
