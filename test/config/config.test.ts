import t from 'tap'
import { writeFileSync } from 'node:fs'
import { admissionOptionsOf, ConfigError, DEFAULT_CONFIG, loadConfig, type Command, type CommandLine } from '../../src/config/config.js'

// The shape of review's command line (src/cli/review-command.ts), kept here so that these tests
// cover the parser and not the CLI's choices.
const REVIEW_LIKE: CommandLine = {
  positionals: 1,
  required: [{ key: 'objects', why: 'the Namespaces and Secrets to decide against' }],
  flags: [
    { name: 'output', short: 'o', kind: 'string', default: 'answer', choices: ['answer', 'patch', 'patched'], help: '' },
    { name: 'namespace', short: 'n', kind: 'string', help: '' },
    { name: 'fail-on-deny', kind: 'boolean', help: '' }
  ]
}

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
  t.same(problemsOf(() => loadConfig('review', ['--port', '1'], {})), ['--port: a flag of serve, not of review'])
})

t.test('command line problems: each named, with a suggestion where one is close, all at once', async t => {
  const table: Array<[string, Command, string[], string[]]> = [
    ['a misspelt flag, its value not taken for an argument', 'serve', ['--prot', '1'], ['--prot: unknown flag; did you mean --port?']],
    ['a longer spelling of a flag', 'serve', ['--tls-cert-file', 'x.pem'], ['--tls-cert-file: unknown flag; did you mean --tls-cert?']],
    ['a prefix of a command flag', 'review', ['--objects', 'c.yaml', '--fail'], ['--fail: unknown flag; did you mean --fail-on-deny?']],
    ['help misspelt', 'serve', ['--hepl'], ['--hepl: unknown flag; did you mean --help?']],
    ['nothing close', 'serve', ['--frobnicate'], ['--frobnicate: unknown flag']],
    ['an unknown short flag', 'serve', ['-x'], ['-x: unknown flag']],
    ['a value missing at the end', 'serve', ['--port'], ['--port: needs a value']],
    ['a flag where a value belongs', 'serve', ['--objects', '--port', '1'],
      ['--objects: needs a value, got the flag --port (write --objects=--port if that is the value)', 'unexpected argument "1"']],
    ['a switch given a value', 'review', ['--objects', 'c.yaml', '--fail-on-deny=yes'], ['--fail-on-deny: takes no value']],
    ['a choice not offered', 'review', ['--objects', 'c.yaml', '-o', 'yaml'], ['--output: must be equal to one of the allowed values (answer, patch, patched)']],
    ['one argument too many', 'review', ['--objects', 'c.yaml', 'a.yaml', 'b.yaml'], ['unexpected argument "b.yaml"']],
    ['a required setting missing', 'review', [], ['review needs --objects (the Namespaces and Secrets to decide against)']],
    ['several at once, with a setting problem', 'serve', ['--objectz', 'c.yaml', '--port', '99999', '--metrics-prot=1'],
      ['--objectz: unknown flag; did you mean --objects?', '--metrics-prot: unknown flag; did you mean --metrics-port?', '--port: must be <= 65535']]
  ]
  for (const [name, command, argv, expected] of table) {
    t.same(problemsOf(() => loadConfig(command, argv, {}, command === 'review' ? REVIEW_LIKE : {})), expected, name)
  }
})

t.test('command flags: defaults filled in, short spellings, positionals returned', async t => {
  const loaded = loadConfig('review', ['-o', 'patch', '--objects', 'c.yaml', '-n', 'team-a', 'pod.yaml'], {}, REVIEW_LIKE)
  t.same(loaded.flags, { output: 'patch', namespace: 'team-a', 'fail-on-deny': undefined })
  t.same(loaded.positionals, ['pod.yaml'])
  t.same(loaded.config.objects, ['c.yaml'])
  const defaults = loadConfig('review', ['--objects', 'c.yaml', '--fail-on-deny', '--', '--odd-file-name'], {}, REVIEW_LIKE)
  t.same(defaults.flags, { output: 'answer', namespace: undefined, 'fail-on-deny': true })
  t.same(defaults.positionals, ['--odd-file-name'], 'after --, a word that looks like a flag is an argument')
  t.equal(loadConfig('review', ['--objects', 'c.yaml', '--', '-'], {}, REVIEW_LIKE).positionals[0], '-')
})

t.test('a misspelt key in the config file gets a suggestion too', async t => {
  const dir = t.testdir({ 'c.yaml': 'metricPort: 1\nport: 1\n' })
  t.same(problemsOf(() => loadConfig('serve', ['--config', `${dir}/c.yaml`], {})), [`${dir}/c.yaml: metricPort: unknown setting for serve; did you mean metricsPort?`])
})

t.test('unreadable and malformed config files', async t => {
  t.match(problemsOf(() => loadConfig('review', ['--config', '/nonexistent.yaml'], {})), [/\/nonexistent\.yaml: cannot read \(ENOENT\)/])
  const dir = t.testdir({ 'bad.yaml': 'port: [1\n', 'list.yaml': '- 1\n' })
  t.match(problemsOf(() => loadConfig('serve', ['--config', `${dir}/bad.yaml`], {})), [/bad\.yaml: invalid YAML/])
  t.match(problemsOf(() => loadConfig('serve', [], { PULLGUARD_CONFIG: `${dir}/list.yaml` })), [/list\.yaml: must be a YAML mapping/])
})
