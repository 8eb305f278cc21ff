// The Helm chart, checked as text and structure (no helm binary here; `make chart-lint` renders it
// where helm exists), plus the Dockerfile, .dockerignore and Makefile that package the same program.

import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import t from 'tap'
import { parseImageName } from '../../src/admission/image-reference.js'
import { DEFAULT_ADMISSION_OPTIONS } from '../../src/admission/options.js'
import { DEFAULT_CONFIG, flagOf, SETTINGS, type Config } from '../../src/config/config.js'
import { DEFAULT_SHUTDOWN_DELAY_SECONDS } from '../../src/server/limits.js'
import { DRAIN_TIMEOUT_MS } from '../../src/server/serve.js'
import { fixture } from '../support/fixtures.js'
import { CHART, clone, deployManifests, readJson, readText, readYaml } from './support/repo.js'

type Values = Record<string, unknown> & { settings: Record<string, unknown> }
const values = readYaml<Values>('charts/pullguard/values.yaml')
const schema = readJson<object>('charts/pullguard/values.schema.json')
const validate = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(schema)
const templateFiles = readdirSync(join(CHART, 'templates')).sort()
const template = (name: string): string => readText(`charts/pullguard/templates/${name}`)
const templates = templateFiles.map(name => ({ name, text: template(name) }))
const pkg = readJson<{ version: string, bin: Record<string, string>, scripts: Record<string, string> }>('package.json')

/** values.yaml with `edit` applied, as `helm install -f` would merge it. */
const valuesWith = (edit: (v: Values) => void): Values => {
  const copy = clone(values)
  edit(copy)
  return copy
}
const errorsOf = (candidate: unknown): string[] => validate(candidate) ? [] : (validate.errors ?? []).map(e => `${e.instancePath} ${e.message ?? ''}`)

/** Every path of values.yaml down to leaves (free-form maps and lists count as leaves). */
function leafPaths (node: unknown, prefix = ''): string[] {
  if (node === null || typeof node !== 'object' || Array.isArray(node) || Object.keys(node).length === 0) return [prefix]
  if (['resources', 'podSecurityContext', 'securityContext', 'nodeSelector', 'affinity'].includes(prefix)) return [prefix]
  return Object.entries(node).flatMap(([key, child]) => leafPaths(child, prefix === '' ? key : `${prefix}.${key}`))
}

/** `.Values.a.b` references of a template, with `$x := .Values.a` aliases resolved. */
function valueReferences (text: string): string[] {
  const aliases = new Map<string, string>()
  for (const m of text.matchAll(/\$(\w+)\s*:=\s*\.Values((?:\.\w+)+)/g)) aliases.set(m[1] as string, (m[2] as string).slice(1))
  const refs = [...text.matchAll(/\.Values((?:\.\w+)+)/g)].map(m => (m[1] as string).slice(1))
  for (const m of text.matchAll(/\$(\w+)((?:\.\w+)+)/g)) {
    const base = aliases.get(m[1] as string)
    if (base !== undefined) refs.push(`${base}${m[2] as string}`)
  }
  return refs
}

function hasPath (node: unknown, path: string): boolean {
  let current = node
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return false
    current = (current as Record<string, unknown>)[key]
  }
  return true
}

t.test('Chart.yaml', async t => {
  const chart = readYaml<Record<string, unknown>>('charts/pullguard/Chart.yaml')
  t.equal(chart.apiVersion, 'v2')
  t.equal(chart.name, 'pullguard')
  t.equal(chart.type, 'application')
  t.equal(chart.kubeVersion, '>=1.30.0-0', 'ValidatingAdmissionPolicy v1 is GA from 1.30')
  t.equal(chart.appVersion, pkg.version, 'appVersion is the package version (the image tag)')
  t.match(chart.version, /^\d+\.\d+\.\d+$/)
})

