// docs/runbook.md must work as written. Every `pullguard` line of its ```sh blocks runs through the
// command line (in this process, test/support/cli.ts) from the repository root (where the runbook tells
// the reader to run it), against examples/runbook/, and must exit and print as the table below says; a
// line that cannot run here is in the table with the reason, never skipped silently. The kubectl and
// helm lines are not run, but every pullguard name they use, and every metric, Event reason and
// pullguard message the runbook quotes, is checked against the code, so the runbook cannot drift from
// it.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { CREDENTIAL_PROBLEM_REASONS } from '../../src/admission/credential-problems.js'
import { DEFAULT_ADMISSION_OPTIONS, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/admission/options.js'
import { WARNINGS } from '../../src/admission/warnings.js'
import { CREDENTIAL_EVENTS_ACTION, CREDENTIAL_EVENTS_CONTROLLER } from '../../src/cluster/credential-events.js'
import { registerCredentialHealthMetrics } from '../../src/cluster/credential-metrics.js'
import { registerLiveMetrics } from '../../src/cluster/live/live-metrics.js'
import { DEFAULT_CONFIG } from '../../src/config/config.js'
import { createMetrics } from '../../src/server/metrics.js'
import { REPO_ROOT, runCli, type CliRun } from '../support/cli.js'
import { deployManifests, only, type KubeObject } from '../deploy/support/repo.js'
import { evaluatePolicy } from '../deploy/support/vap.js'

const RUNBOOK = readFileSync(join(REPO_ROOT, 'docs/runbook.md'), 'utf8')
const read = (path: string): string => readFileSync(join(REPO_ROOT, path), 'utf8')
// prose wraps quoted messages over lines
const RUNBOOK_FLAT = RUNBOOK.replace(/\s+/g, ' ')

/** Lines of the ```sh blocks, `\` continuations joined. */
function shellLines (markdown: string): string[] {
  const lines: string[] = []
  for (const block of markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    lines.push(...(block[1] ?? '').replace(/\\\n\s*/g, ' ').split('\n').map(line => line.trim()).filter(line => line !== ''))
  }
  return lines
}

const SH_LINES = shellLines(RUNBOOK)
const PULLGUARD_LINES = SH_LINES.filter(line => line.startsWith('pullguard '))

interface Expectation { stream: 'stdout' | 'stderr', text: string }
interface RunbookCommand {
  exitCode: number
  shows: Expectation[]
  /** why it does not run here */
  skip?: `needs a cluster${string}`
}

const NEEDS_A_CLUSTER = 'needs a cluster (--kubeconfig)'
const CLUSTER = 'examples/runbook/cluster.yaml'

// Every `pullguard` line of the runbook, exactly once. Outputs are the code's own wording (WARNINGS).
const COMMANDS: Record<string, RunbookCommand> = {
  [`pullguard review --objects ${CLUSTER} < examples/runbook/team-c-pod-review.json`]: {
    exitCode: 0,
    shows: [
      { stream: 'stdout', text: WARNINGS.noCredentials('hooli') },
      { stream: 'stderr', text: '3 credential problems: Secret hooli-registry NoUsableCredential, Secret hooli-registry CredentialHelperOnly "registry.hooli.example", tenant hooli TenantWithoutCredentials' }
    ]
  },
  [`pullguard review --objects ${CLUSTER} < examples/runbook/team-d-pod-review.json`]: {
    exitCode: 0,
    shows: [{ stream: 'stdout', text: WARNINGS.managedSecretConflict(DEFAULT_ADMISSION_OPTIONS.managedSecretName) }]
  },
  [`pullguard review --objects ${CLUSTER} -o patch examples/runbook/pod-team-c.yaml`]: {
    exitCode: 0,
    shows: [{ stream: 'stdout', text: '"path": "/spec/containers/0/imagePullPolicy"' }]
  },
  [`pullguard review --objects ${CLUSTER} -o patched examples/runbook/pod.yaml`]: {
    exitCode: 0,
    shows: [
      { stream: 'stdout', text: `"name": "${DEFAULT_ADMISSION_OPTIONS.managedSecretName}"` },
      { stream: 'stdout', text: '"imagePullPolicy": "Always"' }
    ]
  },
  [`pullguard review --objects ${CLUSTER} --fail-on-deny < examples/runbook/image-update-review.json`]: {
    exitCode: 3,
    shows: [{ stream: 'stderr', text: 'pullguard: denied: this update changes the image of container "app" (imagePullPolicy IfNotPresent)' }]
  },
  [`pullguard explain --objects ${CLUSTER} examples/runbook/pod-team-c.yaml`]: {
    exitCode: 0,
    shows: [{ stream: 'stdout', text: 'namespace team-c, tenant hooli, credentials: none' }]
  },
  [`pullguard status --objects ${CLUSTER}`]: {
    exitCode: 4,
    shows: [{ stream: 'stdout', text: 'tenant hooli: TenantWithoutCredentials' }]
  },
  'pullguard explain --kubeconfig ~/.kube/config pod.yaml': { exitCode: 0, shows: [], skip: NEEDS_A_CLUSTER },
  'pullguard status --kubeconfig ~/.kube/config': { exitCode: 0, shows: [], skip: NEEDS_A_CLUSTER }
}

t.test('every pullguard line of the runbook is in the table, and every entry is in the runbook', async t => {
  t.ok(PULLGUARD_LINES.length >= 5, 'the runbook has pullguard commands')
  t.same([...new Set(PULLGUARD_LINES)].sort(), Object.keys(COMMANDS).sort())
  for (const line of SH_LINES) t.notMatch(line, /\|\s*pullguard\b/, `pullguard is run on its own line, not at the end of a pipe: ${line}`)
  for (const [command, { skip }] of Object.entries(COMMANDS)) {
    t.equal(command.includes('--kubeconfig'), skip === NEEDS_A_CLUSTER, `${command}: skipped as needing a cluster exactly when it names --kubeconfig`)
  }
})

/** The words of a runbook line and its stdin: plain words only, so running them needs no shell. */
function parseCommand (command: string): { args: string[], stdinFile?: string } {
  const [words, stdinFile, ...extra] = command.split(/\s+<\s+/)
  if (words === undefined || extra.length > 0) throw new Error(`more than one redirection: ${command}`)
  const args = words.split(/\s+/).slice(1)
  for (const word of [...args, ...(stdinFile === undefined ? [] : [stdinFile])]) {
    if (!/^[\w./:=~,-]+$/.test(word)) throw new Error(`${command}: ${JSON.stringify(word)} needs a shell; keep runbook commands to plain words and \`< FILE\``)
  }
  return { args, ...(stdinFile !== undefined && { stdinFile }) }
}

// A JSON answer escapes its strings' quotes; an expected line matches either form.
const contains = (output: string, text: string): boolean => output.includes(text) || output.includes(JSON.stringify(text).slice(1, -1))

t.test('the pullguard commands, run as written', async t => {
  for (const [command, expected] of Object.entries(COMMANDS)) {
    if (expected.skip !== undefined) {
      t.test(command, { skip: expected.skip }, async () => {})
      continue
    }
    t.test(command, async t => {
      const { args, stdinFile } = parseCommand(command)
      const run: CliRun = await runCli(args, stdinFile === undefined ? '' : read(stdinFile))
      t.equal(run.code, expected.exitCode, 'exit code', { stderr: run.stderr })
      for (const { stream, text } of expected.shows) t.ok(contains(run[stream], text), `${stream} shows ${text}`, { [stream]: run[stream] })
    })
  }
})

// Names the kubectl and helm lines may use, each from where the code or the chart defines it.
const manifests = deployManifests()
const namesOf = (object: KubeObject): string[] => [
  object.metadata?.name ?? '',
  ...((object as { webhooks?: Array<{ name: string }> }).webhooks ?? []).map(webhook => webhook.name)
]
const KNOWN_NAMES = new Set<string>([
  DEFAULT_ADMISSION_OPTIONS.tenantLabel,
  DEFAULT_ADMISSION_OPTIONS.sharedLabel,
  DEFAULT_ADMISSION_OPTIONS.credentialsNamespace,
  DEFAULT_ADMISSION_OPTIONS.managedSecretName,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  DEFAULT_CONFIG.leaderElectionLeaseName,
  CREDENTIAL_EVENTS_CONTROLLER,
  // the chart's rendering with release `pullguard` (deploy/ is checked against the chart)
  ...manifests.flatMap(manifest => namesOf(manifest.object as KubeObject))
])
const runbookNamespaces = new Set(parseAllDocuments(read(CLUSTER)).map(document => document.toJS() as KubeObject)
  .filter(object => object.kind === 'Namespace').map(object => object.metadata?.name))

t.test('the kubectl and helm lines use only pullguard names the code and the chart define', async t => {
  const others = SH_LINES.filter(line => !line.startsWith('pullguard '))
  t.ok(others.some(line => line.startsWith('kubectl ')) && others.some(line => line.startsWith('helm ')), 'there are kubectl and helm lines')
  for (const line of others) {
    for (const token of line.match(/[A-Za-z0-9~][\w.~/-]*/g) ?? []) {
      // `secret/NAME`, `deployment/NAME`: the name; label keys (`pullguard.dev/tenant`) have a dot before the slash
      const slash = token.indexOf('/')
      const name = slash > 0 && !token.slice(0, slash).includes('.') ? token.slice(slash + 1) : token
      if (!name.includes('pullguard') || name.startsWith('charts/')) continue
      t.ok(KNOWN_NAMES.has(name), `${JSON.stringify(name)} in: ${line}`)
    }
    for (const [, namespace] of line.matchAll(/(?:^|\s)-n\s+(\S+)/g)) {
      t.ok(runbookNamespaces.has(namespace ?? ''), `namespace ${namespace} is in ${CLUSTER}: ${line}`)
    }
  }
  t.ok(read('charts/pullguard/Chart.yaml').includes('name: pullguard'), 'charts/pullguard is the chart the helm lines install')
})

t.test('every metric the runbook names is one pullguard registers', async t => {
  const registry: Registry = createMetrics({ defaultMetrics: false }).registry
  registerLiveMetrics(registry, { queueDepth: () => 0, managedSecrets: () => 0, cacheAges: () => [] })
  registerCredentialHealthMetrics(registry, () => ({ problems: [], tenantsWithoutCredentials: [] }) as never)
  const registered = new Set(registry.getMetricsAsArray().map(metric => metric.name))
  const named = new Set(RUNBOOK.match(/\bpullguard_[a-z_]+/g) ?? [])
  t.ok(named.size >= 4, 'the runbook names metrics')
  for (const metric of named) t.ok(registered.has(metric), metric)
})

// CamelCase words the runbook may use that are Kubernetes' (kinds, the kubelet's and API's reasons), not pullguard's.
const KUBERNETES_WORDS = new Set([
  'ImagePullBackOff', 'ErrImagePull', 'FailedToRetrieveImagePullSecret', 'NotFound', 'ValidatingAdmissionPolicy',
  'ServiceAccount', 'StatefulSet', 'DaemonSet', 'NetworkPolicy', 'AdmissionReview', 'IfNotPresent'
])
const MANAGED_SECRET_CONFLICT = 'ManagedSecretConflict'

t.test('every Event reason the runbook names is pullguard\'s, and each credential reason has its fix', async t => {
  const reasons = new Set<string>([...CREDENTIAL_PROBLEM_REASONS, MANAGED_SECRET_CONFLICT])
  // the projector writes it as a literal: its Event, as the runbook quotes it
  const projector = read('src/cluster/live/projector.ts')
  t.ok(projector.includes(`reason: '${MANAGED_SECRET_CONFLICT}'`), 'the projector records ManagedSecretConflict')
  const conflictNote = `Secret ${DEFAULT_ADMISSION_OPTIONS.managedSecretName} is not labelled ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}, so pullguard leaves it untouched ` +
    'and cannot install registry credentials here; delete or rename it to let pullguard manage it'
  for (const part of ['Secret ${name} is not labelled app.kubernetes.io/managed-by=pullguard, so pullguard leaves it untouched ',
    'and cannot install registry credentials here; delete or rename it to let pullguard manage it']) {
    t.ok(projector.includes(part), `the projector's note has ${part}`)
  }
  t.ok(RUNBOOK_FLAT.includes(conflictNote), 'the runbook quotes the ManagedSecretConflict note')

  for (const word of new Set(RUNBOOK.match(/\b[A-Z][a-z]+(?:[A-Z][a-z0-9]*)+\b/g) ?? [])) {
    t.ok(reasons.has(word) || word === CREDENTIAL_EVENTS_ACTION || KUBERNETES_WORDS.has(word), `${word} is a pullguard reason or a Kubernetes name`)
  }
  const fixTable = RUNBOOK.slice(RUNBOOK.indexOf('| reason | fix |'))
  for (const reason of CREDENTIAL_PROBLEM_REASONS) t.ok(fixTable.includes(`\`${reason}\``), `${reason} has a fix`)
  t.ok(RUNBOOK.includes(`\`${CREDENTIAL_EVENTS_ACTION}\``), 'the Events\' action')
})

t.test('the messages the runbook quotes are the code\'s', async t => {
  const name = DEFAULT_ADMISSION_OPTIONS.managedSecretName
  for (const warning of [WARNINGS.noCredentials('hooli'), WARNINGS.managedSecretConflict(name), WARNINGS.managedSecretNotReady(name)]) {
    t.ok(RUNBOOK_FLAT.includes(warning), warning)
  }
  // The policies' denials, evaluated on the runbook's own cases as the API server would.
  const policy = (suffix: string): { policy: KubeObject, binding: KubeObject } => ({
    policy: only(manifests, 'ValidatingAdmissionPolicy', `pullguard-${suffix}`),
    binding: only(manifests, 'ValidatingAdmissionPolicyBinding', `pullguard-${suffix}`)
  })
  const denial = (suffix: string, resource: string, name: string, message: string): string =>
    `${resource} "${name}" is forbidden: ValidatingAdmissionPolicy 'pullguard-${suffix}' with binding 'pullguard-${suffix}' denied request: ${message}`
  const tenantUser = { username: 'alice@team.example', groups: ['system:authenticated'] }
  const teamA = (tenant: string): object => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: { [DEFAULT_ADMISSION_OPTIONS.tenantLabel]: tenant } } })

  const pod = parseAllDocuments(read('examples/runbook/pod.yaml'))[0]?.toJS() as KubeObject
  const alwaysPull = policy('always-pull')
  const refused = evaluatePolicy(alwaysPull.policy, alwaysPull.binding, {
    request: { operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'team-a', name: 'api', userInfo: tenantUser },
    object: pod, oldObject: null, namespaceObject: teamA('acme')
  })
  t.equal(refused.allowed, false, 'the always-pull policy refuses examples/runbook/pod.yaml')
  t.ok(RUNBOOK_FLAT.includes(denial('always-pull', 'pods', 'api', refused.messages[0] ?? '')), 'the runbook quotes its denial', { messages: refused.messages })

  const labelGuard = policy('tenant-label-guard')
  const relabel = evaluatePolicy(labelGuard.policy, labelGuard.binding, {
    request: { operation: 'UPDATE', resource: { group: '', version: 'v1', resource: 'namespaces' }, name: 'team-a', userInfo: tenantUser },
    object: teamA('globex'), oldObject: teamA('acme'), namespaceObject: null
  })
  t.equal(relabel.allowed, false, 'the tenant label guard refuses a tenant\'s relabel')
  t.ok(RUNBOOK_FLAT.includes(denial('tenant-label-guard', 'namespaces', 'team-a', relabel.messages[0] ?? '')), 'the runbook quotes its denial', { messages: relabel.messages })

  // The webhook's own denial of the runbook's image change, as kubectl prints it.
  const webhook = (only(manifests, 'MutatingWebhookConfiguration') as { webhooks?: Array<{ name: string }> }).webhooks?.[0]?.name
  const run = await runCli(['review', '--objects', CLUSTER], read('examples/runbook/image-update-review.json'))
  const answer = JSON.parse(run.stdout) as { response: { allowed: boolean, status?: { message?: string } } }
  t.equal(answer.response.allowed, false, 'the image change is denied')
  t.ok(RUNBOOK_FLAT.includes(`admission webhook "${webhook}" denied the request: ${answer.response.status?.message}`), 'the runbook quotes the webhook\'s denial')
})
