// The chart as Helm renders it: `helm lint --strict` and `helm template` (a real helm, see
// support/helm.ts) with every values file in charts/pullguard/ci, the objects checked against the
// Kubernetes schemas and for what each values combination promises; the TLS mode's stickiness with
// `helm template --dry-run=server` against the API double, so `lookup` meets real answers.

import { X509Certificate } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import t from 'tap'
import { SETTINGS, flagOf } from '../../src/config/config.js'
import { inspectKeyPair } from '../../src/server/tls.js'
import { CHART, readText, readYaml, type KubeObject } from './support/repo.js'
import { HelmError, NAMESPACE, RELEASE, helm, lint, one, parseRendered, render, renderText, templateArgs, type RenderedObject } from './support/helm.js'
import { startHelmCluster } from './support/helm-cluster.js'
import { schemaErrors, unknownFields } from './support/schemas.js'

t.setTimeout(10 * 60 * 1000)

const CI_FILES = readdirSync(join(CHART, 'ci')).filter(f => f.endsWith('-values.yaml')).sort()
const ciPath = (file: string): string => `charts/pullguard/ci/${file}`
/** a cluster with cert-manager and prometheus-operator, as `make chart-lint` renders */
const API_VERSIONS = ['cert-manager.io/v1', 'monitoring.coreos.com/v1']
const defaults = readYaml<Record<string, unknown>>('charts/pullguard/values.yaml')

// Rendered once per file, in parallel (helm is a separate process).
const renders = new Map<string, RenderedObject[]>(await Promise.all(CI_FILES.map(async (file): Promise<[string, RenderedObject[]]> => {
  const result = await helm(templateArgs({ valuesFiles: [ciPath(file)], apiVersions: API_VERSIONS }))
  if (result.status !== 0) throw new HelmError(`${file}: ${result.stderr.trim()}`)
  return [file, parseRendered(result.stdout)]
})))
const rendered = (file: string): RenderedObject[] => renders.get(file) ?? []

interface Container { name: string, image: string, args?: string[], command?: string[], env?: Array<{ name: string, value?: string }>, volumeMounts?: Array<{ name: string, mountPath: string }> }
interface PodSpec {
  serviceAccountName: string
  priorityClassName?: string
  containers: Container[]
  volumes: Array<{ name: string, secret?: { secretName: string }, configMap?: { name: string } }>
}
interface Deployment extends KubeObject { spec: { selector: { matchLabels: Record<string, string> }, template: { metadata: { labels: Record<string, string> }, spec: PodSpec } } }
interface Rule { apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[] }
interface Webhook { clientConfig: { caBundle?: string } }

const deploymentOf = (objects: RenderedObject[]): Deployment => one<Deployment>(objects, 'Deployment')
const podSpecOf = (objects: RenderedObject[]): PodSpec => deploymentOf(objects).spec.template.spec
const isHook = (object: KubeObject): boolean => object.metadata.annotations?.['helm.sh/hook'] !== undefined

t.test('every ci/ values file passes helm lint --strict and renders valid Kubernetes objects', async t => {
  t.ok(CI_FILES.length >= 10, `${CI_FILES.length} values files`)
  const lints = await Promise.all(CI_FILES.map(async file => [file, await lint(ciPath(file))] as const))
  for (const [file, linted] of lints) {
    t.equal(linted.status, 0, `${file}: helm lint --strict`, { output: linted.stdout + linted.stderr })
    for (const { source, object } of rendered(file)) {
      const name = `${file}: ${object.kind} ${object.metadata.name} (${source})`
      t.same(schemaErrors(object), [], `${name}: matches its schema`)
      t.same(unknownFields(object), [], `${name}: no field the API does not define`)
      t.match(object.metadata.name, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, `${name}: a DNS subdomain name`)
    }
  }
})

