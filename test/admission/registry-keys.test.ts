// Issue 10 part 7 through decide() and the cluster model: a registry key's hidden parts (user-info,
// query, fragment) never reach a warning, a denial, an audit note or a logged issue, and a port
// spelling (':443') cannot take an image out of its owner's hands, while the managed Secret's keys
// stay as the kubelet reads them.

import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decide } from '../../src/admission/decide.js'
import { DEFAULT_ADMISSION_OPTIONS, type AdmissionOptions } from '../../src/admission/options.js'
import type { AdmissionRequest, Pod } from '../../src/admission/types.js'
import { ClusterModel } from '../../src/cluster/cluster-model.js'
import { StaticClusterView } from '../../src/cluster/static-view.js'
import { runCli } from '../support/cli.js'
import { auth, credentialSecret, namespace, podCreateReview } from '../support/cluster.js'

const DENY: AdmissionOptions = { ...DEFAULT_ADMISSION_OPTIONS, foreignRegistryPolicy: 'deny' }
const WARN: AdmissionOptions = { ...DEFAULT_ADMISSION_OPTIONS, foreignRegistryPolicy: 'warn' }

const tenants = (): object[] => [namespace('pullguard-system'), namespace('team-a', 'acme'), namespace('team-b', 'globex')]

/** a Pod CREATE in `ns` whose only container runs `image` */
function podRequest (ns: string, image: string): AdmissionRequest {
  const request = podCreateReview().request as AdmissionRequest
  request.namespace = ns
  const pod = request.object as Pod
  if (pod.metadata !== undefined) pod.metadata.namespace = ns
  const spec = pod.spec as NonNullable<Pod['spec']>
  delete spec.initContainers
  spec.containers = [{ name: 'app', image, imagePullPolicy: 'IfNotPresent' }]
  return request
}

interface PortCase {
  name: string
  /** the acme / globex keys */
  acme: string[]
  globex?: string[]
  namespace: string
  image: string
  denied: boolean
  /** the owner scope the denial names */
  scope?: string
}

const portCases: PortCase[] = [
  { name: 'acme owns the host; globex names it with :443', acme: ['registry.acme.example'], namespace: 'team-b', image: 'registry.acme.example:443/app:1', denied: true, scope: 'registry.acme.example' },
  { name: 'acme\'s key says :443; globex names the host without', acme: ['registry.acme.example:443'], namespace: 'team-b', image: 'registry.acme.example/app:1', denied: true, scope: 'registry.acme.example' },
  { name: ':0443 is :443 too', acme: ['registry.acme.example'], namespace: 'team-b', image: 'registry.acme.example:0443/app:1', denied: true, scope: 'registry.acme.example' },
  { name: 'a key with user-info and :443, an image without', acme: ['https://acme-ci:tok-1@registry.acme.example:443/v2/'], namespace: 'team-b', image: 'registry.acme.example/app:1', denied: true, scope: 'registry.acme.example' },
  { name: 'Docker Hub by :443 and the legacy alias', acme: ['registry.acme.example'], globex: ['docker.io/globex'], namespace: 'team-a', image: 'index.docker.io:443/globex/app:1', denied: true, scope: 'docker.io/globex' },
  { name: 'acme\'s own image in the other spelling is not foreign to acme', acme: ['registry.acme.example'], namespace: 'team-a', image: 'registry.acme.example:443/app:1', denied: false },
  { name: 'another port is another registry', acme: ['registry.acme.example:5000'], namespace: 'team-b', image: 'registry.acme.example/app:1', denied: false },
  { name: 'globex co-owns the host in the :443 spelling', acme: ['registry.shared.example'], globex: ['registry.shared.example:443'], namespace: 'team-b', image: 'registry.shared.example/app:1', denied: false }
]

t.test('deny: a port spelling cannot evade the foreign-registry check', async t => {
  for (const c of portCases) {
    const view = new StaticClusterView([
      ...tenants(),
      credentialSecret({ name: 'acme', tenant: 'acme', auths: Object.fromEntries(c.acme.map(key => [key, auth('acme', 'pw-acme')])) }),
      credentialSecret({ name: 'globex', tenant: 'globex', auths: Object.fromEntries((c.globex ?? ['ghcr.io/globex']).map(key => [key, auth('globex', 'pw-globex')])) })
    ], DENY)
    const { response } = decide(podRequest(c.namespace, c.image), view.snapshot(), DENY)
    t.equal(response.allowed, !c.denied, `${c.name}: allowed`)
    if (c.denied) {
      t.equal(response.status?.code, 403, c.name)
      t.match(response.status?.message, `is in registry ${c.scope ?? ''}, which belongs to another tenant`, `${c.name}: names the owner scope`)
      t.match(response.auditAnnotations?.['foreign-registry'], `${c.image}=${c.scope ?? ''}(`, `${c.name}: audit note`)
      t.notMatch(JSON.stringify(response), /tok-|acme-ci/, `${c.name}: no hidden key part`)
    } else {
      t.equal(response.auditAnnotations?.['foreign-registry'], undefined, `${c.name}: not foreign`)
    }
  }
})

t.test('the managed Secret keeps the kubelet\'s keys: no :443 folding there', async t => {
  const view = new StaticClusterView([
    ...tenants(),
    credentialSecret({ name: 'acme', tenant: 'acme', auths: { 'registry.acme.example:443': auth('acme', 'pw-acme') } })
  ], WARN)
  const { ensureSecret } = decide(podRequest('team-a', 'registry.acme.example/app:1'), view.snapshot(), WARN)
  t.strictSame(Object.keys(JSON.parse(ensureSecret?.dockerConfigJson ?? '{}').auths), ['registry.acme.example:443'], 'the key as written')
})

