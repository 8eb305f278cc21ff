// `pullguard status --kubeconfig` (in this process, test/support/cli.ts) with the real @kubernetes/client-node against
// the API double: what a live view would keep (the managed Secrets written by a real LiveClusterView),
// the Lease and the chart's TLS Secret, read once with nothing but get and list.

import t from 'tap'
import * as k8s from '@kubernetes/client-node'
import type { StatusReport } from '../../src/cluster/status-report.js'
import { runCli } from '../support/cli.js'
import type { KubeObject } from '../support/api-double.js'
import { credentialSecret } from '../support/cluster.js'
import { createTestCa, issueServerCertificate } from '../support/tls.js'
import { OPTIONS, SECRET, seed, startApi, startSyncedView, waitFor, managedSecret } from './helper.js'

const DAY_MS = 24 * 3600 * 1000

function lease (holderIdentity: string, renewTime: Date, leaseDurationSeconds: number): KubeObject {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'pullguard', namespace: OPTIONS.credentialsNamespace },
    // MicroTime: six fractional digits, as the API server wants
    spec: { holderIdentity, renewTime: new k8s.V1MicroTime(renewTime.getTime()).toISOString(), leaseDurationSeconds, leaseTransitions: 1 }
  } as unknown as KubeObject
}

t.test('status --kubeconfig lists once, writes nothing, and reports what a live view keeps', async t => {
  const { api, started } = await startApi(t)
  seed(api, { shared: true })
  const ca = await createTestCa()
  const certificate = await issueServerCertificate(ca, { notAfter: new Date(Date.now() + 90 * DAY_MS) })
  api.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'pullguard-cert-manager-tls', namespace: OPTIONS.credentialsNamespace },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': Buffer.from(certificate.cert).toString('base64'), 'tls.key': Buffer.from(certificate.key).toString('base64') }
  } as unknown as KubeObject)
  // a real live view fills every tenant namespace, then stops: status sees what serve leaves
  const { view } = await startSyncedView(t, started)
  await waitFor(() => ['team-a', 'team-b', 'sandbox'].every(ns => managedSecret(api, ns) !== undefined), 'managed secrets')
  await view.stop()
  // a lease an hour long, renewed a moment ago: held, whatever the load on this machine
  api.create(lease('pullguard-5c8d7b9f4-x2k7q', new Date(), 3600))
  const kubeconfig = await started.writeKubeconfig()

  api.clearRequests()
  const healthy = await runCli(['status', '--kubeconfig', kubeconfig, '-o', 'json'])
  t.equal(healthy.code, 0, `nothing needs attention; ${healthy.stderr}`)
  const report = JSON.parse(healthy.stdout) as StatusReport
  t.same(report.attention, [])
  t.same(report.managedSecrets.map(s => [s.namespace, s.state]), [['sandbox', 'in-sync'], ['team-a', 'in-sync'], ['team-b', 'in-sync']])
  t.same(report.tenants.map(x => [x.tenant, x.namespaces, x.sources]), [
    ['acme', ['team-a'], ['acme-registry', 'platform-mirror']],
    ['globex', ['team-b'], ['globex-ghcr', 'platform-mirror']],
    ['initech', ['sandbox'], ['platform-mirror']]
  ])
  t.match(report.leader, { state: 'held', holder: 'pullguard-5c8d7b9f4-x2k7q', expired: false })
  t.match(report.certificate, { state: 'valid', source: 'Secret pullguard-system/pullguard-cert-manager-tls' })
  t.same(report.inputs.map(i => i.name), ['namespaces', 'credential sources', 'managed secrets'])
  t.ok(report.inputs.every(i => typeof i.resourceVersion === 'string'), 'each list names its resourceVersion')
  const verbs = new Set(api.requests.map(r => r.verb))
  t.same([...verbs].sort(), ['get', 'list'], 'only get and list: no watch, no write')
  t.same(api.requests.filter(r => r.verb === 'list' && r.resource === 'secrets' && r.namespace === undefined).map(r => r.query.fieldSelector),
    [`metadata.name=${SECRET}`], 'Secrets outside the credentials namespace only by the managed name')

  // now break things as they break in clusters
  api.remove('Lease', OPTIONS.credentialsNamespace, 'pullguard')
  api.create(credentialSecret({ name: 'acme-desktop', tenant: 'acme', auths: { 'registry.acme.example': {} } }) as KubeObject)
  const stale = api.get('Secret', 'team-b', SECRET) as KubeObject & { data: Record<string, string> }
  api.update({ ...stale, data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') } })
  api.remove('Secret', 'team-a', SECRET)
  api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: SECRET, namespace: 'team-a' }, type: 'Opaque', data: {} } as unknown as KubeObject)
  api.remove('Secret', 'sandbox', SECRET)
  api.clearRequests()
  const broken = await runCli(['status', '--kubeconfig', kubeconfig])
  t.equal(broken.code, 4, `needs attention; ${broken.stderr}`)
  t.match(broken.stdout, /acme-desktop +acme +unusable +- +NoUsableCredential/)
  t.match(broken.stdout, /sandbox +initech +missing/)
  t.match(broken.stdout, /team-a +acme +conflicting/)
  t.match(broken.stdout, /team-b +globex +out-of-sync/)
  t.match(broken.stdout, /leader: +absent: no Lease pullguard-system\/pullguard/)
  t.ok(api.requests.every(r => r.verb === 'get' || r.verb === 'list'), 'still no write')

  // the Lease released by its last holder: no leader either
  api.create({ ...lease('', new Date(), 1) })
  const released = await runCli(['status', '--kubeconfig', kubeconfig, '-o', 'json'])
  t.match((JSON.parse(released.stdout) as StatusReport).leader, { state: 'released' })
  t.ok((JSON.parse(released.stdout) as StatusReport).attention.some(a => a.startsWith('leader: none')))
})

t.test('status --kubeconfig when the API server refuses: exit 1, naming the call', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  const kubeconfig = await started.writeKubeconfig()
  api.injectFault({ verb: 'list', resource: 'namespaces' }, { status: 403, reason: 'Forbidden', message: 'namespaces is forbidden' })
  const run = await runCli(['status', '--kubeconfig', kubeconfig])
  t.equal(run.code, 1)
  t.match(run.stderr, /pullguard: listing namespaces: namespaces is forbidden/)
})
