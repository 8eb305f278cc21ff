import t from 'tap'
import { pbkdf2 } from 'node:crypto'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { asynchronousDestination, createLogger, flushLogs, REDACTED, type Logger } from '../../src/logging.js'

// Credentials in every form pullguard handles them: the basic-auth pair, its base64 `auth`, the
// dockerconfigjson text and its base64 in Secret data, and an API bearer token.
const USERNAME = 'acme-bot'
const PASSWORD = 'pa55-w0rd-c4n4ry'
const AUTH = Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2VuLWNhbmFyeQ'
const DOCKER_CONFIG = JSON.stringify({ auths: { 'ghcr.io/acme': { username: USERNAME, password: PASSWORD, auth: AUTH } } })
const DOCKER_CONFIG_B64 = Buffer.from(DOCKER_CONFIG).toString('base64')
const CANARIES = [PASSWORD, AUTH, TOKEN, DOCKER_CONFIG_B64, DOCKER_CONFIG, 'c2VjcmV0LXRva2VuLWNhbmFyeQ']

const secret = {
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'kubernetes.io/dockerconfigjson',
  metadata: { name: 'acme-registry', namespace: 'pullguard-system', labels: { 'pullguard.dev/tenant': 'acme' } },
  data: { '.dockerconfigjson': DOCKER_CONFIG_B64 }
}
const stringDataSecret = { ...secret, data: undefined, stringData: { '.dockerconfigjson': DOCKER_CONFIG } }
const legacySecret = { ...secret, type: 'kubernetes.io/dockercfg', data: { '.dockercfg': DOCKER_CONFIG_B64 } }
class V1Secret { data?: Record<string, string> }
const circular: Record<string, unknown> = { name: 'loop', data: { '.dockerconfigjson': DOCKER_CONFIG_B64 } }
circular.self = circular
const apiError = Object.assign(new Error('secrets "acme-registry" already exists'), {
  code: 409,
  body: { kind: 'Status', items: [secret], details: secret }
})

