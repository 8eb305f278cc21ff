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
  t.match(view.credentials.problems, [{ secret: 'opaque', reason: /type is Opaque/ }])
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
