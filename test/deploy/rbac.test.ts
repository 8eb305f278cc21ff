// The chart's RBAC against the API calls the code makes, both ways. pullguard's live view (informers,
// projector, Events, leader election, the namespace lookup) runs against the API double under its
// service account's name, through every path that calls the API; every request it sends is recorded.
// Each must be allowed by the rendered ClusterRole and Roles (evaluated as RBAC does, resourceNames
// included), and each rule's verb, resource and name must be used by some request: nothing granted
// that the code does not call.

import t from 'tap'
import { auth, credentialSecret, namespace } from '../support/cluster.js'
import type { KubeObject, RequestRecord } from '../support/api-double.js'
import { FakeClock } from '../support/fake-clock.js'
import { ACME_AUTHS, FAST, OPTIONS, SECRET, sleep, expectedConfig, managedSecret, seed, startApi, startSyncedView, waitFor, waitForConfig, waitForNoSecret } from '../cluster/helper.js'
import { NAMESPACE, RELEASE, render, type RenderedObject } from './support/helm.js'

t.setTimeout(5 * 60 * 1000)

const USER = `system:serviceaccount:${NAMESPACE}:${RELEASE}`
const LEASE = { namespace: NAMESPACE, leaseName: 'pullguard', identity: 'pullguard-0', leaseDurationSeconds: 4, renewDeadlineSeconds: 3, retryPeriodSeconds: 0.5 }

interface Rule { apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[] }
interface Subject { kind: string, name: string, namespace?: string }
interface Binding extends KubeObject { roleRef: { kind: string, name: string }, subjects: Subject[] }
/** a rule as bound: namespace undefined for a ClusterRole bound cluster-wide */
interface Grant { rule: Rule, namespace?: string, role: string }
/** what RBAC sees of a request: list and watch carry the name of a metadata.name field selector */
interface Attributes { verb: string, group: string, resource: string, namespace?: string, name?: string }

