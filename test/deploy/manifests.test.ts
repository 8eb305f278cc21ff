// Every manifest under deploy/ and examples/: valid Kubernetes objects (schema and no unknown fields),
// and deploy/ consistent with itself, with the chart (values, policy files) and with the code's
// defaults, which are imported so that a change in src/ breaks this test instead of a cluster.

import t from 'tap'
import { DEFAULT_ADMISSION_OPTIONS, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/admission/options.js'
import { DEFAULT_CONFIG, flagOf, SETTINGS } from '../../src/config/config.js'
import { DRAIN_TIMEOUT_MS } from '../../src/server/serve.js'
import { deployManifests, loadManifests, only, readYaml, yamlFilesUnder, type KubeObject, type Manifest } from './support/repo.js'
import { schemaErrors, unknownFields } from './support/schemas.js'

interface Container {
  name: string
  image: string
  args: string[]
  env?: Array<{ name: string, valueFrom?: { fieldRef?: { fieldPath: string } } }>
  ports: Array<{ name: string, containerPort: number }>
  startupProbe: Probe
  livenessProbe: Probe
  readinessProbe: Probe
  volumeMounts: Array<{ name: string, mountPath: string, subPath?: string, readOnly?: boolean }>
  securityContext: Record<string, unknown> & { capabilities?: { drop?: string[] } }
  resources: { requests?: Record<string, string>, limits?: Record<string, string> }
}
interface Probe { httpGet: { path: string, port: string, scheme: string } }
interface PodSpec {
  serviceAccountName: string
  automountServiceAccountToken?: boolean
  priorityClassName?: string
  terminationGracePeriodSeconds: number
  securityContext: Record<string, unknown> & { seccompProfile?: { type: string } }
  containers: Container[]
  volumes: Array<{ name: string, secret?: { secretName: string }, emptyDir?: object }>
  topologySpreadConstraints?: Array<{ topologyKey: string, labelSelector: { matchLabels: Record<string, string> } }>
}
interface Deployment extends KubeObject {
  spec: { replicas: number, selector: { matchLabels: Record<string, string> }, template: { metadata: { labels: Record<string, string> }, spec: PodSpec } }
}
interface Rule { apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[] }
interface Webhook {
  name: string
  admissionReviewVersions: string[]
  clientConfig: { service: { name: string, namespace: string, path: string, port: number }, caBundle?: string }
  rules: Array<{ operations: string[], apiGroups: string[], apiVersions: string[], resources: string[], scope: string }>
  namespaceSelector: object
  objectSelector?: object
  matchConditions?: Array<{ name: string, expression: string }>
  failurePolicy: string
  matchPolicy: string
  sideEffects: string
  timeoutSeconds: number
  reinvocationPolicy: string
}

const CONTRACT_FLAGS = ['--port', '--host', '--metrics-port', '--tls-cert', '--tls-key', '--credentials-namespace',
  '--managed-secret-name', '--foreign-registry-policy', '--public-registries', '--always-pull-exempt', '--tenant-label',
  '--body-limit-bytes', '--shutdown-delay-seconds', '--log-level', '--ensure-timeout-ms', '--namespace-lookup-timeout-ms',
  '--resync-seconds', '--leader-election', '--leader-election-lease-name', '--lease-duration-seconds', '--renew-deadline-seconds',
  '--retry-period-seconds', '--credential-provider-dir', '--kubeconfig', '--config']

const files = [...yamlFilesUnder('deploy'), ...yamlFilesUnder('examples')]
const all: Manifest[] = files.flatMap(loadManifests)
const deploy = deployManifests()
const NS = DEFAULT_ADMISSION_OPTIONS.credentialsNamespace
const TENANT_LABEL = DEFAULT_ADMISSION_OPTIONS.tenantLabel
const MANAGED_SECRET = DEFAULT_ADMISSION_OPTIONS.managedSecretName
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'])

/** `--flag value` pairs of a container's args (every pullguard flag takes a value). */
function flagsOf (args: string[]): Map<string, string> {
  const flags = new Map<string, string>()
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i] as string
    if (!flag.startsWith('--') || args[i + 1] === undefined) throw new Error(`args must be --flag value pairs, got ${JSON.stringify(args.slice(i, i + 2))}`)
    if (flags.has(flag)) throw new Error(`${flag} given twice`)
    flags.set(flag, args[i + 1] as string)
  }
  return flags
}