t.test('values.schema.json', async t => {
  t.same(errorsOf(values), [], 'values.yaml is valid')
  const refused: Array<[string, (v: Values) => void]> = [
    ['an unknown top-level key (a typo)', v => { v.replicas = 3 }],
    ['an unknown setting', v => { v.settings.tenantLable = 'x' }],
    ['a tenant label that is not a label key', v => { v.settings.tenantLabel = 'not a label' }],
    ['a foreign registry policy the CLI does not know', v => { v.settings.foreignRegistryPolicy = 'block' }],
    ['a port out of range', v => { v.settings.port = 70000 }],
    ['a drain window beyond the CLI\'s limit', v => { v.settings.shutdownDelaySeconds = 601 }],
    ['a short exemption name', v => { v.settings.alwaysPullExempt = ['nginx'] }],
    ['a Docker Hub name without library/', v => { v.settings.alwaysPullExempt = ['docker.io/nginx'] }],
    ['the legacy Docker Hub host', v => { v.settings.alwaysPullExempt = ['index.docker.io/library/nginx'] }],
    ['an exemption with a tag', v => { v.settings.alwaysPullExempt = ['registry.k8s.io/pause:3.10'] }],
    // The webhook normalises the part before /* as an image name: registry.k8s.io/* would become
    // docker.io/library/registry.k8s.io/* and docker.io/bitnami/* docker.io/library/bitnami/*.
    ['a registry-wide wildcard', v => { v.settings.alwaysPullExempt = ['registry.k8s.io/*'] }],
    ['a Docker Hub namespace wildcard', v => { v.settings.alwaysPullExempt = ['docker.io/bitnami/*'] }],
    ['all Docker Hub official images', v => { v.settings.alwaysPullExempt = ['docker.io/library/*'] }],
    ['Deny together with Warn', v => { (v.alwaysPullPolicy as Record<string, unknown>).validationActions = ['Deny', 'Warn'] }],
    ['no validation action', v => { (v.tenantLabelGuard as Record<string, unknown>).validationActions = [] }],
    ['a quote in an admin group (it would break the CEL literal)', v => { (v.tenantLabelGuard as Record<string, unknown>).adminGroups = ["o'brien"] }],
    ['tls.mode secret without the Secret', v => { (v.tls as Record<string, unknown>).mode = 'secret' }],
    ['an unknown TLS mode', v => { (v.tls as Record<string, unknown>).mode = 'acme' }],
    ['a webhook timeout above 30 s', v => { (v.webhook as Record<string, unknown>).timeoutSeconds = 31 }],
    ['a failurePolicy that does not exist', v => { (v.webhook as Record<string, unknown>).failurePolicy = 'Open' }]
  ]
  for (const [name, edit] of refused) t.not(errorsOf(valuesWith(edit)).length, 0, `refuses ${name}`)
  const accepted: Array<[string, (v: Values) => void]> = [
    ['normalised exemptions', v => { v.settings.alwaysPullExempt = ['registry.k8s.io/pause', 'docker.io/library/busybox', 'quay.io/acme/*', 'localhost:5000/tools/*', '[fc00::1]:5000/app'] }],
    ['tls.mode secret with its Secret', v => { v.tls = { ...(v.tls as object), mode: 'secret', secret: { name: 'my-tls', caBundle: 'Q0E=' } } }],
    ['observe-only policies', v => { (v.alwaysPullPolicy as Record<string, unknown>).validationActions = ['Warn', 'Audit'] }],
    ['admin service accounts', v => { (v.tenantLabelGuard as Record<string, unknown>).adminServiceAccounts = [{ namespace: 'argocd', name: 'argocd-application-controller' }] }]
  ]
  for (const [name, edit] of accepted) t.same(errorsOf(valuesWith(edit)), [], `accepts ${name}`)

  // Helm validates with Go's regexp (RE2): no look-around, no back-references.
  const patterns = [...JSON.stringify(schema).matchAll(/"pattern":"((?:[^"\\]|\\.)*)"/g)].map(m => JSON.parse(`"${m[1] as string}"`) as string)
  t.ok(patterns.length > 5)
  for (const pattern of patterns) t.notMatch(pattern, /\(\?[=!<]|\\[1-9]/, `RE2-compatible: ${pattern.slice(0, 60)}`)
})

