import t from 'tap'
import { writeFileSync } from 'node:fs'
import { DEFAULT_ADMISSION_OPTIONS as options } from '../../src/admission/options.js'
import { ManifestError, readManifestFile, StaticClusterView } from '../../src/cluster/static-view.js'
import { auth, credentialSecret, namespace, standardCluster } from '../support/cluster.js'

t.test('manifests: YAML multi-document, JSON, and List kinds read alike', async t => {
  const dir = t.testdir({})
  const objects = standardCluster()
  writeFileSync(`${dir}/cluster.json`, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }))
  writeFileSync(`${dir}/cluster.yaml`, objects.map(o => JSON.stringify(o)).join('\n---\n'))
  writeFileSync(`${dir}/flow.yaml`, '{apiVersion: v1, kind: Namespace, metadata: {name: x}}\n')
  t.same(await readManifestFile(`${dir}/cluster.json`), objects)
  t.same(await readManifestFile(`${dir}/cluster.yaml`), objects)
  t.same(await readManifestFile(`${dir}/flow.yaml`), [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }])
  const view = await StaticClusterView.fromFiles([`${dir}/cluster.json`], options)
  t.equal(view.snapshot().tenantOf('team-a'), 'acme')
  t.equal(view.snapshot().tenantOf('default'), null)
  t.equal(view.snapshot().tenantOf('nowhere'), undefined)
})

t.test('manifest errors name the file and never echo its content', async t => {
  const dir = t.testdir({ 'bad.yaml': 'kind: Secret\ndata: {".dockerconfigjson": "c2VjcmV0"\n', 'scalar.yaml': 'just text\n' })
  await t.rejects(readManifestFile(`${dir}/bad.yaml`), { name: 'ManifestError', message: /bad\.yaml: invalid YAML\/JSON at line \d+/ })
  await t.rejects(readManifestFile(`${dir}/scalar.yaml`), new ManifestError(`${dir}/scalar.yaml`, 'a document is not an object'))
  try {
    await readManifestFile(`${dir}/bad.yaml`)
  } catch (error) {
    t.notMatch(String(error), /c2VjcmV0/)
  }
})

t.test('standalone writes: created, unchanged, updated, never over a foreign Secret', async t => {
  const foreign = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pullguard-registry-credentials', namespace: 'team-b' }, type: 'Opaque', data: {} }
  const view = new StaticClusterView([...standardCluster(), foreign], options)
  const acme = view.snapshot().credentialsOf('acme')
  t.ok(acme)
  if (acme === undefined) return
  const spec = { namespace: 'team-a', name: 'pullguard-registry-credentials', tenant: 'acme', ...acme }
  t.same(await view.ensureManagedSecret(spec), { outcome: 'created' })
  t.same(await view.ensureManagedSecret(spec), { outcome: 'unchanged' })
  t.same(await view.ensureManagedSecret({ ...spec, contentHash: 'f'.repeat(64) }), { outcome: 'updated' })
  const stored = view.secrets.get('team-a/pullguard-registry-credentials')
  t.match(stored, { type: 'kubernetes.io/dockerconfigjson', metadata: { labels: { 'app.kubernetes.io/managed-by': 'pullguard', 'pullguard.dev/tenant': 'acme' } } })
  t.match(await view.ensureManagedSecret({ ...spec, namespace: 'team-b', tenant: 'globex' }), { outcome: 'conflict' })
  t.same(view.secrets.get('team-b/pullguard-registry-credentials'), foreign, 'the foreign Secret is untouched')
})

t.test('credential problems and conflicts are collected for the logs', async t => {
  const view = new StaticClusterView([
    namespace('team-a', 'acme'),
    credentialSecret({ name: 'a', tenant: 'acme', auths: { 'r.example': auth('a', 'b') } }),
    credentialSecret({ name: 'b', tenant: 'acme', auths: { 'r.example': auth('c', 'd') } }),
    credentialSecret({ name: 'opaque', tenant: 'acme', type: 'Opaque', auths: {} })
  ], options)
  t.same(view.credentials.conflicts, [{ tenant: 'acme', key: 'r.example', kept: 'a', dropped: 'b' }])
  t.match(view.credentials.problems, [
    { secret: 'opaque', tenant: 'acme', reason: 'WrongSecretType', message: /type is Opaque/ },
    { secret: 'b', tenant: 'acme', reason: 'RegistryKeyConflict', scope: 'r.example', message: /also in Secret a, which wins/ }
  ])
})