t.test('every manifest is a valid Kubernetes object', async t => {
  t.ok(files.includes('deploy/pullguard.yaml') && files.some(f => f.startsWith('examples/tenant/')), 'deploy/ and examples/tenant/ are covered', { files })
  for (const { file, index, object } of all) {
    const name = `${file}#${index} ${object.kind} ${object.metadata?.name ?? '?'}`
    t.same(schemaErrors(object), [], `${name}: matches the ${object.apiVersion} ${object.kind} schema`)
    t.same(unknownFields(object), [], `${name}: has no field the API does not define`)
    t.match(object.metadata.name, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, `${name}: a DNS subdomain name`)
    if (file.startsWith('deploy/') && !CLUSTER_SCOPED.has(object.kind)) t.equal(object.metadata.namespace, NS, `${name}: in ${NS}`)
  }
})

t.test('deploy/ creates the credentials namespace the code defaults to, without the tenant label', async t => {
  const namespace = only(loadManifests('deploy/00-namespace.yaml'), 'Namespace')
  t.equal(namespace.metadata.name, NS)
  t.notOk(namespace.metadata.labels?.[TENANT_LABEL], 'never a tenant')
  t.equal(namespace.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted')
  t.same(yamlFilesUnder('deploy'), ['deploy/00-namespace.yaml', 'deploy/pullguard.yaml'], 'kubectl apply -f deploy/ creates the namespace first')
})

t.test('the Deployment passes the code\'s settings as flags the CLI accepts', async t => {
  const deployment = only<Deployment>(deploy, 'Deployment')
  const container = deployment.spec.template.spec.containers[0] as Container
  const flags = flagsOf(container.args)
  const cliFlags = new Set(SETTINGS.filter(s => s.commands.includes('serve')).map(s => flagOf(s.key)))
  for (const flag of flags.keys()) {
    t.ok(CONTRACT_FLAGS.includes(flag), `${flag} is in the CLI contract`)
    t.ok(cliFlags.has(flag), `${flag} is a serve setting in src/config`)
  }
  const expected: Record<string, string> = {
    '--credentials-namespace': NS,
    '--tenant-label': TENANT_LABEL,
    '--managed-secret-name': MANAGED_SECRET,
    '--foreign-registry-policy': DEFAULT_ADMISSION_OPTIONS.foreignRegistryPolicy,
    '--public-registries': DEFAULT_ADMISSION_OPTIONS.publicRegistries.join(','),
    '--host': DEFAULT_CONFIG.host,
    '--port': String(DEFAULT_CONFIG.port),
    '--metrics-port': String(DEFAULT_CONFIG.metricsPort),
    '--body-limit-bytes': String(DEFAULT_CONFIG.bodyLimitBytes),
    '--ensure-timeout-ms': String(DEFAULT_CONFIG.ensureTimeoutMs),
    '--namespace-lookup-timeout-ms': String(DEFAULT_CONFIG.namespaceLookupTimeoutMs),
    '--resync-seconds': String(DEFAULT_CONFIG.resyncSeconds),
    '--log-level': DEFAULT_CONFIG.logLevel
  }
  for (const [flag, value] of Object.entries(expected)) t.equal(flags.get(flag), value, `${flag} ${value} (the code's default)`)
  t.notOk(flags.has('--always-pull-exempt'), 'no exemptions by default, like the code')
  t.notOk(flags.has('--objects') || flags.has('--kubeconfig'), 'live mode with the in-cluster service account')
  const drain = Number(flags.get('--shutdown-delay-seconds'))
  t.equal(drain, DEFAULT_CONFIG.shutdownDelaySeconds, 'the Deployment drains for the binary\'s default delay')
  t.ok(drain > 0, 'a drain window: the API server keeps sending for a few seconds after SIGTERM')
  const webhook = (only(deploy, 'MutatingWebhookConfiguration').webhooks as Webhook[])[0] as Webhook
  const grace = deployment.spec.template.spec.terminationGracePeriodSeconds
  t.ok(grace > drain + webhook.timeoutSeconds, 'terminationGracePeriodSeconds covers the drain window and the longest review the API server waits for')
  t.ok(grace > drain + DRAIN_TIMEOUT_MS / 1000, '... and pullguard\'s own bound on the reviews in flight')
  t.notOk(deployment.spec.template.spec.containers.some(c => 'lifecycle' in c), 'no preStop hook: the delay is pullguard\'s own')
  t.ok(Number(flags.get('--ensure-timeout-ms')) < webhook.timeoutSeconds * 1000, 'writing the managed Secret fits in the webhook timeout')

  t.match(container.image, /^ghcr\.io\/pullguard\/pullguard:\d+\.\d+\.\d+/, 'image pinned to a version')
  t.same(container.env?.find(e => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace', 'POD_NAMESPACE from the downward API')
  const port = (name: string): number | undefined => container.ports.find(p => p.name === name)?.containerPort
  t.equal(port('https'), Number(flags.get('--port')), 'containerPort https is --port')
  t.equal(port('metrics'), Number(flags.get('--metrics-port')), 'containerPort metrics is --metrics-port')
  for (const [probe, path] of [['startupProbe', '/healthz'], ['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']] as const) {
    t.same(container[probe].httpGet, { path, port: 'https', scheme: 'HTTPS' }, `${probe} GET ${path} over HTTPS`)
  }
})

t.test('TLS: the cert-manager Secret is mounted as a directory and the flags point into it', async t => {
  const deployment = only<Deployment>(deploy, 'Deployment')
  const spec = deployment.spec.template.spec
  const container = spec.containers[0] as Container
  const flags = flagsOf(container.args)
  const mount = container.volumeMounts.find(m => m.name === 'tls')
  const volume = spec.volumes.find(v => v.name === 'tls')
  t.ok(mount !== undefined && volume?.secret !== undefined, 'a tls secret volume is mounted')
  t.notOk(container.volumeMounts.some(m => m.subPath !== undefined), 'no subPath: the kubelet updates a directory mount in place on rotation')
  t.equal(flags.get('--tls-cert'), `${mount?.mountPath}/tls.crt`)
  t.equal(flags.get('--tls-key'), `${mount?.mountPath}/tls.key`)
  const serving = only(deploy, 'Certificate', 'pullguard-tls').spec as { secretName: string, dnsNames: string[], issuerRef: { name: string } }
  t.equal(volume?.secret?.secretName, serving.secretName, 'mounts the serving Certificate\'s Secret')
  const service = only(deploy, 'Service')
  t.ok(serving.dnsNames.includes(`${service.metadata.name}.${NS}.svc`), 'the certificate names the Service as the API server dials it')
  const ca = only(deploy, 'Certificate', 'pullguard-ca').spec as { isCA: boolean, secretName: string, issuerRef: { name: string } }
  t.ok(ca.isCA, 'a CA certificate ...')
  t.equal(ca.issuerRef.name, only(deploy, 'Issuer', 'pullguard-selfsigned').metadata.name, '... from the self-signed issuer')
  t.equal((only(deploy, 'Issuer', 'pullguard-ca').spec as { ca: { secretName: string } }).ca.secretName, ca.secretName, 'the CA issuer uses the CA')
  t.equal(serving.issuerRef.name, 'pullguard-ca', 'the serving certificate comes from the CA issuer')
  const mwc = only(deploy, 'MutatingWebhookConfiguration')
  t.equal(mwc.metadata.annotations?.['cert-manager.io/inject-ca-from'], `${NS}/pullguard-tls`, 'cainjector fills the caBundle from the serving Certificate')
})

t.test('the webhook configuration', async t => {
  const mwc = only(deploy, 'MutatingWebhookConfiguration')
  const webhooks = mwc.webhooks as Webhook[]
  t.equal(webhooks.length, 1)
  const webhook = webhooks[0] as Webhook
  const service = only(deploy, 'Service')
  const ports = (service.spec as { ports: Array<{ name: string, port: number, targetPort: string }> }).ports
  t.match(webhook.name, /^[a-z0-9-]+(\.[a-z0-9-]+){2,}$/, 'a fully qualified webhook name')
  t.same(webhook.clientConfig.service, { name: service.metadata.name, namespace: NS, path: '/mutate', port: 443 })
  t.same(ports.find(p => p.port === 443)?.targetPort, 'https', 'Service 443 → the https container port')
  t.same(ports.find(p => p.name === 'http-metrics')?.targetPort, 'metrics', 'the metrics port is on the Service')
  t.notOk(webhook.clientConfig.caBundle, 'no caBundle in the manifest: cainjector owns it')
  t.same(webhook.rules, [
    { operations: ['CREATE', 'UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' },
    { operations: ['UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods/ephemeralcontainers'], scope: 'Namespaced' }
  ], 'Pod CREATE, Pod UPDATE and kubectl debug, nothing else')
  t.same(webhook.matchConditions, readYaml<{ matchConditions: object[] }>('charts/pullguard/files/webhook-match-conditions.yaml').matchConditions,
    'matchConditions from the chart\'s file (policies.test.ts evaluates them)')
  t.same(webhook.namespaceSelector, {
    matchExpressions: [
      { key: TENANT_LABEL, operator: 'Exists' },
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', NS] }
    ]
  }, 'tenant namespaces, never kube-system nor pullguard\'s own')
  t.same(webhook.objectSelector, {}, 'every Pod')
  t.same(webhook.admissionReviewVersions, ['v1', 'v1beta1'])
  t.equal(webhook.sideEffects, 'NoneOnDryRun')
  t.equal(webhook.reinvocationPolicy, 'IfNeeded')
  t.equal(webhook.timeoutSeconds, 5)
  t.equal(webhook.matchPolicy, 'Equivalent')
  t.equal(webhook.failurePolicy, 'Ignore', 'fail open on mutation ...')
  const binding = only(deploy, 'ValidatingAdmissionPolicyBinding', 'pullguard-always-pull')
  t.same((binding.spec as { matchResources: { namespaceSelector: object } }).matchResources.namespaceSelector, webhook.namespaceSelector,
    '... closed on the security property, in exactly the same namespaces')
  t.same((binding.spec as { validationActions: string[] }).validationActions, ['Deny'])
})

t.test('RBAC: least privilege around the managed Secret', async t => {
  const sa = only(deploy, 'ServiceAccount')
  t.equal(sa.automountServiceAccountToken, false, 'the ServiceAccount does not automount ...')
  const spec = only<Deployment>(deploy, 'Deployment').spec.template.spec
  t.equal(spec.serviceAccountName, sa.metadata.name)
  t.equal(spec.automountServiceAccountToken, true, '... only pullguard\'s Pods mount its token')

  const clusterRules = (only(deploy, 'ClusterRole').rules as Rule[])
  t.same(clusterRules, [
    { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    { apiGroups: [''], resources: ['secrets'], resourceNames: [MANAGED_SECRET], verbs: ['get', 'list', 'watch', 'update', 'patch', 'delete'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'get', 'patch'] }
  ], 'cluster-wide: namespaces read, secrets only by the managed name (create cannot be narrowed), events (credential Event series are read back and patched)')
  const role = only(deploy, 'Role')
  t.equal(role.metadata.namespace, NS, 'the credentials namespace ...')
  t.same(role.rules, [
    { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['pullguard'], verbs: ['get', 'update'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] }
  ], '... is the only place pullguard reads every Secret, and holds its Lease: read and renewed by name, create (cannot be narrowed)')
  for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
    const bound = only(deploy, kind)
    t.same(bound.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: NS }], `${kind} binds pullguard's ServiceAccount`)
    t.equal((bound.roleRef as { name: string }).name, kind === 'RoleBinding' ? role.metadata.name : only(deploy, 'ClusterRole').metadata.name)
  }
  for (const rule of [...clusterRules, ...(role.rules as Rule[])]) {
    t.notOk(rule.verbs.includes('*') || rule.resources.includes('*') || rule.apiGroups.includes('*'), 'no wildcards')
  }
})

t.test('availability and hardening', async t => {
  const deployment = only<Deployment>(deploy, 'Deployment')
  const spec = deployment.spec.template.spec
  const selector = deployment.spec.selector.matchLabels
  t.equal(deployment.spec.replicas, 3, 'three replicas')
  t.same(deployment.spec.template.metadata.labels, selector, 'Pod labels are the selector')
  t.equal(spec.priorityClassName, 'system-cluster-critical')
  const pdb = only(deploy, 'PodDisruptionBudget').spec as { minAvailable: number, selector: { matchLabels: object } }
  t.equal(pdb.minAvailable, 1)
  t.same(pdb.selector.matchLabels, selector, 'the PDB covers the webhook Pods')
  t.same(spec.topologySpreadConstraints?.map(c => c.topologyKey), ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'])
  for (const c of spec.topologySpreadConstraints ?? []) t.same(c.labelSelector.matchLabels, selector)
  t.same((only(deploy, 'Service').spec as { selector: object }).selector, selector, 'the Service selects the webhook Pods')

  t.match(spec.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } })
  t.ok(Number(spec.securityContext.runAsUser) > 0, 'a numeric non-root user')
  const container = spec.containers[0] as Container
  t.match(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false })
  t.same(container.securityContext.capabilities?.drop, ['ALL'])
  t.ok(container.resources.requests?.cpu !== undefined && container.resources.requests.memory !== undefined, 'requests set')
  t.ok(container.resources.limits?.memory !== undefined, 'a memory limit')

  const policy = only(deploy, 'NetworkPolicy').spec as { podSelector: { matchLabels: object }, ingress: Array<{ ports: Array<{ port: number }>, from?: object[] }> }
  t.same(policy.podSelector.matchLabels, selector)
  const flags = flagsOf(container.args)
  t.same(policy.ingress.map(r => r.ports.map(p => p.port)), [[Number(flags.get('--port'))], [Number(flags.get('--metrics-port'))]], 'ingress to the webhook and metrics ports only')
  t.equal(policy.ingress[0]?.from, undefined, 'the API server may call from anywhere')
  t.ok((policy.ingress[1]?.from?.length ?? 0) > 0, 'metrics only from the configured peers')
})

