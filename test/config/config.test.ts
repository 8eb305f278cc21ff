import t from 'tap'
import { writeFileSync } from 'node:fs'
import { admissionOptionsOf, ConfigError, DEFAULT_CONFIG, loadConfig } from '../../src/config/config.js'

function problemsOf (fn: () => unknown): string[] {
  try {
    fn()
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  return []
}

t.test('defaults', async t => {
  const { config } = loadConfig('serve', [], {})
  t.same(config, DEFAULT_CONFIG)
  t.equal(config.bodyLimitBytes, 6 * 1024 * 1024)
})

t.test('flag beats environment beats file beats default', async t => {
  const dir = t.testdir({})
  const file = `${dir}/pullguard.yaml`
  writeFileSync(file, 'port: 1111\nmetricsPort: 2222\nhost: 10.0.0.1\npublicRegistries: [a.example, b.example]\n')
  const { config, origins } = loadConfig('serve', ['--config', file, '--port', '3333'], { PULLGUARD_METRICS_PORT: '4444' })
  t.equal(config.port, 3333)
  t.equal(config.metricsPort, 4444)
  t.equal(config.host, '10.0.0.1')
  t.same(config.publicRegistries, ['a.example', 'b.example'])
  t.equal(origins.port, '--port')
  t.equal(origins.metricsPort, 'PULLGUARD_METRICS_PORT')
  t.equal(origins.host, `${file}: host`)
})

t.test('lists: comma-separated, repeatable, trimmed; exemptions normalised', async t => {
  const { config } = loadConfig('review', ['--objects', 'a.yaml,b.yaml', '--objects', 'c.yaml', '--always-pull-exempt',
    'nginx, quay.io/infra/* ,registry.k8s.io/pause:3.10,registry.k8s.io/*,docker.io/bitnami/*,bitnami/*,index.docker.io/library/*,localhost:5000/*'], {})
  t.same(config.objects, ['a.yaml', 'b.yaml', 'c.yaml'])
  t.same(config.alwaysPullExempt, ['docker.io/library/nginx', 'quay.io/infra/*', 'registry.k8s.io/pause', 'registry.k8s.io/*',
    'docker.io/bitnami/*', 'docker.io/bitnami/*', 'docker.io/library/*', 'localhost:5000/*'])
  t.same(admissionOptionsOf(config).alwaysPullExempt, config.alwaysPullExempt)
})

t.test('every problem at once, each naming where it came from', async t => {
  const dir = t.testdir({ 'c.yaml': 'prot: 1\nresyncSeconds: 0\n' })
  const problems = problemsOf(() => loadConfig('serve', ['--config', `${dir}/c.yaml`, '--port', '99999', '--tls-cert', 'x.pem', '--always-pull-exempt', 'UPPER//bad'],
    { PULLGUARD_LOG_LEVEL: 'loud' }))
  t.match(problems.join('\n'), /c\.yaml: prot: unknown setting for serve/)
  t.match(problems.join('\n'), /c\.yaml: resyncSeconds: must be >= 1/)
  t.match(problems.join('\n'), /--port: must be <= 65535/)
  t.match(problems.join('\n'), /PULLGUARD_LOG_LEVEL: must be equal to one of the allowed values/)
  t.match(problems.join('\n'), /--tls-cert and --tls-key must be given together/)
  t.match(problems.join('\n'), /--always-pull-exempt: "UPPER\/\/bad" is not a repository name/)
  t.equal(problems.length, 6)
})

t.test('serve-only settings are unknown to review', async t => {
  t.match(problemsOf(() => loadConfig('review', ['--port', '1'], {})).join(), /Unknown option '--port'/)
})

t.test('unreadable and malformed config files', async t => {
  t.match(problemsOf(() => loadConfig('review', ['--config', '/nonexistent.yaml'], {})), [/\/nonexistent\.yaml: cannot read \(ENOENT\)/])
  const dir = t.testdir({ 'bad.yaml': 'port: [1\n', 'list.yaml': '- 1\n' })
  t.match(problemsOf(() => loadConfig('serve', ['--config', `${dir}/bad.yaml`], {})), [/bad\.yaml: invalid YAML/])
  t.match(problemsOf(() => loadConfig('serve', [], { PULLGUARD_CONFIG: `${dir}/list.yaml` })), [/list\.yaml: must be a YAML mapping/])
})
