// What the live view's namespace and credential caches keep of each object.

import type * as k8s from '@kubernetes/client-node'
import t from 'tap'
import { keptCredentialSecret, keptNamespace, withoutManagedFields } from '../../src/cluster/live/live-view.js'

const managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': {} } }]

t.test('a namespace keeps name, uid, resourceVersion, labels, deletion time and phase only', async t => {
  const deletionTimestamp = new Date('2026-01-02T00:00:00Z')
  const namespace: k8s.V1Namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: 'team-a',
      uid: 'u1',
      resourceVersion: '7',
      labels: { 'pullguard.dev/tenant': 'acme' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"json"}' },
      managedFields,
      creationTimestamp: new Date('2026-01-01T00:00:00Z'),
      deletionTimestamp
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Terminating', conditions: [] }
  }
  t.same(keptNamespace(namespace), {
    metadata: { name: 'team-a', uid: 'u1', resourceVersion: '7', labels: { 'pullguard.dev/tenant': 'acme' }, deletionTimestamp },
    status: { phase: 'Terminating' }
  })
  t.same(keptNamespace({ metadata: { name: 'bare' } }), { metadata: { name: 'bare' } })
})

t.test('a credential Secret loses managedFields and nothing else', async t => {
  const secret: k8s.V1Secret = {
    metadata: { name: 's', namespace: 'creds', labels: { a: 'b' }, annotations: { c: 'd' }, resourceVersion: '3', managedFields },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': 'e30=' }
  }
  const kept = withoutManagedFields(secret)
  t.same(kept, { ...secret, metadata: { name: 's', namespace: 'creds', labels: { a: 'b' }, annotations: { c: 'd' }, resourceVersion: '3' } })
  t.ok(secret.metadata?.managedFields, 'the object given is not changed')
  const plain: k8s.V1Secret = { metadata: { name: 'p' } }
  t.equal(withoutManagedFields(plain), plain, 'nothing to drop: the same object')
})

t.test('the credentials cache keeps data only of the Secret types a credential source can have', async t => {
  const meta = { name: 's', namespace: 'creds', labels: { 'pullguard.dev/tenant': 'acme' }, resourceVersion: '3' }
  for (const type of ['kubernetes.io/dockerconfigjson', 'kubernetes.io/dockercfg']) {
    const secret: k8s.V1Secret = { metadata: { ...meta, managedFields }, type, data: { '.dockerconfigjson': 'e30=', '.dockercfg': 'e30=' } }
    t.same(keptCredentialSecret(secret), { metadata: meta, type, data: secret.data }, type)
  }
  const release: k8s.V1Secret = { metadata: { ...meta, managedFields }, type: 'helm.sh/release.v1', data: { release: 'H4sIAAAA' } }
  t.same(keptCredentialSecret(release), { metadata: meta, type: 'helm.sh/release.v1' }, 'type and labels stay: a labelled one is reported by type')
  t.same(keptCredentialSecret({ metadata: meta, data: { token: 'x' } }), { metadata: meta }, 'no type: no data')
  t.ok(release.data, 'the object given is not changed')
})