/** `.Values` paths an if/with/range (or else if) of the chart decides on, aliases resolved. */
function branchPaths (): Map<string, string[]> {
  const files = ['_helpers.tpl', ...readdirSync(join(CHART, 'templates'), { recursive: true }).map(String).filter(f => f.endsWith('.yaml'))]
  const found = new Map<string, string[]>()
  for (const file of files) {
    const text = readText(`charts/pullguard/templates/${file}`)
    const aliases = new Map<string, string>([['mode', 'tls.mode']]) // $mode := include "pullguard.tlsMode"
    for (const m of text.matchAll(/\$(\w+)\s*:=\s*\.Values((?:\.\w+)+)/g)) aliases.set(m[1] as string, (m[2] as string).slice(1))
    // guards that `fail` are not branches a values file can take: the refusal tests below cover them
    for (const m of text.matchAll(/\{\{-?\s*(?:else\s+)?(?:if|with|range)\s+([^}]*)\}\}(?!\n\{\{-?\s*fail)/g)) {
      const condition = m[1] as string
      const paths = [...condition.matchAll(/\.Values((?:\.\w+)+)/g)].map(v => (v[1] as string).slice(1))
      for (const a of condition.matchAll(/\$(\w+)((?:\.\w+)*)/g)) {
        const base = aliases.get(a[1] as string)
        if (base !== undefined) paths.push(`${base}${a[2] as string}`)
      }
      for (const path of paths) found.set(path, [...(found.get(path) ?? []), file])
    }
  }
  return found
}

function valueAt (node: unknown, path: string): { set: boolean, value?: unknown } {
  let current = node
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return { set: false }
    current = (current as Record<string, unknown>)[key]
  }
  return { set: true, value: current }
}

t.test('every value the templates branch on is changed by some ci/ values file', async t => {
  const paths = branchPaths()
  t.ok(paths.size > 30, `${paths.size} values decide a branch`)
  const files = CI_FILES.map(file => ({ file, values: readYaml<unknown>(ciPath(file)) }))
  for (const [path, where] of paths) {
    t.ok(valueAt(defaults, path).set, `${path} (${where.join(', ')}) exists in values.yaml`)
    // the file sets the path itself to something other than the default (null deletes a default key)
    const covering = files.find(({ values }) => {
      const set = valueAt(values, path)
      return set.set && !isDeepStrictEqual(set.value, valueAt(defaults, path).value)
    })
    t.ok(covering, `${path}: the other branch is rendered by ${covering?.file ?? 'no ci/ file'}`)
  }
})

t.test('refused combinations fail the render with a message', async t => {
  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a grace period shorter than the drain window plus a review', { terminationGracePeriodSeconds: 6 }, /terminationGracePeriodSeconds must exceed/],
    ['an ensure budget beyond the webhook timeout', { 'settings.ensureTimeoutMs': 5000 }, /ensureTimeoutMs must be below/],
    ['one port for webhook and metrics', { 'settings.metricsPort': 8443 }, /must differ/],
    ['an issuerRef without a name', { 'tls.mode': 'certManager', 'tls.certManager.issuerRef': { kind: 'ClusterIssuer' } }, /issuerRef\.name is required/],
    ['secret mode without its Secret', { 'tls.mode': 'secret' }, /tls\.secret/],
    ['the removed auto mode', { 'tls.mode': 'auto' }, /tls\.mode|mode/]
  ]
  await Promise.all(refused.map(async ([name, set, message]) => await t.rejects(renderText({ set }), message, `refuses ${name}`)))
})

t.test('the defaults install on GKE, EKS and AKS as they come', async t => {
  const objects = rendered('default-values.yaml')
  const spec = podSpecOf(objects)
  t.equal(spec.priorityClassName, undefined, 'no priority class: nothing for a critical-priority quota to refuse')
  t.notOk(objects.some(o => o.object.kind === 'ResourceQuota'), 'and no quota')
  t.notOk(objects.some(o => o.object.apiVersion.startsWith('cert-manager.io/')), 'no cert-manager needed ...')
  t.notOk(objects.some(o => o.object.apiVersion.startsWith('monitoring.coreos.com/')), '... nor prometheus-operator')
  const mwc = one(objects, 'MutatingWebhookConfiguration')
  t.equal(mwc.metadata.annotations?.['pullguard.dev/tls-mode'], 'helm', 'TLS generated by the chart')
  const withCapabilities = await render({ apiVersions: API_VERSIONS, noHooks: true })
  t.equal(one(withCapabilities, 'MutatingWebhookConfiguration').metadata.annotations?.['pullguard.dev/tls-mode'], 'helm',
    'a cluster serving cert-manager.io/v1 does not change the mode: it is never read from .Capabilities')

  const critical = rendered('critical-priority-values.yaml')
  t.equal(podSpecOf(critical).priorityClassName, 'system-cluster-critical', 'asked for: the priority class ...')
  const quota = one(critical, 'ResourceQuota').spec as { scopeSelector: { matchExpressions: Array<{ values: string[] }> } }
  t.same(quota.scopeSelector.matchExpressions[0]?.values, ['system-cluster-critical'], '... with the quota that admits it')
})