t.test('the exemption schema admits exactly names the webhook keeps as they are', async t => {
  const exemptOk = (name: string): boolean => errorsOf(valuesWith(v => { v.settings.alwaysPullExempt = [name] })).length === 0
  const { cases } = fixture<{ cases: Array<{ ref: string, name: string | null }> }>('image-references.json')
  for (const { ref, name } of cases) {
    if (name !== null && name.split('/')[0] !== name.split('/')[0]?.toLowerCase() && !/[.:]/.test(name.split('/')[0] ?? '')) {
      t.notOk(exemptOk(name), `${name}: an upper-case single-word host is refused (documented gap)`)
      continue
    }
    if (name !== null) t.ok(exemptOk(name), `${name} (from ${ref}) is accepted`)
    if (ref !== name && !/[:@]/.test(ref.split('/').pop() ?? '')) t.notOk(exemptOk(ref), `${ref} is refused (not normalised or invalid)`)
  }
  const candidates = ['nginx', 'library/nginx', 'docker.io/nginx', 'docker.io/library/nginx', 'docker.io/library/*', 'registry.k8s.io/pause',
    'registry.k8s.io/pause/*', 'quay.io/acme/*', 'quay.io/*', 'localhost/app', 'localhost:5000/a/b', 'a.b/c', 'Registry.Example/app', 'x.io/UPPER']
  for (const candidate of candidates) {
    if (!exemptOk(candidate)) continue
    const base = candidate.endsWith('/*') ? candidate.slice(0, -2) : candidate
    t.equal(parseImageName(base)?.name, base, `${candidate}: accepted by the schema and already normalised for the webhook`)
  }
})

t.test('settings: one source of truth with the code', async t => {
  const settings = values.settings
  // The Lease's namespace and holder come from the downward API (POD_NAMESPACE, POD_NAME), not values.
  const fromPod = ['leaderElectionNamespace', 'leaderElectionIdentity']
  const inCluster = SETTINGS.filter(s => s.commands.includes('serve') && !['objects', 'tlsCert', 'tlsKey', 'kubeconfig', 'credentialsNamespace', ...fromPod].includes(s.key))
  t.same(Object.keys(settings).sort(), inCluster.map(s => s.key).sort(), 'values.settings has every in-cluster serve setting of src/config, and only those')
  for (const [key, value] of Object.entries(settings)) {
    t.same(value, DEFAULT_CONFIG[key as keyof Config], `settings.${key} defaults to the code's default`)
  }
  t.equal(settings.shutdownDelaySeconds, DEFAULT_SHUTDOWN_DELAY_SECONDS, 'chart and CLI drain for the same delay by default')
  t.ok(Number(values.terminationGracePeriodSeconds) > DEFAULT_SHUTDOWN_DELAY_SECONDS + DRAIN_TIMEOUT_MS / 1000,
    'terminationGracePeriodSeconds covers the delay and pullguard\'s own bound on the reviews in flight')
  t.equal(settings.tenantLabel, DEFAULT_ADMISSION_OPTIONS.tenantLabel)
  t.equal(settings.managedSecretName, DEFAULT_ADMISSION_OPTIONS.managedSecretName)
})

t.test('the Deployment template renders every setting as its flag', async t => {
  const text = template('deployment.yaml')
  const lines = text.split('\n')
  const argsStart = lines.findIndex(l => /^\s+args:$/.test(l))
  const argsEnd = lines.findIndex((l, i) => i > argsStart && /^\s+env:$/.test(l))
  const args = lines.slice(argsStart + 1, argsEnd)
  const flagLines = args.map((line, i) => ({ flag: /^\s+- (--[a-z-]+)$/.exec(line)?.[1], i })).filter((f): f is { flag: string, i: number } => f.flag !== undefined)
  const contract = new Set(['--port', '--host', '--metrics-port', '--tls-cert', '--tls-key', '--credentials-namespace', '--managed-secret-name',
    '--foreign-registry-policy', '--public-registries', '--always-pull-exempt', '--tenant-label', '--body-limit-bytes', '--shutdown-delay-seconds',
    '--log-level', '--ensure-timeout-ms', '--namespace-lookup-timeout-ms', '--resync-seconds', '--leader-election', '--leader-election-lease-name', '--lease-duration-seconds', '--renew-deadline-seconds',
  '--retry-period-seconds', '--credential-provider-dir', '--kubeconfig', '--config'])
  const cli = new Set(SETTINGS.filter(s => s.commands.includes('serve')).map(s => flagOf(s.key)))
  for (const { flag } of flagLines) {
    t.ok(contract.has(flag), `${flag} is in the CLI contract`)
    t.ok(cli.has(flag), `${flag} is a serve flag of src/config`)
  }
  t.equal(new Set(flagLines.map(f => f.flag)).size, flagLines.length, 'no flag twice')
  for (const key of Object.keys(values.settings)) {
    const at = flagLines.find(f => f.flag === flagOf(key))
    t.ok(at, `settings.${key} is passed as ${flagOf(key)}`)
    if (at === undefined) continue
    const around = `${args[at.i - 1] ?? ''}\n${args[at.i + 1] ?? ''}`
    t.ok(around.includes(`$settings.${key}`), `${flagOf(key)} takes its value from settings.${key}`, { around })
    if (typeof values.settings[key] === 'number') t.match(args[at.i + 1], /\| int64 \| quote/, `${flagOf(key)}: integers rendered without exponent notation`)
  }
  const next = (flag: string): string => args[(flagLines.find(f => f.flag === flag)?.i ?? -2) + 1] ?? ''
  t.match(next('--credentials-namespace'), /\.Release\.Namespace/, 'the credentials namespace is the release namespace')
  t.match(next('--tls-cert'), /^\s+- \/etc\/pullguard\/tls\/tls\.crt$/)
  t.match(next('--tls-key'), /^\s+- \/etc\/pullguard\/tls\/tls\.key$/)
  t.match(text, /mountPath: \/etc\/pullguard\/tls\n/, 'the TLS Secret is mounted at /etc/pullguard/tls')
  for (const { name, text } of templates) t.notMatch(text, /^\s*subPath:/m, `${name}: no subPath mounts (rotation must reach the process)`)
  t.match(text, /range \.Values\.extraArgs/, 'extraArgs are appended after the settings')
  const rendered = deployManifests().find(m => m.object.kind === 'Deployment')?.object as unknown as { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } }
  const deployFlags = (rendered.spec.template.spec.containers[0]?.args ?? []).filter(a => a.startsWith('--'))
  t.same(deployFlags, flagLines.map(f => f.flag).filter(f => f !== '--always-pull-exempt'), 'deploy/ renders the same flags in the same order (no exemptions by default)')
})