t.test('deploy/ carries the chart\'s policy files and values exactly', async t => {
  const values = readYaml<{ settings: { tenantLabel: string, managedSecretName: string, alwaysPullExempt: string[] }, tenantLabelGuard: { adminGroups: string[] } }>('charts/pullguard/values.yaml')
  const sections = (name: string): { matchConditions?: object[], variables: Array<{ name: string }>, validations: object[] } =>
    readYaml(`charts/pullguard/files/policies/${name}.yaml`)
  const templated: Record<string, Record<string, unknown>> = {
    'always-pull': { alwaysPullExempt: values.settings.alwaysPullExempt },
    'tenant-label-guard': {
      tenantLabel: values.settings.tenantLabel,
      adminUsers: [`system:serviceaccount:${NS}:pullguard`],
      adminGroups: values.tenantLabelGuard.adminGroups
    },
    'managed-secret-guard': {
      pullguardUser: `system:serviceaccount:${NS}:pullguard`,
      managedSecretName: values.settings.managedSecretName,
      tenantLabel: values.settings.tenantLabel,
      credentialsNamespace: NS
    }
  }
  for (const [name, config] of Object.entries(templated)) {
    const spec = only(deploy, 'ValidatingAdmissionPolicy', `pullguard-${name}`).spec as {
      failurePolicy: string, matchConditions?: object[], variables: Array<{ name: string, expression: string }>, validations: object[]
    }
    const file = sections(name)
    t.equal(spec.failurePolicy, 'Fail', `${name}: an expression error rejects`)
    t.same(spec.matchConditions, file.matchConditions, `${name}: matchConditions from the policy file`)
    t.same(spec.validations, file.validations, `${name}: validations from the policy file`)
    const leading = spec.variables.slice(0, Object.keys(config).length)
    t.same(spec.variables.slice(leading.length), file.variables, `${name}: the file's variables follow the configuration`)
    t.same(leading.map(v => v.name), Object.keys(config), `${name}: configuration variables first`)
    for (const variable of leading) {
      t.same(JSON.parse(variable.expression), config[variable.name], `${name}: variables.${variable.name} is the value as a CEL literal`)
    }
  }
  t.equal(values.settings.tenantLabel, TENANT_LABEL)
  t.equal(values.settings.managedSecretName, MANAGED_SECRET)
  const guard = readYaml<{ validations: Array<{ expression: string }> }>('charts/pullguard/files/policies/managed-secret-guard.yaml')
  t.ok(guard.validations.some(v => v.expression.includes(`'${MANAGED_BY_LABEL}'`) && v.expression.includes(`'${MANAGED_BY_VALUE}'`)),
    'the managed-secret guard requires the code\'s managed-by label')
})

