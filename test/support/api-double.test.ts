// The API double, driven only through the real @kubernetes/client-node over HTTP. The informer
// tests also pin down how client-node 2.0.1's ListWatch reacts to stream ends, 410s, resets and
// refused connections, since the live cluster view is built on that behaviour.

import t, { type Test } from 'tap'
import * as k8s from '@kubernetes/client-node'
import { ApiDouble, DEFAULT_USER, waitFor, type ApiDoubleOptions, type RequestMatch } from './api-double.js'

async function startDouble (t: Test, options?: ApiDoubleOptions) {
  const api = new ApiDouble(options)
  const started = await api.start()
  t.teardown(() => api.close())
  const kc = started.kubeConfig()
  return { api, started, kc, core: kc.makeApiClient(k8s.CoreV1Api) }
}

function seed (api: ApiDouble): void {
  api.create({ kind: 'Namespace', metadata: { name: 'team-a', labels: { tenant: 'a' } } })
  api.create({ kind: 'Namespace', metadata: { name: 'team-b', labels: { tenant: 'b' } } })
  api.create({ kind: 'Namespace', metadata: { name: 'shared' } })
  api.create({ kind: 'Secret', metadata: { name: 'pull', namespace: 'team-a', labels: { app: 'pullguard', tier: 'x' } } })
  api.create({ kind: 'Secret', metadata: { name: 'pull', namespace: 'team-b', labels: { app: 'pullguard', tier: 'y' } } })
  api.create({ kind: 'Secret', metadata: { name: 'other', namespace: 'team-b', labels: { app: 'web' } } })
  api.create({ kind: 'Secret', metadata: { name: 'bare', namespace: 'shared' } })
}

/** the HTTP code and Status reason of a rejected client call (ApiException.body is the raw JSON text) */
async function failureOf (call: Promise<unknown>): Promise<{ code: number, reason?: string }> {
  try {
    await call
  } catch (err) {
    if (!(err instanceof k8s.ApiException)) throw err
    const body = typeof err.body === 'string' ? JSON.parse(err.body) as { reason?: string } : {}
    return { code: err.code, reason: body.reason }
  }
  throw new Error('expected the call to fail')
}

/** a rejected client call's code and whole Status body, for the message and details */
async function rejectionOf (call: Promise<unknown>): Promise<{ code: number, status: { reason?: string, message?: string, details?: unknown } }> {
  try {
    await call
  } catch (err) {
    if (!(err instanceof k8s.ApiException)) throw err
    return { code: err.code, status: typeof err.body === 'string' ? JSON.parse(err.body) as { reason?: string } : {} }
  }
  throw new Error('expected the call to fail')
}