/** the rules bound to the ServiceAccount the Deployment runs as, as RBAC resolves them */
function grantsOf (objects: RenderedObject[]): Grant[] {
  const all = objects.map(o => o.object)
  const deployment = all.find(o => o.kind === 'Deployment') as KubeObject & { spec: { template: { spec: { serviceAccountName: string } } } }
  const account = { name: deployment.spec.template.spec.serviceAccountName, namespace: deployment.metadata.namespace }
  const bindings = all.filter((o): o is Binding => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')
  return bindings.filter(b => b.subjects.some(s => s.kind === 'ServiceAccount' && s.name === account.name && s.namespace === account.namespace)).flatMap(binding => {
    const role = all.find(o => o.kind === binding.roleRef.kind && o.metadata.name === binding.roleRef.name &&
      (o.kind === 'ClusterRole' || o.metadata.namespace === binding.metadata.namespace))
    if (role === undefined) throw new Error(`${binding.kind} ${binding.metadata.name}: no ${binding.roleRef.kind} ${binding.roleRef.name}`)
    const namespace = binding.kind === 'RoleBinding' ? binding.metadata.namespace : undefined
    return (role.rules as Rule[]).map(rule => ({ rule, role: `${role.kind}/${role.metadata.name}`, ...(namespace !== undefined && { namespace }) }))
  })
}

function attributesOf (request: RequestRecord): Attributes {
  const selected = /(?:^|,)metadata\.name=([^,]+)/.exec(request.query.fieldSelector ?? '')?.[1]
  const name = request.verb === 'list' || request.verb === 'watch' ? selected : request.verb === 'create' ? undefined : request.name
  return {
    verb: request.verb,
    group: request.group ?? '',
    resource: request.resource ?? '',
    ...(request.namespace !== undefined && { namespace: request.namespace }),
    ...(name !== undefined && { name })
  }
}

/** RBAC's rule match: verb, group, resource, resourceNames (never matching a request without a name) */
function matches (grant: Grant, request: Attributes): boolean {
  const { rule } = grant
  if (grant.namespace !== undefined && grant.namespace !== request.namespace) return false
  if (!rule.verbs.includes(request.verb) || !rule.apiGroups.includes(request.group) || !rule.resources.includes(request.resource)) return false
  return rule.resourceNames === undefined || (request.name !== undefined && rule.resourceNames.includes(request.name))
}

const describe = (a: Attributes): string => `${a.verb} ${a.group === '' ? '' : `${a.group}/`}${a.resource}${a.name === undefined ? '' : `/${a.name}`}${a.namespace === undefined ? '' : ` in ${a.namespace}`}`

t.test('RBAC grants exactly the API calls pullguard makes', async t => {
  const { api, started } = await startApi(t)
  seed(api)
  // the credentials namespace is the release namespace, as installed by default
  t.equal(OPTIONS.credentialsNamespace, NAMESPACE)
  const squatter = { apiVersion: 'v1', kind: 'Secret', metadata: { name: SECRET, namespace: 'team-b', labels: { owner: 'someone' } }, data: { token: 'c2VjcmV0' } }
  api.create(squatter)
  // the first create of a managed Secret loses a race: the projector reads what is there (get), then writes
  const lostRace = api.injectFault({ verb: 'create', resource: 'secrets', namespace: 'team-a' }, { status: 409, reason: 'AlreadyExists' }, { times: 1 })
  // a Docker Desktop config as initech's only source: credential Events (events.k8s.io); the first
  // create finds an Event already there (an earlier leader's), read back (get), then the series patched
  const desktop = { auths: { 'registry.acme.example': {} }, credsStore: 'desktop' }
  api.create({ ...(credentialSecret({ name: 'initech-desktop', tenant: 'initech', auths: {} }) as KubeObject), data: { '.dockerconfigjson': Buffer.from(JSON.stringify(desktop)).toString('base64') } } as KubeObject)
  const eventExists = api.injectFault({ verb: 'create', group: 'events.k8s.io', resource: 'events' }, { status: 409, reason: 'AlreadyExists' }, { times: 1 })
  const eventClock = new FakeClock()
  const { view } = await startSyncedView(t, started, { kubeConfig: started.kubeConfig({ user: USER }), leaderElection: LEASE, credentialEvents: { clock: eventClock } })

  await waitFor(() => view.isLeader, 'leadership', 5000)
  await waitForConfig(api, 'team-a', expectedConfig(ACME_AUTHS), 5000)
  lostRace()
  await waitFor(() => api.list('Event', 'team-b').length > 0, 'the conflict event')
  await waitFor(() => view.inputsFresh(), 'fresh caches for the credential Events')
  const credentialEventCalls = (verb: string): number => api.requests.filter(r => r.user === USER && r.group === 'events.k8s.io' && r.verb === verb).length
  for (let round = 0; credentialEventCalls('create') < 2 || credentialEventCalls('get') < 1 || credentialEventCalls('patch') < 1; round++) {
    if (round === 200) throw new Error('no credential Event calls')
    await eventClock.advance(FAST.resyncSeconds * 1000)
    await sleep(20)
  }
  eventExists()
  const rotated = { 'registry.acme.example': auth('acme', 'pw-acme-2') }
  api.apply(credentialSecret({ name: 'acme-registry', tenant: 'acme', auths: rotated }) as KubeObject)
  await waitForConfig(api, 'team-a', expectedConfig(rotated))
  api.create(namespace('team-new', 'acme') as KubeObject)
  await waitForConfig(api, 'team-new', expectedConfig(rotated))
  const teamNew = api.get('Namespace', undefined, 'team-new')!
  api.update({ ...teamNew, metadata: { ...teamNew.metadata, labels: { 'kubernetes.io/metadata.name': 'team-new' } } })
  await waitForNoSecret(api, 'team-new')
  await view.lookupNamespace('created-a-moment-ago', 1000)
  await view.stop() // releases the Lease
  t.ok(managedSecret(api, 'team-a'), 'the scenario ran to the end')

  const requests = api.requests.filter(r => r.user === USER)
  t.equal(api.requests.filter(r => r.user !== USER && r.resource !== undefined).length, 0, 'every API request came from pullguard\'s identity')
  const calls = new Map<string, Attributes>()
  for (const request of requests) {
    if (request.resource === undefined) continue // discovery
    const attributes = attributesOf(request)
    calls.set(describe(attributes), attributes)
  }
  t.ok(calls.size >= 10, `${calls.size} distinct calls recorded`, { calls: [...calls.keys()].sort() })

  for (const values of ['default-values.yaml', 'single-replica-values.yaml', 'customised-values.yaml']) {
    const objects = await render({ valuesFiles: [`charts/pullguard/ci/${values}`], noHooks: true })
    const grants = grantsOf(objects)
    const credentialsNamespace = values === 'customised-values.yaml' ? 'tenant-credentials' : NAMESPACE
    const leaderElection = values !== 'single-replica-values.yaml'
    // the same calls, where this values file puts the credentials and the Lease
    const expected = [...calls.values()]
      .filter(a => leaderElection || a.resource !== 'leases')
      .map(a => a.resource === 'secrets' && a.namespace === NAMESPACE && a.name === undefined && (a.verb === 'list' || a.verb === 'watch') ? { ...a, namespace: credentialsNamespace } : a)
    for (const call of expected) {
      t.ok(grants.some(g => matches(g, call)), `${values}: ${describe(call)} is allowed`)
    }
    for (const grant of grants) {
      for (const verb of grant.rule.verbs) {
        for (const resource of grant.rule.resources) {
          for (const group of grant.rule.apiGroups) {
            for (const name of grant.rule.resourceNames ?? [undefined]) {
              const used = expected.some(call => call.verb === verb && call.resource === resource && call.group === group &&
                (name === undefined || call.name === name) && (grant.namespace === undefined || call.namespace === grant.namespace))
              t.ok(used, `${values}: ${grant.role} ${verb} ${group === '' ? '' : `${group}/`}${resource}${name === undefined ? '' : `/${name}`} is called by the code`)
            }
          }
        }
      }
    }
    t.notOk(grants.some(g => g.rule.verbs.includes('*') || g.rule.resources.includes('*') || g.rule.apiGroups.includes('*')), `${values}: no wildcards`)
  }
})
