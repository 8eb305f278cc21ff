// The credentials caches hold only Secrets that can be credential sources: two label-selected
// informers (tenant label; shared=true) instead of every Secret of the credentials namespace. What
// must not be lost: a Secret that gains a label is picked up, one that loses it is dropped (a watch
// reports it as DELETED; a relist after a dropped watch too), and one carrying both labels stays
// until neither holds it.

import t from 'tap'
import type { ApiDouble, KubeObject } from '../support/api-double.js'
import { credentialSecret } from '../support/cluster.js'
import {
  ACME_AUTHS,
  GLOBEX_AUTHS,
  MIRROR_AUTHS,
  OPTIONS,
  expectedConfig,
  managedSecret,
  seed,
  startApi,
  startSyncedView,
  waitForConfig,
  waitForNoSecret
} from './helper.js'

const NS = OPTIONS.credentialsNamespace
const TENANT = OPTIONS.tenantLabel
const SHARED = OPTIONS.sharedLabel

/** replaces the labels of a Secret in the credentials namespace */
function relabel (api: ApiDouble, name: string, labels: Record<string, string>): void {
  const secret = api.get('Secret', NS, name)!
  api.update({ ...secret, metadata: { ...secret.metadata, labels } })
}

t.test('only labelled Secrets of the credentials namespace are listed and watched', async t => {
  const { api, started } = await startApi(t)
  seed(api, { shared: true })
  // What shares the namespace with the sources: a Helm release, the webhook's TLS key, an unlabelled pull secret.
  api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sh.helm.release.v1.pullguard.v1', namespace: NS, labels: { owner: 'helm' } }, type: 'helm.sh/release.v1', data: { release: 'SDRzSUFBQUFBQUFBQQ==' } })
  api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pullguard-helm-tls', namespace: NS }, type: 'kubernetes.io/tls', data: { 'tls.key': 'a2V5', 'tls.crt': 'Y2VydA==' } })
  api.create(credentialSecret({ name: 'own-pull-secret', tenant: null, labels: {}, auths: { 'registry.internal.example': { auth: 'eDp5' } } }) as KubeObject)
  await startSyncedView(t, started)
  await waitForConfig(api, 'team-a', expectedConfig({ ...ACME_AUTHS, ...MIRROR_AUTHS }))

  const credentialReads = api.requests.filter(r => r.resource === 'secrets' && r.namespace === NS && (r.verb === 'list' || r.verb === 'watch'))
  t.same([...new Set(credentialReads.map(r => `${r.verb} ${r.query.labelSelector ?? '(none)'}`))].sort(),
    [`list ${SHARED}=true`, `list ${TENANT}`, `watch ${SHARED}=true`, `watch ${TENANT}`], 'every list and watch there carries one of the two selectors')
  t.equal(managedSecret(api, 'sandbox')?.metadata.name, OPTIONS.managedSecretName, 'the shared source reached a tenant without its own')
})

t.test('a Secret that gains or loses its label is picked up or dropped', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  api.create(credentialSecret({ name: 'mirror', tenant: null, labels: {}, auths: MIRROR_AUTHS }) as KubeObject)
  await startSyncedView(t, started)
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))
  t.equal(managedSecret(api, 'sandbox'), undefined, 'unlabelled: not a source')

  relabel(api, 'mirror', { [SHARED]: 'true' })
  await waitForConfig(api, 'sandbox', expectedConfig(MIRROR_AUTHS))
  t.ok(managedSecret(api, 'sandbox'), 'labelled shared: every tenant gets it')
  await waitForConfig(api, 'team-a', expectedConfig({ ...ACME_AUTHS, ...MIRROR_AUTHS }))

  relabel(api, 'mirror', { [SHARED]: 'false' })
  await waitForNoSecret(api, 'sandbox')
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))

  relabel(api, 'acme-registry', {})
  await waitForNoSecret(api, 'team-a')
  await waitForConfig(api, 'team-b', expectedConfig(GLOBEX_AUTHS))
  t.equal(managedSecret(api, 'team-a'), undefined, 'a tenant source that lost its label no longer grants anything')
})

t.test('a Secret carrying both labels is dropped only when it has neither', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  api.create(credentialSecret({ name: 'both', tenant: null, labels: { [TENANT]: 'initech', [SHARED]: 'true' }, auths: MIRROR_AUTHS }) as KubeObject)
  await startSyncedView(t, started)
  // shared wins over the tenant label: every tenant gets it
  await waitForConfig(api, 'team-a', expectedConfig({ ...ACME_AUTHS, ...MIRROR_AUTHS }))
  await waitForConfig(api, 'sandbox', expectedConfig(MIRROR_AUTHS))

  relabel(api, 'both', { [TENANT]: 'initech' })
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))
  await waitForConfig(api, 'sandbox', expectedConfig(MIRROR_AUTHS))
  t.pass('left the shared informer: initech\'s own source still, nobody else\'s')

  relabel(api, 'both', { [TENANT]: 'initech', [SHARED]: 'true' })
  await waitForConfig(api, 'team-b', expectedConfig({ ...GLOBEX_AUTHS, ...MIRROR_AUTHS }))
  const from = api.requests.length
  relabel(api, 'both', { [SHARED]: 'true' })
  api.remove('Secret', NS, 'both')
  await waitForNoSecret(api, 'sandbox')
  await waitForConfig(api, 'team-b', expectedConfig(GLOBEX_AUTHS))
  const sandboxDeletes = api.requests.slice(from).filter(r => r.verb === 'delete' && r.namespace === 'sandbox')
  t.equal(sandboxDeletes.length, 1, 'leaving the tenant informer while still shared deleted nothing; only the deletion did')
})

t.test('a label removed while the watches are down is dropped by the relist', async t => {
  const { api, started } = await startApi(t)
  seed(api, { shared: true })
  const { log } = await startSyncedView(t, started)
  await waitForConfig(api, 'sandbox', expectedConfig(MIRROR_AUTHS))

  const refuse = api.injectFault({ verb: 'watch', resource: 'secrets', namespace: NS }, { status: 503 })
  api.dropWatches({ resource: 'secrets', namespace: NS })
  relabel(api, 'platform-mirror', {})
  // the history forgets the change, so the informer cannot replay it: only a relist can see it
  api.compact()
  refuse()
  await waitForNoSecret(api, 'sandbox', 5000)
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS))
  t.ok(log.records('cache relisted').length > 0, 'found by a relist')
})