t.test('the example tenant follows the conventions the code reads', async t => {
  const example = yamlFilesUnder('examples/tenant').flatMap(loadManifests)
  const namespace = only(example, 'Namespace')
  const tenant = namespace.metadata.labels?.[TENANT_LABEL]
  t.ok(tenant, 'the namespace carries the tenant label')
  t.notOk([NS, 'kube-system'].includes(namespace.metadata.name), 'a namespace the webhook covers')
  const secret = only(example, 'Secret') as KubeObject & { type: string, stringData?: Record<string, string>, data?: Record<string, string> }
  t.equal(secret.metadata.namespace, DEFAULT_ADMISSION_OPTIONS.credentialsNamespace, 'the credential is in the credentials namespace')
  t.equal(secret.metadata.labels?.[TENANT_LABEL], tenant, 'labelled with the same tenant')
  t.equal(secret.type, 'kubernetes.io/dockerconfigjson')
  const config = JSON.parse(secret.stringData?.['.dockerconfigjson'] ?? Buffer.from(secret.data?.['.dockerconfigjson'] ?? '', 'base64').toString()) as
    { auths: Record<string, { auth?: string, username?: string, password?: string }> }
  for (const [registry, entry] of Object.entries(config.auths)) {
    t.equal(Buffer.from(entry.auth ?? '', 'base64').toString(), 'demo:demo', `${registry}: fake credentials only`)
    if (entry.username !== undefined) t.equal(`${entry.username}:${entry.password ?? ''}`, 'demo:demo')
  }
  const pod = only(example, 'Pod')
  t.equal(pod.metadata.namespace, namespace.metadata.name, 'the example Pod runs in the tenant namespace')
})
