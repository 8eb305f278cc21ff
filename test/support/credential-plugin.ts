// A kubelet credential provider plugin for tests: an executable script in a temporary plugin
// directory that records each CredentialProviderRequest it reads and answers with what the test put
// in its answer file (a CredentialProviderResponse, or an exit code to fail with).

import { mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface CredentialPlugin {
  dir: string
  name: string
  /** the next runs answer this response */
  answer (response: object): Promise<void>
  /** the next runs exit with this code and print nothing */
  fail (exitCode: number): Promise<void>
  /** every request read so far, parsed */
  requests (): Promise<Array<Record<string, unknown>>>
  remove (): Promise<void>
}

export async function credentialPlugin (name = 'test-credential-provider'): Promise<CredentialPlugin> {
  const dir = await mkdtemp(join(tmpdir(), 'pullguard-plugins-'))
  const answerFile = join(dir, 'answer.json')
  const requestsFile = join(dir, 'requests.jsonl')
  // The project's Node runs the script, whatever node is on PATH.
  const script = `#!${process.execPath}
const fs = require('node:fs')
const input = fs.readFileSync(0, 'utf8')
fs.appendFileSync(${JSON.stringify(requestsFile)}, JSON.stringify({ request: JSON.parse(input), argv: process.argv.slice(2), env: process.env.PLUGIN_MARK ?? null }) + '\\n')
const answer = JSON.parse(fs.readFileSync(${JSON.stringify(answerFile)}, 'utf8'))
if (answer.exitCode !== undefined) { process.stderr.write('failing as told\\n'); process.exit(answer.exitCode) }
process.stdout.write(JSON.stringify(answer.response))
`
  await writeFile(join(dir, name), script, 'utf8')
  await chmod(join(dir, name), 0o755)
  return {
    dir,
    name,
    answer: response => writeFile(answerFile, JSON.stringify({ response })),
    fail: exitCode => writeFile(answerFile, JSON.stringify({ exitCode })),
    requests: async () => {
      const text = await readFile(requestsFile, 'utf8').catch(() => '')
      return text.split('\n').filter(line => line !== '').map(line => JSON.parse(line) as Record<string, unknown>)
    },
    remove: () => rm(dir, { recursive: true, force: true })
  }
}

/** a CredentialProviderResponse for one registry key */
export function providerResponse (key: string, username: string, password: string, cacheDuration?: string): object {
  return {
    apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
    kind: 'CredentialProviderResponse',
    cacheKeyType: 'Registry',
    ...(cacheDuration !== undefined && { cacheDuration }),
    auth: { [key]: { username, password } }
  }
}