t.test('TLS: one Secret per mode, mounted, trusted by the webhook', async t => {
  const secretOf = (objects: RenderedObject[]): string | undefined => podSpecOf(objects).volumes.find(v => v.name === 'tls')?.secret?.secretName
  const caBundleOf = (objects: RenderedObject[]): string | undefined => ((one(objects, 'MutatingWebhookConfiguration').webhooks as Webhook[])[0])?.clientConfig.caBundle

  const helmMode = rendered('default-values.yaml')
  const generated = one(helmMode, 'Secret', `${RELEASE}-helm-tls`) as KubeObject & { type: string, data: Record<string, string> }
  t.equal(generated.type, 'kubernetes.io/tls')
  t.equal(secretOf(helmMode), `${RELEASE}-helm-tls`, 'helm: the generated Secret is mounted')
  t.equal(caBundleOf(helmMode), generated.data['ca.crt'], 'and its CA is the caBundle')
  const pem = (key: string): Buffer => Buffer.from(generated.data[key] ?? '', 'base64')
  const info = inspectKeyPair({ cert: pem('tls.crt'), key: pem('tls.key') })
  t.same(info.subjectAltName?.split(', ').sort(), [RELEASE, `${RELEASE}.${NAMESPACE}`, `${RELEASE}.${NAMESPACE}.svc`, `${RELEASE}.${NAMESPACE}.svc.cluster.local`].map(n => `DNS:${n}`).sort(),
    'the pair serves (pullguard\'s own check) under the Service\'s names')
  const servingCert = new X509Certificate(pem('tls.crt'))
  t.ok(servingCert.verify(new X509Certificate(pem('ca.crt')).publicKey), 'signed by the caBundle\'s CA')
  t.same(servingCert.publicKey.asymmetricKeyDetails, { namedCurve: 'prime256v1' }, 'an ECDSA P-256 key, as cert-manager\'s mode issues')

  const certManager = rendered('cert-manager-values.yaml')
  const serving = one(certManager, 'Certificate', `${RELEASE}-tls`).spec as { secretName: string, issuerRef: { kind: string, name: string } }
  t.equal(serving.secretName, `${RELEASE}-cert-manager-tls`, 'certManager: a Secret name of its own')
  t.equal(secretOf(certManager), serving.secretName)
  t.same(serving.issuerRef, { group: 'cert-manager.io', kind: 'Issuer', name: `${RELEASE}-ca` }, 'from the chart\'s CA issuer')
  t.equal(one(certManager, 'MutatingWebhookConfiguration').metadata.annotations?.['cert-manager.io/inject-ca-from'], `${NAMESPACE}/${RELEASE}-tls`)
  t.equal(caBundleOf(certManager), undefined, 'cainjector owns the caBundle')
  t.notOk(certManager.some(o => o.object.kind === 'Secret'), 'the chart writes no Secret cert-manager writes')

  const issuer = rendered('cert-manager-issuer-values.yaml')
  t.same((one(issuer, 'Certificate').spec as { issuerRef: object }).issuerRef, { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'platform-ca' }, 'issuerRef: the existing issuer')
  t.notOk(issuer.some(o => o.object.kind === 'Issuer'), 'and no issuers of the chart\'s')

  const secret = rendered('secret-tls-values.yaml')
  t.equal(secretOf(secret), 'pullguard-serving', 'secret: the named Secret')
  t.equal(caBundleOf(secret), 'Q0EgUEVNIGdvZXMgaGVyZQ==', 'and the CA given')
  t.equal(new Set([secretOf(helmMode), secretOf(certManager), secretOf(secret)]).size, 3, 'three modes, three Secret names')
})