// Each entry logs one shape a credential could reach the logger in.
const shapes: Array<[string, (log: Logger, level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal') => void]> = [
  ['Secret as a field', (log, level) => log[level]({ secret }, 'ensuring')],
  ['Secret as the merge object', (log, level) => log[level](secret, 'ensuring')],
  ['stringData Secret', (log, level) => log[level]({ secret: stringDataSecret }, 'ensuring')],
  ['legacy dockercfg Secret', (log, level) => log[level]({ secret: legacySecret }, 'ensuring')],
  ['Secret data alone', (log, level) => log[level](secret.data, 'data')],
  ['Secrets in a list', (log, level) => log[level]({ secrets: [secret, legacySecret] }, 'listing')],
  ['Secret inside a review', (log, level) => log[level]({ review: { request: { object: secret, oldObject: secret } } }, 'review')],
  ['Secret in an API error', (log, level) => log[level]({ err: apiError }, 'write failed')],
  ['Secret in a list inside an API error', (log, level) => log[level]({ err: { body: { items: [secret] } } }, 'list failed')],
  ['auth string', (log, level) => log[level]({ registry: 'ghcr.io', auth: AUTH }, 'credential')],
  ['parsed registry entry', (log, level) => log[level]({ entry: { username: USERNAME, password: PASSWORD, auth: AUTH } }, 'entry')],
  ['parsed dockerconfigjson', (log, level) => log[level]({ config: JSON.parse(DOCKER_CONFIG) as unknown }, 'config')],
  ['merged tenant credentials', (log, level) => log[level]({ credentials: { tenant: 'acme', dockerConfigJson: DOCKER_CONFIG, contentHash: 'abc' } }, 'merged')],
  ['managed secret spec', (log, level) => log[level]({ spec: { namespace: 'team-a', name: 'pullguard-registry-credentials', dockerConfigJson: DOCKER_CONFIG } }, 'ensure')],
  ['authorization header', (log, level) => log[level]({ req: { method: 'GET', headers: { authorization: `Bearer ${TOKEN}` } } }, 'request')],
  ['kubeconfig-ish user', (log, level) => log[level]({ cluster: { user: { token: TOKEN, bearerToken: TOKEN } } }, 'client')],
  ['child logger bindings', (log, level) => log.child({ secret, auth: AUTH })[level]('bound')],
  ['grandchild of a child with options (as Fastify builds them)', (log, level) => log.child({}, { level: 'trace' }).child({ reqId: 1 }).child({ secret })[level]('bound')],
  ['Error as the only argument', (log, level) => log[level](apiError)],
  ['Secret nested ten levels down', (log, level) => log[level]({ a: { b: { c: { d: { e: { f: { g: { h: { i: { secret } } } } } } } } } }, 'deep')],
  ['a client library class instance', (log, level) => log[level]({ secret: Object.assign(new V1Secret(), secret) }, 'typed')],
  ['header names in any case', (log, level) => log[level]({ headers: { Authorization: `Bearer ${TOKEN}`, 'Proxy-Authorization': `Basic ${AUTH}` } }, 'headers')],
  ['a circular structure', (log, level) => log[level]({ loop: circular }, 'cycle')]
]

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const

function capture (): { logger: Logger, lines: string[] } {
  const lines: string[] = []
  const logger = createLogger({ level: 'trace', destination: { write: (line: string) => { lines.push(line) } } })
  return { logger, lines }
}

t.test('credentials never reach the output, at any level', async t => {
  for (const [name, logShape] of shapes) {
    t.test(name, async t => {
      const { logger, lines } = capture()
      for (const level of LEVELS) logShape(logger, level)
      t.equal(lines.length, LEVELS.length, 'every level wrote its line')
      const output = lines.join('')
      for (const canary of CANARIES) t.notOk(output.includes(canary), `no ${canary.slice(0, 12)}…`)
      t.ok(output.includes(REDACTED), 'the field is there, redacted')
      for (const line of lines) t.doesNotThrow(() => JSON.parse(line), 'each line is JSON')
    })
  }
})

t.test('what is not a credential stays readable', async t => {
  const { logger, lines } = capture()
  logger.info({ secret }, 'ensuring')
  const [line] = lines.map(l => JSON.parse(l) as unknown)
  t.match(line, {
    level: 'info',
    time: /^\d{4}-\d\d-\d\dT/,
    secret: { type: 'kubernetes.io/dockerconfigjson', metadata: { name: 'acme-registry' }, data: REDACTED }
  })
})

t.test('redaction does not modify the logged object', async t => {
  const { logger } = capture()
  logger.info({ secret }, 'ensuring')
  t.equal(secret.data['.dockerconfigjson'], DOCKER_CONFIG_B64)
})

t.test('levels below the threshold are dropped', async t => {
  const lines: string[] = []
  const logger = createLogger({ level: 'warn', destination: { write: (line: string) => { lines.push(line) } } })
  logger.info('quiet')
  logger.debug({ secret }, 'quiet')
  logger.warn('loud')
  t.equal(lines.length, 1)
})

t.test('flushLogs resolves once every line is written, even with the write still queued', async t => {
  const file = join(t.testdir(), 'log')
  const fd = openSync(file, 'w')
  t.teardown(() => { closeSync(fd) })
  const logger = createLogger({ level: 'info', destination: asynchronousDestination(fd) })
  // Every thread of libuv's pool busy: the destination's write waits its turn, as it does on a busy
  // server. A flush that does not wait for it would find the file empty.
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4)
  const busy = Array.from({ length: threads }, () => new Promise(resolve => { pbkdf2('busy', 'salt', 100_000, 64, 'sha512', resolve) }))
  logger.info('first')
  logger.info('last')
  await flushLogs(logger)
  const messages = readFileSync(file, 'utf8').split('\n').filter(line => line !== '').map(line => (JSON.parse(line) as { msg: string }).msg)
  t.same(messages, ['first', 'last'])
  await Promise.all(busy)
})