const names = (items: ReadonlyArray<{ metadata?: { namespace?: string, name?: string } }>): string[] =>
  items.map((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`)

/** an informer's callbacks as lines: 'add team-a/pull', 'error <name>', 'connect' */
function recordInformer (informer: k8s.Informer<k8s.KubernetesObject>): { events: string[], errors: unknown[] } {
  const events: string[] = []
  const errors: unknown[] = []
  for (const verb of ['add', 'update', 'delete'] as const) {
    informer.on(verb, (o) => events.push(`${verb} ${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`))
  }
  informer.on('connect', () => events.push('connect'))
  informer.on('error', (err) => {
    errors.push(err)
    events.push(`error ${(err as Error).name}`)
  })
  return { events, errors }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('lists what the real client expects: kinds, resourceVersion, scopes', async (t) => {
  const { api, core } = await startDouble(t)
  seed(api)

  const namespaces = await core.listNamespace()
  t.equal(namespaces.kind, 'NamespaceList')
  t.equal(namespaces.apiVersion, 'v1')
  t.equal(namespaces.metadata?.resourceVersion, api.resourceVersion)
  t.same(names(namespaces.items), ['/shared', '/team-a', '/team-b'])
  t.equal(namespaces.items[0]?.kind, undefined, 'list items carry no kind, as from the real apiserver')
  t.equal(namespaces.items[1]?.metadata?.labels?.['kubernetes.io/metadata.name'], 'team-a')
  t.equal(namespaces.items[1]?.status?.phase, 'Active')

  const all = await core.listSecretForAllNamespaces()
  t.equal(all.kind, 'SecretList')
  t.same(names(all.items), ['shared/bare', 'team-a/pull', 'team-b/other', 'team-b/pull'])
  t.same(names((await core.listNamespacedSecret({ namespace: 'team-b' })).items), ['team-b/other', 'team-b/pull'])
  t.same((await core.listNamespacedSecret({ namespace: 'team-a', resourceVersion: '0' })).items.length, 1)

  const tooNew = await failureOf(core.listNamespace({ resourceVersion: '999' }))
  t.same(tooNew, { code: 504, reason: 'Timeout' })
})

t.test('label and field selectors on lists', async (t) => {
  const { api, core } = await startDouble(t)
  seed(api)
  const cases: Array<{ labelSelector?: string, fieldSelector?: string, want: string[] }> = [
    { labelSelector: 'app=pullguard', want: ['team-a/pull', 'team-b/pull'] },
    { labelSelector: 'app==web', want: ['team-b/other'] },
    { labelSelector: 'app!=pullguard', want: ['shared/bare', 'team-b/other'] },
    { labelSelector: 'app', want: ['team-a/pull', 'team-b/other', 'team-b/pull'] },
    { labelSelector: '!app', want: ['shared/bare'] },
    { labelSelector: 'tier in (x, z)', want: ['team-a/pull'] },
    { labelSelector: 'tier notin (x)', want: ['shared/bare', 'team-b/other', 'team-b/pull'] },
    { labelSelector: 'app=pullguard,tier in (x,y),!missing', want: ['team-a/pull', 'team-b/pull'] },
    { fieldSelector: 'metadata.name=pull', want: ['team-a/pull', 'team-b/pull'] },
    { fieldSelector: 'metadata.namespace=team-b,metadata.name!=pull', want: ['team-b/other'] },
    { fieldSelector: 'type=Opaque', labelSelector: 'app=web', want: ['team-b/other'] }
  ]
  for (const { want, ...selectors } of cases) {
    const list = await core.listSecretForAllNamespaces(selectors)
    t.same(names(list.items), want, JSON.stringify(selectors))
  }
  t.same(await failureOf(core.listSecretForAllNamespaces({ labelSelector: 'app in x' })), { code: 400, reason: 'BadRequest' })
  t.same(await failureOf(core.listSecretForAllNamespaces({ fieldSelector: 'spec.x=1' })), { code: 400, reason: 'BadRequest' })
  const namespaces = await core.listNamespace({ labelSelector: 'tenant', fieldSelector: 'metadata.name!=team-b' })
  t.same(names(namespaces.items), ['/team-a'])
})

t.test('limit and continue page through a list', async (t) => {
  const { api, core } = await startDouble(t)
  seed(api)
  const first = await core.listSecretForAllNamespaces({ limit: 3 })
  t.same(names(first.items), ['shared/bare', 'team-a/pull', 'team-b/other'])
  t.ok(first.metadata?._continue)
  const rest = await core.listSecretForAllNamespaces({ limit: 3, _continue: first.metadata!._continue! })
  t.same(names(rest.items), ['team-b/pull'])
  t.equal(rest.metadata?._continue, undefined)
  t.equal(rest.metadata?.resourceVersion, first.metadata?.resourceVersion)
  api.create({ kind: 'Namespace', metadata: { name: 'later' } })
  api.compact()
  t.same(await failureOf(core.listSecretForAllNamespaces({ limit: 3, _continue: first.metadata!._continue! })), { code: 410, reason: 'Expired' })
})

t.test('create, get, update, patch and delete with the real client', async (t) => {
  const { api, core } = await startDouble(t)
  seed(api)
  const rv = () => Number(api.resourceVersion)

  const before = rv()
  const created = await core.createNamespacedSecret({
    namespace: 'team-a',
    body: { metadata: { name: 'cfg', labels: { a: '1' } }, stringData: { token: 'hunter2' } }
  })
  t.equal(rv(), before + 1, 'a create bumps the global resourceVersion')
  t.equal(created.metadata?.resourceVersion, String(rv()))
  t.match(created.metadata?.uid, /^[0-9a-f-]{36}$/)
  t.ok(created.metadata?.creationTimestamp instanceof Date, 'the client deserializes timestamps to Date')
  t.same(created.data, { token: Buffer.from('hunter2').toString('base64') }, 'stringData is folded into data')
  t.equal(created.type, 'Opaque')
  t.equal(created.kind, 'Secret')

  const read = await core.readNamespacedSecret({ name: 'cfg', namespace: 'team-a' })
  t.equal(read.metadata?.uid, created.metadata?.uid)

  t.same(await failureOf(core.createNamespacedSecret({ namespace: 'team-a', body: { metadata: { name: 'cfg' } } })),
    { code: 409, reason: 'AlreadyExists' })
  t.same(await failureOf(core.createNamespacedSecret({ namespace: 'nowhere', body: { metadata: { name: 'cfg' } } })),
    { code: 404, reason: 'NotFound' })
  t.same(await failureOf(core.readNamespacedSecret({ name: 'absent', namespace: 'team-a' })), { code: 404, reason: 'NotFound' })

  read.metadata!.labels = { a: '2' }
  const updated = await core.replaceNamespacedSecret({ name: 'cfg', namespace: 'team-a', body: read })
  t.equal(updated.metadata?.labels?.a, '2')
  t.equal(updated.metadata?.resourceVersion, String(rv()))
  t.equal(updated.metadata?.uid, created.metadata?.uid)

  // read still holds the old resourceVersion: optimistic locking must refuse it
  t.same(await failureOf(core.replaceNamespacedSecret({ name: 'cfg', namespace: 'team-a', body: read })), { code: 409, reason: 'Conflict' })
  t.same(await failureOf(core.replaceNamespacedSecret({ name: 'ghost', namespace: 'team-a', body: { metadata: { name: 'ghost' } } })),
    { code: 404, reason: 'NotFound' })

  const unchangedAt = rv()
  const same = await core.replaceNamespacedSecret({ name: 'cfg', namespace: 'team-a', body: updated })
  t.equal(same.metadata?.resourceVersion, updated.metadata?.resourceVersion, 'a no-op update writes nothing')
  t.equal(rv(), unchangedAt)

  const merged = await core.patchNamespacedSecret(
    { name: 'cfg', namespace: 'team-a', body: { metadata: { labels: { a: null, b: '3' } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)
  )
  t.same(merged.metadata?.labels, { b: '3' })
  const strategic = await core.patchNamespacedSecret(
    { name: 'cfg', namespace: 'team-a', body: { metadata: { annotations: { note: 'x' } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch)
  )
  t.same(strategic.metadata?.annotations, { note: 'x' })
  // without a header the client sends application/json-patch+json
  const patched = await core.patchNamespacedSecret({
    name: 'cfg', namespace: 'team-a', body: [{ op: 'test', path: '/metadata/labels/b', value: '3' }, { op: 'add', path: '/data/more', value: 'eQ==' }]
  })
  t.equal(patched.data?.more, 'eQ==')
  t.same(await failureOf(core.patchNamespacedSecret({ name: 'cfg', namespace: 'team-a', body: [{ op: 'test', path: '/metadata/labels/b', value: 'no' }] })),
    { code: 422, reason: 'Invalid' })
  t.same(await failureOf(core.patchNamespacedSecret(
    { name: 'cfg', namespace: 'team-a', body: { metadata: { resourceVersion: created.metadata!.resourceVersion } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)
  )), { code: 409, reason: 'Conflict' }, 'a resourceVersion in a patch is a precondition')

  t.same(await failureOf(core.deleteNamespacedSecret({ name: 'cfg', namespace: 'team-a', body: { preconditions: { resourceVersion: '1' } } })),
    { code: 409, reason: 'Conflict' })
  const deleted = await core.deleteNamespacedSecret({ name: 'cfg', namespace: 'team-a' })
  t.equal(deleted.status, 'Success')
  t.equal(api.get('Secret', 'team-a', 'cfg'), undefined)
  t.same(await failureOf(core.deleteNamespacedSecret({ name: 'cfg', namespace: 'team-a' })), { code: 404, reason: 'NotFound' })

  const event = await core.createNamespacedEvent({
    namespace: 'team-a',
    body: { metadata: { generateName: 'pullguard-' }, involvedObject: { kind: 'Secret', name: 'pull', namespace: 'team-a' }, reason: 'Synced' }
  })
  t.match(event.metadata?.name, /^pullguard-.{5}$/)
  t.same(api.list('Event').map((e) => e.reason), ['Synced'])
})

t.test('validation the real apiserver applies', async (t) => {
  const { api, core } = await startDouble(t)
  seed(api)
  const dockerconfig = (data: Record<string, string>) => core.createNamespacedSecret({
    namespace: 'team-a', body: { metadata: { name: 'reg' }, type: 'kubernetes.io/dockerconfigjson', data }
  })
  t.same(await failureOf(dockerconfig({})), { code: 422, reason: 'Invalid' }, 'dockerconfigjson needs its key')
  t.same(await failureOf(dockerconfig({ '.dockerconfigjson': Buffer.from('{nope').toString('base64') })), { code: 422, reason: 'Invalid' })
  t.same(await failureOf(dockerconfig({ '.dockerconfigjson': 'not base64!' })), { code: 400, reason: 'BadRequest' })
  const ok = await dockerconfig({ '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') })
  ok.type = 'Opaque'
  t.same(await failureOf(core.replaceNamespacedSecret({ name: 'reg', namespace: 'team-a', body: ok })), { code: 422, reason: 'Invalid' }, 'type is immutable')
  t.same(await failureOf(core.createNamespacedSecret({ namespace: 'team-a', body: { metadata: { name: 'Upper_Case' } } })), { code: 422, reason: 'Invalid' })
  t.same(await failureOf(core.createNamespacedSecret({ namespace: 'team-a', body: { metadata: { name: 'x', resourceVersion: '3' } } })), { code: 500, reason: 'InternalError' })
})

t.test('deleting a namespace takes its contents along', async (t) => {
  const { api, core } = await startDouble(t)
  seed(api)
  await core.deleteNamespace({ name: 'team-b' })
  t.same(api.list('Secret').map((s) => `${s.metadata.namespace}/${s.metadata.name}`), ['shared/bare', 'team-a/pull'])
  t.throws(() => api.create({ kind: 'Secret', metadata: { name: 'late', namespace: 'team-b' } }), { code: 404 })
})

t.test('an informer receives add, update and delete', async (t) => {
  const { api, kc, core } = await startDouble(t)
  seed(api)
  const informer = k8s.makeInformer(kc, '/api/v1/namespaces/team-a/secrets', () => core.listNamespacedSecret({ namespace: 'team-a' }))
  const { events, errors } = recordInformer(informer)
  await informer.start()
  t.teardown(() => informer.stop())
  t.same(events, ['connect', 'add team-a/pull'], 'start() resolves after the list and the watch request')

  api.create({ kind: 'Secret', metadata: { name: 'new', namespace: 'team-a' } })
  const current = api.get<k8s.V1Secret>('Secret', 'team-a', 'pull')!
  current.metadata!.labels = { changed: 'yes' }
  api.update(current)
  await core.deleteNamespacedSecret({ name: 'new', namespace: 'team-a' })
  api.create({ kind: 'Secret', metadata: { name: 'elsewhere', namespace: 'team-b' } })
  await waitFor(() => events.length === 5, 'three more events')
  t.same(events.slice(2), ['add team-a/new', 'update team-a/pull', 'delete team-a/new'])
  t.same(informer.get('pull', 'team-a')?.metadata?.labels, { changed: 'yes' })
  t.same(names(informer.list()).sort(), ['team-a/pull'])
  t.same(errors, [])
})

t.test('an informer with a field selector over all namespaces (ListWatch: makeInformer takes no field selector)', async (t) => {
  const { api, kc, core } = await startDouble(t)
  seed(api)
  const fieldSelector = 'metadata.name=pull'
  // the list function must apply the same selector itself: ListWatch passes selectors only to the watch
  const informer = new k8s.ListWatch('/api/v1/secrets', new k8s.Watch(kc), () => core.listSecretForAllNamespaces({ fieldSelector }), false, undefined, fieldSelector)
  const { events } = recordInformer(informer)
  await informer.start()
  t.teardown(() => informer.stop())
  t.same(events, ['connect', 'add team-a/pull', 'add team-b/pull'])
  t.equal(api.requests.find((r) => r.verb === 'watch')?.query.fieldSelector, fieldSelector)

  api.create({ kind: 'Secret', metadata: { name: 'pull', namespace: 'shared' } })
  api.create({ kind: 'Secret', metadata: { name: 'push', namespace: 'shared' } })
  api.remove('Secret', 'team-a', 'pull')
  await waitFor(() => events.length === 5, 'two more events')
  t.same(events.slice(3), ['add shared/pull', 'delete team-a/pull'])
  t.same(names(informer.list()).sort(), ['shared/pull', 'team-b/pull'])
})

t.test('an object that stops matching a label selector is a delete to that watcher', async (t) => {
  const { api, kc, core } = await startDouble(t)
  seed(api)
  const informer = k8s.makeInformer(kc, '/api/v1/namespaces', () => core.listNamespace({ labelSelector: 'tenant' }), 'tenant')
  const { events } = recordInformer(informer)
  await informer.start()
  t.teardown(() => informer.stop())
  const teamA = api.get<k8s.V1Namespace>('Namespace', undefined, 'team-a')!
  teamA.metadata!.labels = {}
  api.update(teamA)
  const shared = api.get<k8s.V1Namespace>('Namespace', undefined, 'shared')!
  shared.metadata!.labels = { tenant: 'c' }
  api.update(shared)
  await waitFor(() => events.length === 5, 'a delete and an add')
  t.same(events, ['connect', 'add /team-a', 'add /team-b', 'delete /team-a', 'add /shared'])
  t.same(names(informer.list()).sort(), ['/shared', '/team-b'])
})

t.test('raw watch: replay, initial state, bookmarks, timeouts and 410', async (t) => {
  const { api, kc } = await startDouble(t, { bookmarkIntervalMs: 50, watchTimeoutSeconds: 1 })
  seed(api)
  const watch = new k8s.Watch(kc)
  const run = (path: string, query: Record<string, string | boolean | number>) => new Promise<{ lines: string[], err: unknown }>((resolve) => {
    const lines: string[] = []
    const pending = watch.watch(path, query, (type, obj: k8s.KubernetesObject & { code?: number }) => {
      lines.push(type === 'BOOKMARK' ? `BOOKMARK ${obj.metadata?.resourceVersion}` : type === 'ERROR' ? `ERROR ${obj.code}` : `${type} ${obj.metadata?.name}`)
    }, (err) => resolve({ lines, err }))
    void pending.then((controller) => t.teardown(() => controller.abort()))
  })

  const rv = Number(api.resourceVersion)
  api.create({ kind: 'Secret', metadata: { name: 'late', namespace: 'team-a' } })
  api.remove('Secret', 'team-a', 'late')
  // both streams run for one second: the first by its timeoutSeconds, the second by the server's cap
  const replay = run('/api/v1/namespaces/team-a/secrets', { resourceVersion: String(rv), timeoutSeconds: 1 })
  const initial = run('/api/v1/secrets', { labelSelector: 'app=pullguard', allowWatchBookmarks: true })
  await api.waitForWatchers(2)
  api.create({ kind: 'Secret', metadata: { name: 'x', namespace: 'shared', labels: { app: 'pullguard' } } })
  api.create({ kind: 'Secret', metadata: { name: 'y', namespace: 'shared' } })

  const replayed = await replay
  t.same(replayed.lines, ['ADDED late', 'DELETED late'], 'changes after the given resourceVersion, then a clean end')
  t.equal(replayed.err, null)
  const { lines, err } = await initial
  t.same(lines.slice(0, 3), ['ADDED pull', 'ADDED pull', 'ADDED x'], 'no resourceVersion: the current state as ADDED first')
  t.ok(lines.filter((l) => l === `BOOKMARK ${api.resourceVersion}`).length >= 5, 'bookmarks carry the current resourceVersion')
  t.equal(err, null)

  api.compact()
  const expired = await run('/api/v1/secrets', { resourceVersion: String(rv) })
  t.same(expired.lines, ['ERROR 410'], 'a resourceVersion older than the history: one ERROR 410 event, then the end')
  t.equal(expired.err, null)

  api.failNext(1, { status: 410 }, { verb: 'watch' })
  const gone = await run('/api/v1/secrets', { resourceVersion: api.resourceVersion })
  t.equal((gone.err as { statusCode?: number }).statusCode, 410, 'a non-200 watch answer reaches done() as err.statusCode')
})

t.test('informer: a clean end of the watch reconnects by itself from its resourceVersion', async (t) => {
  const { api, kc, core } = await startDouble(t)
  seed(api)
  const informer = k8s.makeInformer(kc, '/api/v1/namespaces', () => core.listNamespace())
  const { events, errors } = recordInformer(informer)
  await informer.start()
  t.teardown(() => informer.stop())
  const listedAt = api.resourceVersion
  api.endWatches()
  await api.waitForWatchers(1)
  api.create({ kind: 'Namespace', metadata: { name: 'after' } })
  await waitFor(() => informer.get('after') !== undefined, 'the new namespace')
  t.same(events.slice(4), ['connect', 'add /after'], "'connect' again, no relist, no error")
  t.equal(api.stats().byVerb.list, 1)
  t.equal(api.requests.filter((r) => r.verb === 'watch').at(-1)?.query.resourceVersion, listedAt)
  t.same(errors, [])
})

t.test('informer: a dropped connection is an error and stops it; start() resumes without a relist', async (t) => {
  const { api, kc, core } = await startDouble(t)
  seed(api)
  const informer = k8s.makeInformer(kc, '/api/v1/namespaces', () => core.listNamespace())
  const { events, errors } = recordInformer(informer)
  await informer.start()
  t.teardown(() => informer.stop())

  api.dropWatches()
  await waitFor(() => errors.length === 1, 'the error')
  t.match(errors[0], { name: 'TypeError', message: 'terminated' })
  api.create({ kind: 'Namespace', metadata: { name: 'meanwhile' } })
  await sleep(50)
  t.equal(api.watcherCount(), 0, 'no automatic restart after an error')
  t.equal(informer.get('meanwhile'), undefined)

  await informer.start()
  await waitFor(() => informer.get('meanwhile') !== undefined, 'the change made while it was down')
  t.equal(api.stats().byVerb.list, 1, 'resumed from its resourceVersion: the history replays what it missed')
  t.same(events.slice(-2), ['connect', 'add /meanwhile'])
})

t.test('informer: after an apiserver restart the 410 makes it relist and converge', async (t) => {
  const { api, kc, core } = await startDouble(t)
  seed(api)
  const informer = k8s.makeInformer(kc, '/api/v1/namespaces', () => core.listNamespace())
  const { events, errors } = recordInformer(informer)
  await informer.start()
  t.teardown(() => informer.stop())

  api.restart({ newResourceVersionBase: 1000 })
  await waitFor(() => errors.length === 1, 'the error from the dropped watch')
  api.remove('Namespace', undefined, 'shared')
  api.create({ kind: 'Namespace', metadata: { name: 'fresh' } })
  t.ok(Number(api.resourceVersion) > 1000)

  await informer.start()
  await waitFor(() => informer.get('fresh') !== undefined, 'the relist')
  t.same(events.slice(-4), ['connect', 'connect', 'delete /shared', 'add /fresh'],
    'the watch got ERROR 410, ended, and the informer reconnected with a fresh list')
  t.equal(api.stats().byVerb.list, 2)
  t.same(names(informer.list()).sort(), ['/fresh', '/team-a', '/team-b'])
  t.equal(errors.length, 1, 'the 410 itself is not an error event')
})

t.test('informer: connection refused is an error; a consumer restarts it once the server is back', async (t) => {
  const { api, kc, core } = await startDouble(t)
  seed(api)
  const informer = k8s.makeInformer(kc, '/api/v1/namespaces', () => core.listNamespace())
  const { errors } = recordInformer(informer)
  await informer.start()
  t.teardown(() => informer.stop())

  await api.setDown(true)
  await waitFor(() => errors.length === 1, 'the dropped watch')
  await informer.start()
  t.equal(errors.length, 2, 'start() resolves; the refusal arrives as an error event')
  t.match(errors[1], { name: 'TypeError', message: 'fetch failed', cause: { code: 'ECONNREFUSED' } })
  await t.rejects(core.listNamespace(), { message: 'fetch failed', cause: { code: 'ECONNREFUSED' } }, 'typed calls reject with the transport error')

  await api.setDown(false)
  api.create({ kind: 'Namespace', metadata: { name: 'back' } })
  await informer.start()
  await waitFor(() => informer.get('back') !== undefined, 'convergence')
  t.equal(errors.length, 2)
})

t.test('informer: a non-200 watch answer is an error; a failed list is an error', async (t) => {
  const { api, kc, core } = await startDouble(t)
  seed(api)
  const informer = k8s.makeInformer(kc, '/api/v1/namespaces', () => core.listNamespace())
  const { errors } = recordInformer(informer)
  api.failNext(1, { status: 500 }, { verb: 'list' })
  await informer.start()
  t.equal((errors[0] as k8s.ApiException<string>).code, 500)
  t.same(informer.list(), [])
  api.failNext(1, { status: 503 }, { verb: 'watch' })
  await informer.start()
  t.equal((errors[1] as { statusCode?: number }).statusCode, 503)
  t.equal(informer.list().length, 3, 'the list succeeded before the watch failed')
  await informer.start()
  t.equal(api.watcherCount(), 1)
  await informer.stop()
})

t.test('informer: stop() reports an AbortError, and does not cancel a pending reconnect', async (t) => {
  const { api, kc, core } = await startDouble(t)
  seed(api)
  let releaseDelay = () => {}
  const delays: number[] = []
  // ListWatch's options.delayFn paces reconnects: 0 ms after the first clean end, then 1 s doubling to 30 s
  const informer = new k8s.ListWatch('/api/v1/namespaces', new k8s.Watch(kc), () => core.listNamespace(), false, undefined, undefined, {
    delayFn: (ms) => {
      delays.push(ms)
      return new Promise<void>((resolve) => { releaseDelay = resolve })
    }
  })
  const { errors } = recordInformer(informer)
  await informer.start()
  await informer.stop()
  await waitFor(() => errors.length === 1, 'the abort')
  t.match(errors[0], { name: 'AbortError' })

  await informer.start()
  api.endWatches()
  await api.waitForWatchers(1)
  api.endWatches()
  await waitFor(() => delays.length === 1, 'the backoff')
  t.same(delays, [1000])
  await informer.stop()
  releaseDelay()
  await api.waitForWatchers(1)
  t.pass('a watch opened after stop(): consumers must make delayFn stoppable or ignore a stopped informer')
  await informer.stop()
})

t.test('faults: status, reset, hang, down with 503', async (t) => {
  const { api, core } = await startDouble(t)
  seed(api)
  api.failNext(2, { status: 500 })
  t.same(await failureOf(core.listNamespace()), { code: 500, reason: 'InternalError' })
  t.same(await failureOf(core.readNamespace({ name: 'team-a' })), { code: 500, reason: 'InternalError' })
  t.equal((await core.readNamespace({ name: 'team-a' })).metadata?.name, 'team-a')

  const remove = api.injectFault((r) => r.verb === 'create' && r.resource === 'secrets', { status: 429, message: 'slow down' })
  t.same(await failureOf(core.createNamespacedSecret({ namespace: 'team-a', body: { metadata: { name: 'x' } } })), { code: 429, reason: 'TooManyRequests' })
  remove()
  await core.createNamespacedSecret({ namespace: 'team-a', body: { metadata: { name: 'x' } } })

  api.injectFault({ verb: 'get' }, 'reset', { times: 1 })
  await t.rejects(core.readNamespace({ name: 'team-a' }), { message: 'fetch failed' })

  api.hang()
  let settled = false
  const pending = core.readNamespace({ name: 'team-a' }).finally(() => { settled = true })
  await waitFor(() => api.requests.at(-1)?.fault === 'hang', 'the hung request')
  await sleep(50)
  t.notOk(settled, 'a hung request stays unanswered')
  api.releaseHung()
  t.equal((await pending).metadata?.name, 'team-a')

  // a consumer bounds a call with a signal set by (observable) middleware
  api.injectFault({ verb: 'get' }, 'hang', { times: 1 })
  const withTimeout = {
    middleware: [{
      pre: (ctx: k8s.RequestContext) => {
        ctx.setSignal(AbortSignal.timeout(50))
        return new k8s.Observable(Promise.resolve(ctx))
      },
      post: (res: k8s.ResponseContext) => new k8s.Observable(Promise.resolve(res))
    }],
    middlewareMergeStrategy: 'append' as const
  }
  await t.rejects(core.readNamespace({ name: 'team-a' }, withTimeout), { name: 'TimeoutError' })

  await api.setDown(true, { mode: '503' })
  t.same(await failureOf(core.listNamespace()), { code: 503, reason: 'ServiceUnavailable' })
  await api.setDown(false)
  t.equal((await core.listNamespace()).items.length, 3)
})

t.test('request log, stats and auth', async (t) => {
  const { api, started, core } = await startDouble(t)
  seed(api)
  await core.listNamespace({ labelSelector: 'tenant' })
  await core.readNamespacedSecret({ name: 'pull', namespace: 'team-a' })
  t.same(api.requests.map(({ method, path, verb, resource, namespace, name, status }) => ({ method, path, verb, resource, namespace, name, status })), [
    { method: 'GET', path: '/api/v1/namespaces', verb: 'list', resource: 'namespaces', namespace: undefined, name: undefined, status: 200 },
    { method: 'GET', path: '/api/v1/namespaces/team-a/secrets/pull', verb: 'get', resource: 'secrets', namespace: 'team-a', name: 'pull', status: 200 }
  ])
  t.same(api.requests[0]?.query, { labelSelector: 'tenant' })
  t.match(api.stats(), { total: 2, writes: 0, byVerb: { list: 1, get: 1 } }, 'in-process helpers are not requests')
  await core.deleteNamespacedSecret({ name: 'pull', namespace: 'team-a' })
  t.equal(api.stats().writes, 1)
  api.clearRequests()
  t.equal(api.stats().total, 0)

  const stranger = new k8s.KubeConfig()
  stranger.loadFromOptions({
    clusters: [{ name: 'c', server: started.url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'wrong' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x'
  })
  await t.rejects(stranger.makeApiClient(k8s.CoreV1Api).listNamespace(), { code: 401 })
})

t.test('a kubeconfig file for CLI tests', async (t) => {
  const { api, started } = await startDouble(t)
  seed(api)
  const file = await started.writeKubeconfig()
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(file)
  t.equal(kc.getCurrentCluster()?.server, started.url)
  t.equal((await kc.makeApiClient(k8s.CoreV1Api).listNamespace()).items.length, 3)
})

// -- API groups ---------------------------------------------------------------------------------

const LEADER = 'pullguard-leader'

t.test('coordination.k8s.io/v1 leases through CoordinationV1Api: the read-modify-write of leader election', async (t) => {
  const { api, kc } = await startDouble(t)
  seed(api)
  const leases = kc.makeApiClient(k8s.CoordinationV1Api)
  const acquired = new k8s.V1MicroTime('2026-01-02T03:04:05.678Z')
  const created = await leases.createNamespacedLease({
    namespace: 'team-a',
    body: { metadata: { name: LEADER }, spec: { holderIdentity: 'replica-a', leaseDurationSeconds: 15, acquireTime: acquired, renewTime: acquired, leaseTransitions: 0 } }
  })
  t.equal(created.kind, 'Lease')
  t.equal(created.apiVersion, 'coordination.k8s.io/v1')
  t.same({ ...created.spec }, {
    holderIdentity: 'replica-a', leaseDurationSeconds: 15, acquireTime: '2026-01-02T03:04:05.678000Z', renewTime: '2026-01-02T03:04:05.678000Z', leaseTransitions: 0
  }, 'spec fields pass through; MicroTimes come back with six digits')
  t.match(api.requests.at(-1), { path: `/apis/coordination.k8s.io/v1/namespaces/team-a/leases`, verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: 'team-a', status: 201 })

  const list = await leases.listNamespacedLease({ namespace: 'team-a' })
  t.equal(list.kind, 'LeaseList')
  t.equal(list.apiVersion, 'coordination.k8s.io/v1')
  t.same(names(list.items), [`team-a/${LEADER}`])
  t.same(names((await leases.listLeaseForAllNamespaces()).items), [`team-a/${LEADER}`])

  // renew as client-go's leader election does: read, change holder and renewTime, replace
  const read = await leases.readNamespacedLease({ name: LEADER, namespace: 'team-a' })
  t.equal(typeof read.spec?.acquireTime, 'string', 'the typed client leaves a MicroTime a string, despite its V1MicroTime type')
  t.ok(read.metadata?.creationTimestamp instanceof Date, 'while a Time becomes a Date')
  read.spec!.holderIdentity = 'replica-b'
  read.spec!.renewTime = new k8s.V1MicroTime('2026-01-02T03:04:20.001Z')
  read.spec!.leaseTransitions = 1
  const renewed = await leases.replaceNamespacedLease({ name: LEADER, namespace: 'team-a', body: read })
  t.same({ ...renewed.spec }, {
    holderIdentity: 'replica-b', leaseDurationSeconds: 15, acquireTime: '2026-01-02T03:04:05.678000Z', renewTime: '2026-01-02T03:04:20.001000Z', leaseTransitions: 1
  }, 'the acquireTime read back as a string survives the write unchanged')
  t.equal(api.get<k8s.V1Lease>('Lease', 'team-a', LEADER)?.spec?.holderIdentity, 'replica-b')

  const stale = await rejectionOf(leases.replaceNamespacedLease({ name: LEADER, namespace: 'team-a', body: read }))
  t.same(stale, {
    code: 409,
    status: {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Conflict', code: 409,
      message: `Operation cannot be fulfilled on leases.coordination.k8s.io "${LEADER}": the object has been modified; please apply your changes to the latest version and try again`,
      details: { name: LEADER, group: 'coordination.k8s.io', kind: 'leases' }
    }
  }, 'a stale resourceVersion: the other replica renewed first')
  t.match(await rejectionOf(leases.createNamespacedLease({ namespace: 'team-a', body: { metadata: { name: LEADER } } })),
    { code: 409, status: { reason: 'AlreadyExists', message: `leases.coordination.k8s.io "${LEADER}" already exists` } })
  t.match(await rejectionOf(leases.readNamespacedLease({ name: 'absent', namespace: 'team-a' })),
    { code: 404, status: { reason: 'NotFound', message: 'leases.coordination.k8s.io "absent" not found', details: { group: 'coordination.k8s.io', kind: 'leases' } } })
  t.match(await rejectionOf(leases.createNamespacedLease({ namespace: 'nowhere', body: { metadata: { name: LEADER } } })), { code: 404 })
  t.match(await rejectionOf(leases.createNamespacedLease({ namespace: 'team-a', body: { metadata: { name: 'bad' }, spec: { leaseDurationSeconds: 0 } } })),
    { code: 422, status: { reason: 'Invalid', message: 'Lease.coordination.k8s.io "bad" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0' } })

  const patched = await leases.patchNamespacedLease(
    { name: LEADER, namespace: 'team-a', body: { spec: { holderIdentity: null } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)
  )
  t.equal(patched.spec?.holderIdentity, undefined, 'a release clears the holder')
  const deleted = await leases.deleteNamespacedLease({ name: LEADER, namespace: 'team-a' })
  t.match(deleted, { status: 'Success', details: { name: LEADER, group: 'coordination.k8s.io', kind: 'leases' } })
  t.equal(api.get('Lease', 'team-a', LEADER), undefined)
  t.same(await failureOf(leases.deleteNamespacedLease({ name: LEADER, namespace: 'team-a' })), { code: 404, reason: 'NotFound' })
})

t.test('MicroTime: exactly six fractional digits or a 400, served back in UTC', async (t) => {
  const { api, kc } = await startDouble(t)
  seed(api)
  const leases = kc.makeApiClient(k8s.CoordinationV1Api)
  const cases: Array<{ name: string, renewTime: unknown, stored?: string, message?: string }> = [
    { name: 'a V1MicroTime pads its milliseconds', renewTime: new k8s.V1MicroTime('2026-01-02T03:04:05.678Z'), stored: '2026-01-02T03:04:05.678000Z' },
    { name: 'six digits with an offset', renewTime: '2026-01-02T05:04:05.123456+02:00', stored: '2026-01-02T03:04:05.123456Z' },
    { name: 'null is the field left out', renewTime: null },
    {
      name: 'a plain Date: the typed client sends toISOString()',
      renewTime: new Date('2026-01-02T03:04:05.678Z'),
      message: 'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-01-02T03:04:05.678Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".678Z" as ".000000"'
    },
    { name: 'whole seconds', renewTime: '2026-01-02T03:04:05Z', message: 'cannot parse "Z" as ".000000"' },
    { name: 'nanoseconds', renewTime: '2026-01-02T03:04:05.123456789Z', message: 'cannot parse "789Z" as "Z07:00"' },
    { name: 'a date alone', renewTime: '2026-01-02', message: 'cannot parse "2026-01-02" as "2006-01-02T15:04:05.000000Z07:00"' },
    { name: 'a number', renewTime: 1767323045, message: 'json: cannot unmarshal number into Go value of type string' }
  ]
  for (const [i, { name, renewTime, stored, message }] of cases.entries()) {
    const call = leases.createNamespacedLease({ namespace: 'team-a', body: { metadata: { name: `lease-${i}` }, spec: { renewTime: renewTime as k8s.V1MicroTime } } })
    if (message === undefined) {
      t.equal((await call).spec?.renewTime, stored, name)
    } else {
      const { code, status } = await rejectionOf(call)
      t.equal(code, 400, name)
      t.ok(status.message?.includes(message), `${name}: ${status.message}`)
    }
  }
  t.throws(() => api.create({ kind: 'Lease', metadata: { name: 'helper', namespace: 'team-a' }, spec: { renewTime: '2026-01-02T03:04:05Z' } }), { code: 400 },
    'the in-process helpers decode the same way')
})

t.test('events.k8s.io/v1 events through EventsV1Api: a series that moves on, the rest immutable', async (t) => {
  const { api, kc, core } = await startDouble(t)
  seed(api)
  const events = kc.makeApiClient(k8s.EventsV1Api)
  const observed = new k8s.V1MicroTime('2026-01-02T03:04:05.678Z')
  const body: k8s.EventsV1Event = {
    metadata: { name: 'pull.conflict' },
    eventTime: observed,
    reportingController: 'pullguard.io/projector',
    reportingInstance: 'pullguard-7d9f-abcde',
    action: 'Reconcile',
    reason: 'ManagedSecretConflict',
    note: 'a Secret with the managed name exists',
    type: 'Warning',
    regarding: { apiVersion: 'v1', kind: 'Secret', name: 'pull', namespace: 'team-a' },
    series: { count: 2, lastObservedTime: observed }
  }
  const created = await events.createNamespacedEvent({ namespace: 'team-a', body })
  t.equal(created.kind, 'Event')
  t.equal(created.apiVersion, 'events.k8s.io/v1')
  t.equal(created.eventTime as unknown, '2026-01-02T03:04:05.678000Z')
  t.same({ ...created.series }, { count: 2, lastObservedTime: '2026-01-02T03:04:05.678000Z' })
  t.same(api.list('Event'), [], 'core/v1 events are another table here (one storage in the real apiserver)')
  t.same(api.list('events.events.k8s.io').map((e) => e.metadata.name), ['pull.conflict'])
  t.same((await core.listNamespacedEvent({ namespace: 'team-a' })).items, [])

  const read = await events.readNamespacedEvent({ name: 'pull.conflict', namespace: 'team-a' })
  read.series = { count: 3, lastObservedTime: new k8s.V1MicroTime('2026-01-02T03:05:00Z') }
  const replaced = await events.replaceNamespacedEvent({ name: 'pull.conflict', namespace: 'team-a', body: read })
  t.same({ ...replaced.series }, { count: 3, lastObservedTime: '2026-01-02T03:05:00.000000Z' })
  t.equal(replaced.eventTime as unknown, '2026-01-02T03:04:05.678000Z', 'the eventTime read back survives the replace')
  const patched = await events.patchNamespacedEvent(
    { name: 'pull.conflict', namespace: 'team-a', body: { series: { count: 4, lastObservedTime: new k8s.V1MicroTime('2026-01-02T03:06:00Z') } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)
  )
  t.equal(patched.series?.count, 4)
  t.same(await failureOf(events.replaceNamespacedEvent({ name: 'pull.conflict', namespace: 'team-a', body: read })), { code: 409, reason: 'Conflict' })

  const immutable = await rejectionOf(events.patchNamespacedEvent(
    { name: 'pull.conflict', namespace: 'team-a', body: { note: 'changed', reason: 'Other' } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)
  ))
  t.match(immutable, {
    code: 422,
    status: {
      reason: 'Invalid',
      message: 'Event.events.k8s.io "pull.conflict" is invalid: [reason: Invalid value: "Other": field is immutable, message: Invalid value: "changed": field is immutable]',
      details: { name: 'pull.conflict', group: 'events.k8s.io', kind: 'Event' }
    }
  }, 'field paths name the core fields (message for note), as the apiserver does')
  t.same(await failureOf(events.patchNamespacedEvent(
    { name: 'pull.conflict', namespace: 'team-a', body: { series: { count: 1 } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)
  )), { code: 422, reason: 'Invalid' }, 'a changed series is validated again')

  const selected = await events.listNamespacedEvent({ namespace: 'team-a', fieldSelector: 'regarding.name=pull,reportingController=pullguard.io/projector' })
  t.equal(selected.kind, 'EventList')
  t.same(names(selected.items), ['team-a/pull.conflict'])
  t.same(await failureOf(events.listNamespacedEvent({ namespace: 'team-a', fieldSelector: 'involvedObject.name=pull' })), { code: 400, reason: 'BadRequest' },
    'the core field names are not selectors here')
  t.equal(api.requests.at(-1)?.path, '/apis/events.k8s.io/v1/namespaces/team-a/events')

  await events.deleteNamespacedEvent({ name: 'pull.conflict', namespace: 'team-a' })
  t.same(await failureOf(events.readNamespacedEvent({ name: 'pull.conflict', namespace: 'team-a' })), { code: 404, reason: 'NotFound' })
})

t.test('events.k8s.io/v1 create validation', async (t) => {
  const { api, kc } = await startDouble(t)
  seed(api)
  const events = kc.makeApiClient(k8s.EventsV1Api)
  const valid: k8s.EventsV1Event = {
    eventTime: new k8s.V1MicroTime('2026-01-02T03:04:05.678Z'),
    reportingController: 'pullguard',
    reportingInstance: 'pod-1',
    action: 'Reconcile',
    reason: 'Synced',
    type: 'Normal',
    regarding: { kind: 'Secret', name: 'pull', namespace: 'team-a' }
  }
  const cases: Array<{ name: string, change: Record<string, unknown>, errors?: string[] }> = [
    { name: 'the valid base', change: {} },
    { name: 'no eventTime', change: { eventTime: undefined }, errors: ['eventTime: Required value'] },
    { name: 'no reportingController', change: { reportingController: undefined }, errors: ['reportingController: Required value', 'reportingController: Invalid value: "": must be a qualified name'] },
    { name: 'a reportingController that is no qualified name', change: { reportingController: 'pull guard' }, errors: ['reportingController: Invalid value: "pull guard": must be a qualified name'] },
    { name: 'no action, no reason', change: { action: undefined, reason: undefined }, errors: ['action: Required value', 'reason: Required value'] },
    { name: 'a long reportingInstance', change: { reportingInstance: 'x'.repeat(129) }, errors: ['reportingInstance: Invalid value: "": can have at most 128 characters'] },
    { name: 'an unknown type', change: { type: 'Fatal' }, errors: ['type: Invalid value: "": has invalid value: Fatal'] },
    { name: 'a series of one', change: { series: { count: 1 } }, errors: ['series.count: Invalid value: "": should be at least 2', 'series.lastObservedTime: Required value'] },
    { name: 'a deprecated field set', change: { deprecatedCount: 3, deprecatedSource: { component: 'x' } }, errors: ['count: Invalid value: "": needs to be unset', 'source: Invalid value: "": needs to be unset'] },
    { name: 'regarding another namespace, no eventTime', change: { eventTime: undefined, regarding: { kind: 'Secret', name: 'pull', namespace: 'team-b' } }, errors: ['involvedObject.namespace: Invalid value: "team-b": does not match event.namespace', 'eventTime: Required value'] }
  ]
  for (const [i, { name, change, errors }] of cases.entries()) {
    const call = events.createNamespacedEvent({ namespace: 'team-a', body: { ...valid, ...change, metadata: { name: `case-${i}` } } as k8s.EventsV1Event })
    if (errors === undefined) {
      t.equal((await call).metadata?.name, `case-${i}`, name)
      continue
    }
    const { code, status } = await rejectionOf(call)
    t.equal(code, 422, name)
    t.same((status.details as { causes?: Array<{ message: string }> }).causes?.map((c) => c.message), errors, name)
  }
})

t.test('an informer and a raw watch on leases', async (t) => {
  const { api, kc } = await startDouble(t, { bookmarkIntervalMs: 20 })
  seed(api)
  const leases = kc.makeApiClient(k8s.CoordinationV1Api)
  const informer = k8s.makeInformer(kc, '/apis/coordination.k8s.io/v1/namespaces/team-a/leases', () => leases.listNamespacedLease({ namespace: 'team-a' }))
  const { events, errors } = recordInformer(informer)
  await informer.start()
  t.teardown(() => informer.stop())
  await api.waitForWatchers(1, 'leases.coordination.k8s.io')

  const lease = await leases.createNamespacedLease({ namespace: 'team-a', body: { metadata: { name: LEADER }, spec: { holderIdentity: 'replica-a' } } })
  lease.spec!.holderIdentity = 'replica-b'
  await leases.replaceNamespacedLease({ name: LEADER, namespace: 'team-a', body: lease })
  api.create({ kind: 'Lease', metadata: { name: 'elsewhere', namespace: 'team-b' } })
  api.create({ kind: 'Secret', metadata: { name: LEADER, namespace: 'team-a' } })
  await leases.deleteNamespacedLease({ name: LEADER, namespace: 'team-a' })
  await waitFor(() => events.length === 4, 'three lease events')
  t.same(events, ['connect', `add team-a/${LEADER}`, `update team-a/${LEADER}`, `delete team-a/${LEADER}`], 'only leases, only in team-a')
  t.same(errors, [])

  const lines: string[] = []
  const controller = await new k8s.Watch(kc).watch('/apis/coordination.k8s.io/v1/leases', { allowWatchBookmarks: true }, (type, obj: k8s.KubernetesObject) => {
    lines.push(`${type} ${obj.apiVersion}/${obj.kind} ${obj.metadata?.name ?? ''}`)
  }, () => {})
  t.teardown(() => controller.abort())
  await waitFor(() => lines.some((l) => l.startsWith('BOOKMARK')), 'a bookmark')
  t.same(lines.slice(0, 2), ['ADDED coordination.k8s.io/v1/Lease elsewhere', 'BOOKMARK coordination.k8s.io/v1/Lease '],
    'watch events and bookmarks carry the group\'s apiVersion')
})

t.test('discovery lists the groups, as KubernetesObjectApi needs it', async (t) => {
  const { api, kc } = await startDouble(t)
  seed(api)
  const groups = await kc.makeApiClient(k8s.ApisApi).getAPIVersions()
  t.same(groups.groups.map((g) => g.preferredVersion?.groupVersion), ['coordination.k8s.io/v1', 'events.k8s.io/v1'])
  t.same((await kc.makeApiClient(k8s.CoordinationApi).getAPIGroup()).versions.map((v) => v.groupVersion), ['coordination.k8s.io/v1'])
  const resources = await kc.makeApiClient(k8s.EventsV1Api).getAPIResources()
  t.same(resources.resources.map((r) => `${r.name} ${r.kind} ${r.namespaced}`), ['events Event true'])
  t.same((await kc.makeApiClient(k8s.CoreV1Api).getAPIResources()).resources.map((r) => r.name), ['namespaces', 'secrets', 'serviceaccounts', 'events'], 'the core list keeps to core')

  // the generic client finds the plural through /apis/coordination.k8s.io/v1
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc)
  await objects.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LEADER, namespace: 'team-b' }, spec: { holderIdentity: 'x' } } as k8s.V1Lease)
  const read = await objects.read<k8s.V1Lease>({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LEADER, namespace: 'team-b' } })
  t.equal(read.spec?.holderIdentity, 'x')
  t.ok(api.requests.some((r) => r.path === '/apis/coordination.k8s.io/v1' && r.status === 200))
})

// -- identities ---------------------------------------------------------------------------------

const SYSTEM = 'pullguard-system'

t.test('each kubeconfig user is an identity the request log records', async (t) => {
  const { api, started, core } = await startDouble(t, { token: 'sekret' })
  seed(api)
  const replicaA = started.kubeConfig({ user: 'replica-a' })
  t.equal(replicaA.getCurrentUser()?.name, 'replica-a')
  t.not(replicaA.getCurrentUser()?.token, 'sekret', 'a token of its own')
  await replicaA.makeApiClient(k8s.CoreV1Api).listNamespace()
  await started.kubeConfig({ user: 'system:serviceaccount:pullguard-system:pullguard' }).makeApiClient(k8s.CoordinationV1Api).listNamespacedLease({ namespace: 'team-a' })
  await core.listNamespace()
  const file = await started.writeKubeconfig({ user: 'cli' })
  const fromFile = new k8s.KubeConfig()
  fromFile.loadFromFile(file)
  await fromFile.makeApiClient(k8s.CoreV1Api).listNamespace()
  t.same(api.requests.map((r) => `${r.user} ${r.verb} ${r.resource}`), [
    'replica-a list namespaces',
    'system:serviceaccount:pullguard-system:pullguard list leases',
    `${DEFAULT_USER} list namespaces`,
    'cli list namespaces'
  ])

  const withToken = (token: string) => {
    const kc = new k8s.KubeConfig()
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: started.url, skipTLSVerify: true }],
      users: [{ name: 'u', token }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x'
    })
    return kc.makeApiClient(k8s.CoreV1Api).listNamespace()
  }
  const base64url = (text: string) => Buffer.from(text).toString('base64url')
  t.equal((await withToken(`sekret.${base64url('never-issued')}`)).items.length, 3, 'any token of the issued form is accepted')
  t.equal(api.requests.at(-1)?.user, 'never-issued')
  const refused = ['wrong', 'sekretX', 'sekret.', `sekret.${base64url('replica-a')}=`, `sekret.${base64url('replica-a')}!`, `other.${base64url('replica-a')}`]
  for (const token of refused) {
    await t.rejects(withToken(token), { code: 401 }, token)
    t.equal(api.requests.at(-1)?.user, undefined, `${token}: no user`)
  }
  const asBefore = new k8s.KubeConfig()
  asBefore.loadFromFile(await started.writeKubeconfig(t.testdir()))
  await asBefore.makeApiClient(k8s.CoreV1Api).listNamespace()
  t.equal(api.requests.at(-1)?.user, DEFAULT_USER, 'a dir alone, no user: the default token, as before')
})

t.test('faults and open watches picked by user: one replica of two degraded', async (t) => {
  // drop: the connection dies, an error at once; end: the informer reconnects and its watch is refused
  const modes = [
    { how: 'dropWatches', firstError: { name: 'TypeError', message: 'terminated' } },
    { how: 'endWatches', firstError: { statusCode: 500 } }
  ] as const
  for (const { how, firstError } of modes) {
    await t.test(how, async (t) => {
      const { api, started } = await startDouble(t)
      seed(api)
      api.create({ kind: 'Namespace', metadata: { name: SYSTEM } })
      api.create({ kind: 'Secret', metadata: { name: 'registry-a', namespace: SYSTEM } })
      const replica = (user: string) => {
        const kc = started.kubeConfig({ user })
        const core = kc.makeApiClient(k8s.CoreV1Api)
        const informer = k8s.makeInformer(kc, `/api/v1/namespaces/${SYSTEM}/secrets`, () => core.listNamespacedSecret({ namespace: SYSTEM }))
        t.teardown(() => informer.stop())
        return { core, informer, ...recordInformer(informer) }
      }
      const a = replica('replica-a')
      const b = replica('replica-b')
      await a.informer.start()
      await b.informer.start()
      await api.waitForWatchers(2)

      const credentials: RequestMatch = { user: 'replica-a', resource: 'secrets', namespace: SYSTEM }
      const restore = api.injectFault(credentials, { status: 500 })
      api[how](credentials)
      await waitFor(() => a.errors.length === 1, "replica-a's error")
      t.match(a.errors[0], firstError)
      t.equal(api.watcherCount(), 1, "replica-b's watch stays open")

      api.create({ kind: 'Secret', metadata: { name: 'registry-b', namespace: SYSTEM } })
      await waitFor(() => b.informer.get('registry-b', SYSTEM) !== undefined, 'replica-b sees the change')
      t.equal(a.informer.get('registry-b', SYSTEM), undefined)
      t.same(b.errors, [])

      await a.informer.start()
      await waitFor(() => a.errors.length === 2, 'the second error')
      t.match(a.errors[1], { statusCode: 500 }, "replica-a's restart resumes with a watch, refused")
      t.same(await failureOf(a.core.listNamespacedSecret({ namespace: SYSTEM })), { code: 500, reason: 'InternalError' }, 'and so is its list')
      t.equal((await a.core.listNamespacedSecret({ namespace: 'team-a' })).items.length, 1, 'other namespaces still answer replica-a')
      t.equal((await b.core.listNamespacedSecret({ namespace: SYSTEM })).items.length, 2)
      const refused = api.requests.filter((r) => r.status === 500).map((r) => `${r.user} ${r.verb}`)
      t.same(refused, [...(how === 'endWatches' ? ['replica-a watch'] : []), 'replica-a watch', 'replica-a list'])

      restore()
      await a.informer.start()
      await waitFor(() => a.informer.get('registry-b', SYSTEM) !== undefined, 'replica-a converges once the fault is gone')
    })
  }
})

t.test('TokenRequest: a token for an existing ServiceAccount, with its audiences; 404 otherwise', async (t) => {
  const { api, kc } = await startDouble(t)
  api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } })
  api.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'puller', namespace: 'team-a' } })
  const core = kc.makeApiClient(k8s.CoreV1Api)
  const answer = await core.createNamespacedServiceAccountToken({ name: 'puller', namespace: 'team-a', body: { spec: { audiences: ['registry.example'], expirationSeconds: 600 } } })
  t.equal(answer.status?.token, 'sa-token.team-a.puller.registry.example.1')
  t.same(api.issuedTokens, [{ namespace: 'team-a', name: 'puller', audiences: ['registry.example'], token: 'sa-token.team-a.puller.registry.example.1' }])
  await t.rejects(core.createNamespacedServiceAccountToken({ name: 'nobody', namespace: 'team-a', body: { spec: { audiences: ['x'] } } }), { code: 404 })
  await t.rejects(core.createNamespacedServiceAccountToken({ name: 'puller', namespace: 'team-a', body: { spec: { audiences: ['x'], expirationSeconds: 60 } } }), { code: 422 })
})