// Every place a key can hide a secret, each secret a distinct marker that must never come out.
const HIDDEN = /tok-|acme-ci|globex-ci/
function leakyCluster (): object[] {
  return [
    ...tenants(),
    credentialSecret({ name: 'acme-registry', tenant: 'acme', auths: { 'https://acme-ci:tok-userinfo-1@registry.acme.example:443?token=tok-query-2': auth('acme', 'pw-acme') } }),
    // the same key again: a conflict
    credentialSecret({ name: 'acme-registry-old', tenant: 'acme', auths: { 'https://acme-ci:tok-userinfo-1@registry.acme.example:443?token=tok-query-2': auth('acme', 'pw-old') } }),
    credentialSecret({
      name: 'globex-ghcr',
      tenant: 'globex',
      auths: {
        'ghcr.io/globex#tok-fragment-3': auth('globex', 'pw-globex'),
        'https://globex-ci:tok/slash-4@reg[0].example?token=tok-query-5': auth('globex', 'pw-broken'), // does not parse
        'globex-bot:tok-port-6': auth('globex', 'pw-broken') // credentials written as the key: the name is all that shows
      }
    }),
    // an entry that is not an object: the whole Secret is unusable
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'globex-broken', namespace: 'pullguard-system', labels: { 'pullguard.dev/tenant': 'globex' } },
      type: 'kubernetes.io/dockerconfigjson',
      stringData: { '.dockerconfigjson': JSON.stringify({ auths: { 'https://globex-ci:tok-entry-7@registry.globex.example': 'nope' } }) }
    }
  ]
}

t.test('problems and conflicts name keys by their safe scope', async t => {
  const issues = new StaticClusterView(leakyCluster(), WARN).credentials.issues()
  t.strictSame(issues.conflicts, [{ tenant: 'acme', key: 'registry.acme.example:443', kept: 'acme-registry', dropped: 'acme-registry-old' }])
  t.strictSame(issues.problems.map(p => `${p.secret} ${p.reason} ${p.scope ?? ''}`).sort(), [
    'acme-registry-old RegistryKeyConflict registry.acme.example:443',
    'globex-broken MalformedEntry registry.globex.example',
    'globex-ghcr UnparseableRegistryKey globex-bot:…',
    'globex-ghcr UnparseableRegistryKey reg[0].example'
  ])
  t.notMatch(JSON.stringify(issues), HIDDEN)

  // what the live view logs: the cluster model's commit
  const model = new ClusterModel(WARN)
  for (const object of leakyCluster()) {
    if ((object as { kind: string }).kind === 'Secret') model.credentialSecretChanged(object as never)
  }
  const commit = model.commitCredentials()
  t.equal(commit?.issues?.problems.length, 4, 'the commit reports the issues')
  t.equal(commit?.issues?.conflicts.length, 1)
  t.notMatch(JSON.stringify(commit?.issues), HIDDEN)
})

t.test('warnings, denials and audit notes: owner scopes only', async t => {
  const view = new StaticClusterView(leakyCluster(), WARN)
  for (const [options, image] of [[WARN, 'registry.acme.example/app:1'], [DENY, 'registry.acme.example/app:1'], [WARN, 'ghcr.io/globex/tool:1'], [DENY, 'ghcr.io/globex/tool:1']] as const) {
    const ns = image.startsWith('ghcr.io') ? 'team-a' : 'team-b'
    const { response } = decide(podRequest(ns, image), view.snapshot(), options)
    const name = `${options.foreignRegistryPolicy} ${image}`
    t.match(response.auditAnnotations?.['foreign-registry'], /=(registry\.acme\.example|ghcr\.io\/globex)\((acme|globex)\)$/, `${name}: foreign`)
    if (options.foreignRegistryPolicy === 'warn') t.match(response.warnings?.[0], /is in registry (registry\.acme\.example|ghcr\.io\/globex),/, name)
    t.notMatch(JSON.stringify(response), HIDDEN, `${name}: nothing hidden shows`)
  }
})

const pullguard = runCli

t.test('pullguard review: the credential issues it logs and the answer it prints hide every token', async t => {
  const objects = join(t.testdir(), 'cluster.json')
  writeFileSync(objects, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: leakyCluster() }))
  const review = podCreateReview()
  review.request = podRequest('team-b', 'registry.acme.example/app:1')
  for (const level of ['info', 'debug']) {
    const run = await pullguard(['review', '--objects', objects, '--log-level', level], JSON.stringify(review))
    t.equal(run.code, 0, run.stderr)
    const lines = run.stderr.trim().split('\n').map(line => JSON.parse(line) as { msg: string, conflicts?: unknown[], problems?: unknown[] })
    const issues = lines.find(line => line.msg.startsWith('loaded '))
    t.equal(issues?.conflicts?.length, 1, `${level}: the conflict is logged`)
    t.equal(issues?.problems?.length, 4, `${level}: the problems are logged`)
    t.match(run.stderr, 'registry.acme.example:443', `${level}: by safe scope`)
    t.match(JSON.parse(run.stdout).response.warnings, [/is in registry registry\.acme\.example,/], `${level}: the foreign image is reported`)
    t.notMatch(run.stderr, HIDDEN, `${level}: stderr`)
    t.notMatch(run.stdout, HIDDEN, `${level}: stdout`)
  }
})