t.test('TLS mode is sticky on upgrade: the installed mode\'s Secret wins over tls.mode', async t => {
  const cluster = await startHelmCluster(t)
  cluster.api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } })
  const modeOf = (objects: RenderedObject[]): string | undefined => one(objects, 'MutatingWebhookConfiguration').metadata.annotations?.['pullguard.dev/tls-mode']

  t.equal(modeOf(await cluster.render({ upgrade: true, noHooks: true })), 'helm', 'nothing installed: tls.mode')
  cluster.api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${RELEASE}-cert-manager-tls`, namespace: NAMESPACE }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==', 'tls.key': 'eA==' } })
  const kept = await cluster.render({ upgrade: true, noHooks: true })
  t.equal(modeOf(kept), 'certManager', 'cert-manager\'s Secret exists: an upgrade with tls.mode=helm keeps certManager')
  t.equal(podSpecOf(kept).volumes.find(v => v.name === 'tls')?.secret?.secretName, `${RELEASE}-cert-manager-tls`, 'and its Secret')
  t.equal(modeOf(await cluster.render({ upgrade: true, noHooks: true, set: { 'tls.allowModeChange': true } })), 'helm', 'tls.allowModeChange: the switch is made')
  t.equal(modeOf(await cluster.render({ upgrade: false, noHooks: true })), 'helm', 'a fresh install never inherits a leftover Secret\'s mode')

  // helm mode: the Secret is reused, so the CA (the caBundle) survives every upgrade
  const first = await render({ noHooks: true })
  const secret = one(first, 'Secret', `${RELEASE}-helm-tls`) as KubeObject & { data: Record<string, string> }
  cluster.api.create({ ...secret, metadata: { name: secret.metadata.name, namespace: NAMESPACE } })
  const upgraded = await cluster.render({ upgrade: true, noHooks: true, set: { 'tls.mode': 'certManager' } })
  t.equal(modeOf(upgraded), 'helm', 'both Secrets exist: the chart\'s own (helm) wins')
  t.same((one(upgraded, 'Secret', `${RELEASE}-helm-tls`) as KubeObject & { data: object }).data, secret.data, 'certificate, key and CA reused (lookup)')
  const lookups = cluster.api.requests.filter(r => r.verb === 'get' && r.resource === 'secrets')
  t.ok(lookups.length > 0 && lookups.every(r => r.namespace === NAMESPACE), 'lookups read Secrets of the release namespace only')
})

t.test('the Deployment runs `serve` with flags the CLI accepts, the credentials namespace among them', async t => {
  const serveFlags = new Set(SETTINGS.filter(s => s.commands.includes('serve')).map(s => flagOf(s.key)))
  for (const file of CI_FILES) {
    const container = podSpecOf(rendered(file)).containers[0] as Container
    const args = container.args ?? []
    t.equal(args[0], 'serve', `${file}: the subcommand first (the image's entrypoint is pullguard)`)
    t.equal(container.command, undefined, `${file}: the image's entrypoint is kept`)
    for (let i = 1; i < args.length; i += 2) t.ok(serveFlags.has(args[i] as string), `${file}: ${args[i]} is a serve flag`)
  }
  const flag = (file: string, name: string): string | undefined => {
    const args = (podSpecOf(rendered(file)).containers[0] as Container).args ?? []
    return args[args.indexOf(name) + 1]
  }
  t.equal(flag('default-values.yaml', '--credentials-namespace'), NAMESPACE, 'default: the release namespace')
  t.equal(flag('customised-values.yaml', '--credentials-namespace'), 'tenant-credentials', 'or the one named')
  const role = one(rendered('customised-values.yaml'), 'Role', 'platform-pullguard-credentials')
  t.equal(role.metadata.namespace, 'tenant-credentials', 'where pullguard may list and watch Secrets')
  t.same(role.rules, [{ apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch'] }], 'and nothing more')
})

t.test('namespaced objects live in the release namespace, except the two that must not', async t => {
  for (const file of CI_FILES) {
    for (const { object } of rendered(file)) {
      if (['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'Namespace'].includes(object.kind)) continue
      const test = object.metadata.annotations?.['helm.sh/hook'] === 'test' && ['Role', 'RoleBinding'].includes(object.kind)
      const credentials = /-credentials$/.test(object.metadata.name) && ['Role', 'RoleBinding'].includes(object.kind)
      const expected = test ? object.metadata.name : credentials ? (file === 'customised-values.yaml' ? 'tenant-credentials' : NAMESPACE) : NAMESPACE
      t.equal(object.metadata.namespace, expected, `${file}: ${object.kind} ${object.metadata.name} in ${expected}`)
    }
  }
})

t.test('uninstall: the pre-delete hook deletes the webhook and the always-pull policy, and may delete nothing else', async t => {
  for (const file of CI_FILES) {
    const objects = rendered(file)
    const hooks = objects.filter(o => o.object.metadata.annotations?.['helm.sh/hook'] === 'pre-delete').map(o => o.object)
    const enabled = (readYaml<{ hooks?: { preDelete?: { enabled?: boolean } } }>(ciPath(file)).hooks?.preDelete?.enabled) !== false
    if (!enabled) {
      t.same(hooks, [], `${file}: no hook when disabled`)
      continue
    }
    for (const hook of hooks) t.equal(hook.metadata.annotations?.['helm.sh/hook-delete-policy'], 'before-hook-creation,hook-succeeded', `${file}: ${hook.kind} is cleaned up`)
    const job = hooks.find(h => h.kind === 'Job') as KubeObject & { spec: { template: { metadata: { labels: Record<string, string> }, spec: PodSpec } } }
    const fullname = one(objects, 'MutatingWebhookConfiguration').metadata.name
    const alwaysPull = objects.filter(o => o.object.metadata.name === `${fullname}-always-pull` && !isHook(o.object))
    const expected = [
      ...alwaysPull.filter(o => o.object.kind === 'ValidatingAdmissionPolicyBinding').map(() => `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/${fullname}-always-pull`),
      ...alwaysPull.filter(o => o.object.kind === 'ValidatingAdmissionPolicy').map(() => `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/${fullname}-always-pull`),
      `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${fullname}`
    ]
    const container = job.spec.template.spec.containers[0] as Container
    t.same(container.args, expected, `${file}: the policy binding, the policy, then the webhook`)
    t.same(container.command, ['/nodejs/bin/node', '/etc/pullguard/hooks/delete-admission-config.mjs'], `${file}: pullguard's image runs the chart's script`)
    const rules = (hooks.find(h => h.kind === 'ClusterRole')?.rules ?? []) as Rule[]
    const allowed = rules.flatMap(r => r.resources.flatMap(resource => (r.resourceNames ?? ['*']).map(name => `${r.verbs.join(',')} ${resource}/${name}`))).sort()
    const needed = expected.map(path => `delete ${path.split('/').slice(-2).join('/')}`).sort()
    t.same(allowed, needed, `${file}: its RBAC deletes exactly those objects`)
    const configMap = hooks.find(h => h.kind === 'ConfigMap') as KubeObject & { data: Record<string, string> }
    t.same(configMap.data, {
      'kube.mjs': readText('charts/pullguard/files/hooks/kube.mjs'),
      'delete-admission-config.mjs': readText('charts/pullguard/files/hooks/delete-admission-config.mjs')
    }, `${file}: the scripts as they are in files/hooks`)
  }
})

t.test('helm test: a throwaway tenant namespace, Pods creatable only there, the chart\'s script', async t => {
  const objects = rendered('default-values.yaml')
  const tests = objects.filter(o => o.object.metadata.annotations?.['helm.sh/hook'] === 'test').map(o => o.object)
  const namespace = tests.find(o => o.kind === 'Namespace')
  t.equal(namespace?.metadata.name, `${RELEASE}-test`)
  t.equal(namespace?.metadata.labels?.['pullguard.dev/tenant'], `${RELEASE}-test`, 'labelled as a tenant: the webhook reviews Pods there')
  const role = tests.find(o => o.kind === 'Role')
  t.equal(role?.metadata.namespace, `${RELEASE}-test`)
  t.same(role?.rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['create'] }], 'a dry-run Pod create, and nothing else')
  t.notOk(tests.some(o => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding'), 'no cluster-wide permission')
  const pod = tests.find(o => o.kind === 'Pod') as KubeObject & { spec: PodSpec }
  const container = pod.spec.containers[0] as Container
  t.same(container.command, ['/nodejs/bin/node', '/etc/pullguard/hooks/webhook-test.mjs'])
  t.same(container.env, [{ name: 'TEST_NAMESPACE', value: `${RELEASE}-test` }, { name: 'TEST_IMAGE', value: (podSpecOf(objects).containers[0] as Container).image }])
  t.notOk(rendered('minimal-values.yaml').some(o => o.object.metadata.annotations?.['helm.sh/hook'] === 'test'), 'tests.enabled=false: none')
})

t.test('hook Pods are never taken for webhook replicas', async t => {
  for (const file of CI_FILES) {
    const objects = rendered(file)
    const selector = deploymentOf(objects).spec.selector.matchLabels
    const hookPods = objects.map(o => o.object).filter(isHook).flatMap(o =>
      o.kind === 'Pod' ? [(o as KubeObject).metadata.labels ?? {}] : o.kind === 'Job' ? [(o as KubeObject & { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata.labels] : [])
    for (const labels of hookPods) {
      t.notOk(Object.entries(selector).every(([key, value]) => labels[key] === value), `${file}: a hook Pod's labels miss the Deployment/Service/PDB selector`)
    }
  }
})

t.test('deploy/pullguard.yaml is the chart\'s rendering (make manifests), hooks and tests left out', async t => {
  const expected = await renderText({ valuesFiles: [ciPath('cert-manager-values.yaml')], noHooks: true })
  const actual = readText('deploy/pullguard.yaml')
  const body = actual.slice(actual.indexOf('\n---\n') + 1)
  t.equal(body, expected, 'up to date: run `make manifests HELM=<helm>` after changing the chart')
  t.notOk(parseRendered(body).some(o => isHook(o.object)), 'kubectl apply would run hooks at once')
})