t.test('templates reference only values that exist, and every value is used', async t => {
  const references = templates.flatMap(({ name, text }) => valueReferences(text).map(path => ({ name, path })))
  for (const { name, path } of references) t.ok(hasPath(values, path), `${name}: .Values.${path} exists in values.yaml`)
  const referenced = new Set(references.map(r => r.path))
  for (const path of leafPaths(values)) {
    const used = [...referenced].some(ref => path === ref || path.startsWith(`${ref}.`))
    t.ok(used, `${path} is used by a template`)
  }
})

t.test('template structure', async t => {
  const helpers = template('_helpers.tpl')
  const defined = new Set([...helpers.matchAll(/define "([^"]+)"/g)].map(m => m[1] as string))
  for (const { name, text } of templates) {
    const code = text.replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '')
    t.equal((code.match(/\{\{/g) ?? []).length, (code.match(/\}\}/g) ?? []).length, `${name}: balanced {{ }}`)
    const opened = (code.match(/\{\{-?\s*(if|range|with|define|block)\b/g) ?? []).length
    const closed = (code.match(/\{\{-?\s*end\b/g) ?? []).length
    t.equal(opened, closed, `${name}: every if/range/with/define has its end`)
    for (const m of code.matchAll(/include "([^"]+)"/g)) t.ok(defined.has(m[1] as string), `${name}: include "${m[1] as string}" is defined`)
    for (const m of code.matchAll(/\.Files\.Get "([^"]+)"/g)) t.ok(existsSync(join(CHART, m[1] as string)), `${name}: ${m[1] as string} exists`)
    if (name.endsWith('.yaml')) {
      const namespaced = (code.match(/^kind: (Deployment|Service|ServiceAccount|Role|RoleBinding|PodDisruptionBudget|NetworkPolicy|ServiceMonitor|ResourceQuota|Secret|Issuer|Certificate)$/gm) ?? []).length
      const namespaces = (code.match(/^ {2}namespace: \{\{ (\.Release\.Namespace|\$namespace) \}\}$/gm) ?? []).length
      t.equal(namespaces, namespaced, `${name}: every namespaced object sets metadata.namespace to the release namespace`)
    }
  }
  t.same(templateFiles, ['NOTES.txt', '_helpers.tpl', 'deployment.yaml', 'networkpolicy.yaml', 'poddisruptionbudget.yaml', 'rbac.yaml',
    'resourcequota.yaml', 'service.yaml', 'serviceaccount.yaml', 'servicemonitor.yaml', 'validatingadmissionpolicy-always-pull.yaml',
    'validatingadmissionpolicy-managed-secret-guard.yaml', 'validatingadmissionpolicy-tenant-label-guard.yaml', 'webhook.yaml'])
  const webhook = template('webhook.yaml')
  t.match(webhook, /\.Capabilities\.APIVersions\.Has "cert-manager\.io\/v1"|include "pullguard\.tlsMode"/, 'TLS mode resolved through the helper')
  t.match(helpers, /\.Capabilities\.APIVersions\.Has "cert-manager\.io\/v1"/, 'auto: cert-manager when its API is served')
  t.match(webhook, /lookup "v1" "Secret" \$namespace \$secretName/, 'helm mode reuses the previous Secret')
  t.match(webhook, /genCA/, 'helm mode generates a CA otherwise')
  t.match(webhook, /cert-manager\.io\/inject-ca-from/, 'certManager mode lets cainjector fill the caBundle')
  t.match(webhook, /required "tls\.secret\.caBundle/, 'secret mode requires the CA')
  for (const policy of ['always-pull', 'tenant-label-guard', 'managed-secret-guard']) {
    t.match(template(`validatingadmissionpolicy-${policy}.yaml`), new RegExp(`\\.Files\\.Get "files/policies/${policy}\\.yaml" \\| fromYaml`), `${policy}: CEL from its policy file`)
  }
  t.match(template('validatingadmissionpolicy-always-pull.yaml'), /include "pullguard\.tenantNamespaceSelector"/, 'the policy binding ...')
  t.match(webhook, /include "pullguard\.tenantNamespaceSelector"/, '... and the webhook share one namespace selector')
  t.match(webhook, /\.Files\.Get "files\/webhook-match-conditions\.yaml" \| fromYaml/, 'the webhook\'s matchConditions come from their file ...')
  t.match(webhook, /matchConditions:\n\s+\{\{- toYaml \$matchConditions\.matchConditions \| nindent 6 \}\}/, '... rendered under the webhook')
  const notes = template('NOTES.txt')
  for (const needle of ['.Values.settings.tenantLabel', 'kubectl label namespace', 'docker-registry', '.Values.settings.managedSecretName']) {
    t.ok(notes.includes(needle), `NOTES.txt: ${needle}`)
  }
})

t.test('policy files: only variables that exist, in order', async t => {
  const templatedVariables: Record<string, string[]> = {
    'always-pull': ['alwaysPullExempt'],
    'tenant-label-guard': ['tenantLabel', 'adminUsers', 'adminGroups'],
    'managed-secret-guard': ['pullguardUser', 'managedSecretName', 'tenantLabel', 'credentialsNamespace']
  }
  for (const [name, leading] of Object.entries(templatedVariables)) {
    const file = readYaml<{ matchConditions?: Array<{ expression: string }>, variables: Array<{ name: string, expression: string }>, validations: Array<{ expression: string, messageExpression?: string }> }>(`charts/pullguard/files/policies/${name}.yaml`)
    const text = template(`validatingadmissionpolicy-${name}.yaml`)
    t.same([...text.matchAll(/^ {4}- name: (\w+)$/gm)].map(m => m[1]), leading, `${name}: the template defines ${leading.join(', ')} first`)
    const known = [...leading]
    for (const variable of file.variables) {
      for (const m of variable.expression.matchAll(/variables\.(\w+)/g)) t.ok(known.includes(m[1] as string), `${name}: variables.${variable.name} uses variables.${m[1] as string}, defined before it`)
      known.push(variable.name)
    }
    for (const expression of [...file.validations.flatMap(v => [v.expression, v.messageExpression ?? '']), ...(file.matchConditions ?? []).map(c => c.expression)]) {
      for (const m of expression.matchAll(/variables\.(\w+)/g)) t.ok(known.includes(m[1] as string), `${name}: variables.${m[1] as string} is defined`)
    }
    t.notMatch(JSON.stringify(file.matchConditions ?? []), /variables\./, `${name}: matchConditions cannot use variables`)
  }
})

t.test('the chart README documents every value', async t => {
  const readme = readText('charts/pullguard/README.md')
  for (const path of leafPaths(values)) t.ok(readme.includes(`| \`${path}\` |`), `${path} is in the values table`)
  const lines = readText('charts/pullguard/values.yaml').split('\n')
  for (const path of leafPaths(values)) {
    const key = path.split('.').pop() as string
    const depth = path.split('.').length - 1
    const at = lines.findIndex(l => l === `${'  '.repeat(depth)}${key}:` || l.startsWith(`${'  '.repeat(depth)}${key}: `))
    t.match(lines[at - 1], /^\s*#/, `${path} has a comment in values.yaml`)
  }
})

t.test('Dockerfile', async t => {
  const dockerfile = readText('Dockerfile')
  const stages = [...dockerfile.matchAll(/^FROM (\S+)(?: AS (\w+))?$/gm)].map(m => ({ image: m[1] as string, stage: m[2] }))
  t.same(stages.map(s => s.stage), ['build', 'deps', undefined], 'build, production dependencies, runtime')
  const args = Object.fromEntries([...dockerfile.matchAll(/^ARG (\w+)=(\S+)$/gm)].map(m => [m[1], m[2]]))
  t.match(args.NODE_IMAGE, /^node:24-[a-z]+-slim$/, 'build on Node.js 24 (the engines field), pinned by tag')
  t.match(args.RUNTIME_IMAGE, /^gcr\.io\/distroless\/nodejs24-debian12:nonroot$/, 'run on distroless Node.js 24')
  t.match(args.NODE_IMAGE, /bookworm/, 'build and runtime share Debian 12')
  t.match(dockerfile, /@sha256:<digest>/, 'the digest pin is documented')
  t.match(dockerfile, /RUN npm ci --ignore-scripts[^\n]*\n/, 'the build stage installs from the lockfile')
  t.match(dockerfile, /RUN npm run build/, 'and builds with the npm script')
  t.match(dockerfile, /RUN npm ci --omit=dev/, 'the runtime gets production dependencies only')
  t.match(dockerfile, /^USER 65532:65532$/m, 'a numeric non-root user')
  t.equal(pkg.bin.pullguard, 'dist/cli/main.js')
  t.match(dockerfile, /^ENTRYPOINT \["\/nodejs\/bin\/node", ("--[a-z-]+=\d+", )*"\/app\/dist\/cli\/main\.js", "serve"\]$/m, 'ENTRYPOINT runs the package bin with serve, so Kubernetes args are serve flags')
  t.match(dockerfile, /^CMD \[\]$/m, 'no default arguments')
  t.match(dockerfile, /^COPY package\.json \.\/$/m, 'package.json ("type": "module") is in the runtime image')
  t.notMatch(dockerfile, /:latest\b/, 'no floating latest tags')

  const ignore = readText('.dockerignore').split('\n').filter(l => l !== '' && !l.startsWith('#'))
  t.equal(ignore[0], '*', '.dockerignore is an allowlist')
  const allowed = ignore.filter(l => l.startsWith('!')).map(l => l.slice(1).replace(/\/$/, ''))
  const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap(m => (m[1] as string).split(/\s+/))
  for (const source of sources) t.ok(allowed.includes(source.replace(/\/$/, '')), `COPY ${source} is in the build context`)
  t.same(allowed.sort(), [...new Set(sources.map(s => s.replace(/\/$/, '')))].sort(), 'and nothing else is')
  t.notOk(allowed.includes('node_modules') || allowed.includes('dist') || allowed.includes('.git'), 'never local node_modules, dist or .git')
})

t.test('Makefile: thin wrappers over the npm scripts', async t => {
  const makefile = readText('Makefile')
  const phony = (/^\.PHONY: (.+)$/m.exec(makefile)?.[1] ?? '').split(' ')
  for (const target of ['build', 'test', 'lint', 'bench', 'start', 'image', 'chart-lint', 'manifests', 'clean']) {
    t.ok(phony.includes(target), `${target} is a phony target`)
    t.match(makefile, new RegExp(`^${target}:`, 'm'), `${target} is defined`)
  }
  const wrappers: Record<string, string> = { build: '$(NPM) run build', test: '$(NPM) test', lint: '$(NPM) run lint', bench: '$(NPM) run bench', start: '$(NPM) start', clean: '$(NPM) run clean' }
  for (const [target, command] of Object.entries(wrappers)) {
    t.match(makefile, new RegExp(`^${target}:\\n\\t${command.replace(/[$()]/g, c => `\\${c}`)}$`, 'm'), `make ${target} runs ${command}`)
    const script = target === 'test' ? 'test' : target === 'start' ? 'start' : target
    t.ok(Object.hasOwn(pkg.scripts, script), `package.json has the ${script} script`)
  }
  t.match(makefile, /docker\) info|\$\(DOCKER\) info/, 'make image checks for an engine first')
  t.match(makefile, /command -v \$\(HELM\)/, 'chart targets check for helm')
  t.match(makefile, /--api-versions cert-manager\.io\/v1/, 'manifests renders the cert-manager variant')
})
