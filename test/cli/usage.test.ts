// The CLI as a person first meets it: --version, --help per command with every flag's default and
// examples, and a mistyped flag or command answered with a suggestion. In this process (runCli), and
// --version once through the built binary (npm test builds first).

import t from 'tap'
import { readFileSync } from 'node:fs'
import { DEFAULT_CONFIG, flagOf, SETTINGS } from '../../src/config/config.js'
import { runCli, spawnCli } from '../support/cli.js'
import { pool } from './run-pool.js'

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

const ARGS = {
  version: ['--version'],
  versionWord: ['version'],
  versionExtra: ['version', '--json'],
  top: ['--help'],
  bare: [],
  reviewHelp: ['review', '--help'],
  serveHelp: ['serve', '-h'],
  helpServe: ['help', 'serve'],
  reviewTypos: ['review', '--objectz', 'examples/standalone/cluster.yaml', '--fail', '-o', 'yaml', '--port', '1'],
  serveTypos: ['serve', '--prot', '1', '--tls-cert-file', 'x.pem', '--metrics-port', 'many'],
  command: ['reveiw', '--objects', 'x']
} as const

const runs = Object.fromEntries(await pool(Object.entries(ARGS), 3, async ([name, args]) => [name, await runCli(args)] as const))

t.test('--version and version print package.json\'s version alone', async t => {
  t.same(await spawnCli(['--version']), { code: 0, stdout: `${version}\n`, stderr: '' }, 'the built binary')
  t.same(runs.version, { code: 0, stdout: `${version}\n`, stderr: '' })
  t.same(runs.versionWord, { code: 0, stdout: `${version}\n`, stderr: '' })
  t.match(runs.versionExtra, { code: 2, stdout: '', stderr: /^pullguard: version takes no arguments, got --json\n/ })
})

t.test('the overview names the commands; without a command it is a usage error', async t => {
  t.match(runs.top, { code: 0, stdout: new RegExp(`^pullguard ${version.replace(/\./g, '\\.')}: `) })
  for (const command of ['review', 'serve', 'version']) t.match(runs.top?.stdout, new RegExp(`\\n  pullguard ${command}`), command)
  t.match(runs.bare, { code: 2, stdout: runs.top?.stdout })
})

t.test('each command\'s help: every flag, its default and variable, exit codes and examples', async t => {
  t.equal(runs.serveHelp?.stdout, runs.helpServe?.stdout, '`help serve` is `serve --help`')
  for (const [command, run] of [['review', runs.reviewHelp], ['serve', runs.serveHelp]] as const) {
    t.equal(run?.code, 0)
    const help = run?.stdout ?? ''
    t.match(help, new RegExp(`^Usage: pullguard ${command} `))
    for (const setting of SETTINGS.filter(s => s.commands.includes(command))) {
      const value = DEFAULT_CONFIG[setting.key]
      const shown = Array.isArray(value) ? (value.length === 0 ? 'none' : value.join(',')) : value
      // The flag at the start of a line, then (within its entry) its default and its variable, maybe wrapped.
      const entry = new RegExp(`\\n  ${flagOf(setting.key)} [^\\n]*\\n(?: {40}[^\\n]*\\n)*? {40}(?:[^\\n]*, )?${shown === undefined ? '' : `default ${escape(String(shown))},(?: |\\n {40})`}env PULLGUARD_`)
      t.match(help, entry, `${command}: ${flagOf(setting.key)}${shown === undefined ? '' : ` default ${String(shown)}`}`)
    }
    t.match(help, /\nExit codes: 0 /)
    t.match(help, new RegExp(`\\nExamples:\\n  pullguard ${command} `))
  }
  t.match(runs.reviewHelp?.stdout, /\n  -o, --output answer\|patch\|patched +answer: [^\n]*\n(?: {40}[^\n]*\n)*? {40}default answer\n/)
  t.match(runs.reviewHelp?.stdout, /\n      --fail-on-deny +exit 3 when the request is denied/)
  t.match(runs.reviewHelp?.stdout, /3 denied, with --fail-on-deny/)
})

t.test('mistakes: each named, with a suggestion, all at once, exit 2', async t => {
  t.equal(runs.reviewTypos?.code, 2)
  t.equal(runs.reviewTypos?.stdout, '')
  t.same(problemLines(runs.reviewTypos?.stderr), [
    '--objectz: unknown flag; did you mean --objects?',
    '--fail: unknown flag; did you mean --fail-on-deny?',
    '--port: a flag of serve, not of review',
    'review needs --objects (the Namespaces and Secrets to decide against)',
    '--output: must be equal to one of the allowed values (answer, patch, patched)'
  ])
  t.match(runs.reviewTypos?.stderr, /\nRun `pullguard review --help` for usage\.\n$/)
  t.equal(runs.serveTypos?.code, 2)
  t.same(problemLines(runs.serveTypos?.stderr), [
    '--prot: unknown flag; did you mean --port?',
    '--tls-cert-file: unknown flag; did you mean --tls-cert?',
    '--metrics-port: must be integer'
  ])
  t.same(runs.command, { code: 2, stdout: '', stderr: 'pullguard: unknown command "reveiw"; did you mean review?\nRun `pullguard --help` for usage.\n' })
})

function problemLines (stderr: string | undefined): string[] {
  return (stderr ?? '').split('\n').filter(line => line.startsWith('  ')).map(line => line.trim())
}

function escape (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}