t.test('standalone writes follow the live plan: tampered data under the right hash is repaired', async t => {
  const view = new StaticClusterView(standardCluster(), options)
  const acme = view.snapshot().credentialsOf('acme')
  if (acme === undefined) return t.fail('acme has credentials')
  const spec = { namespace: 'team-a', name: 'pullguard-registry-credentials', tenant: 'acme', ...acme }
  t.same(await view.ensureManagedSecret(spec), { outcome: 'created' })
  const stored = view.secrets.get('team-a/pullguard-registry-credentials')
  view.putSecret({ ...stored, data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') } })
  t.same(await view.ensureManagedSecret(spec), { outcome: 'updated' })
  t.equal(Buffer.from(view.secrets.get('team-a/pullguard-registry-credentials')?.data?.['.dockerconfigjson'] ?? '', 'base64').toString(), acme.dockerConfigJson)
})

t.test('standalone mode refuses token sources, naming the file and the Secret', async t => {
  const source = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'acme-ecr', namespace: options.credentialsNamespace, labels: { [options.tenantLabel]: 'acme' } }, type: 'pullguard.dev/token-source', stringData: { provider: 'ecr', region: 'eu-west-1' } }
  const dir = t.testdir({ 'cluster.json': JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [...standardCluster(), source] }) })
  await t.rejects(StaticClusterView.fromFiles([`${dir}/cluster.json`], options), new ManifestError(`${dir}/cluster.json`,
    'Secret acme-ecr is a token source (pullguard.dev/token-source): tokens are minted by the leader in live mode, and standalone mode cannot mint; run serve without --objects, or give a static dockerconfigjson Secret instead'))
})

t.test('an objects file set without a Namespace or a Secret, or with a Secret without a namespace, is an error', async t => {
  const secret = credentialSecret({ name: 'acme-registry', tenant: 'acme', auths: { 'r.example': auth('a', 'b') } })
  const unplaced = { ...secret, metadata: { name: 'acme-registry', labels: { 'pullguard.dev/tenant': 'acme' } } }
  const dir = t.testdir({
    'namespaces.yaml': JSON.stringify(namespace('team-a', 'acme')),
    'secrets.yaml': JSON.stringify(secret),
    'unplaced.yaml': [namespace('team-a', 'acme'), unplaced].map(o => JSON.stringify(o)).join('\n---\n'),
    'pod.yaml': JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'team-a' } })
  })
  const cases: Array<{ name: string, files: string[], error?: RegExp }> = [
    { name: 'only Namespaces', files: ['namespaces.yaml'], error: /^namespaces\.yaml: holds no Secret: credential sources are Secrets in pullguard-system labelled pullguard\.dev\/tenant=<tenant>/ },
    { name: 'only Secrets', files: ['secrets.yaml', 'pod.yaml'], error: /^secrets\.yaml, pod\.yaml: holds no Namespace: pullguard finds tenants by the pullguard\.dev\/tenant label/ },
    { name: 'a Secret without a namespace', files: ['unplaced.yaml'], error: /^unplaced\.yaml: Secret "acme-registry" has no metadata\.namespace/ },
    { name: 'Namespaces and Secrets in separate files: fine', files: ['namespaces.yaml', 'secrets.yaml'] }
  ]
  for (const c of cases) {
    const load = StaticClusterView.fromFiles(c.files.map(file => `${dir}/${file}`), options)
    if (c.error === undefined) {
      t.equal((await load).snapshot().credentialsOf('acme')?.sources[0], 'acme-registry', c.name)
      continue
    }
    const error = await load.then(() => undefined, (err: unknown) => err)
    t.type(error, ManifestError, c.name)
    t.match((error as Error).message.replaceAll(`${dir}/`, ''), c.error, c.name)
  }
})

t.test('the load summary: what was read, what was ignored and why', async t => {
  const view = new StaticClusterView([
    ...standardCluster(),
    namespace('team-a2', 'acme'),
    credentialSecret({ name: 'stray', tenant: 'acme', labels: {}, auths: {} }),
    credentialSecret({ name: 'elsewhere', tenant: 'acme', namespace: 'team-b', auths: {} }),
    { ...credentialSecret({ name: 'pullguard-registry-credentials', tenant: 'acme', namespace: 'team-a', auths: {} }) },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'team-a' } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'team-a' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c2', namespace: 'team-a' } }
  ], options)
  t.same(view.summary, {
    namespaces: 6,
    tenants: 3,
    credentialSecrets: 3,
    managedSecrets: 1,
    ignored: new Map([
      ['Secret in pullguard-system without pullguard.dev/tenant or pullguard.dev/shared=true', 1],
      ['Secret outside pullguard-system', 1],
      ['ConfigMap', 2],
      ['Deployment', 1]
    ])
  })
})
