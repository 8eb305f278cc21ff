// `exec`: runs a kubelet credential provider plugin (ecr-credential-provider, acr-credential-provider,
// gcp's, or a site's own) from the plugin directory, once per image of the source, and merges the
// answers. The plugin's stderr is never logged: plugins print tokens there when debugging.

import { spawn } from 'node:child_process'
import { join } from 'node:path'
import type { RegistryLogin } from '../derived-token.js'
import type { ExecSettings } from '../../../tokens/token-source.js'
import { credentialProviderRequest, readCredentialProviderResponse } from './exec-protocol.js'
import { MintError, type Mint, type ProviderEnvironment } from './provider.js'

// the kubelet gives a plugin one minute
const DEFAULT_EXEC_TIMEOUT_MS = 60_000
// a response is a few kilobytes; more is a broken plugin, not a bigger token
const MAX_OUTPUT_BYTES = 1024 * 1024

export function execProvider (environment: ProviderEnvironment): Mint<ExecSettings> {
  return async (settings, context) => {
    const token = settings.serviceAccount === undefined ? undefined : await context.serviceAccountToken(settings.serviceAccount)
    const logins: Record<string, RegistryLogin> = {}
    let shortestMs = Infinity
    for (const image of settings.images) {
      const stdout = await runPlugin(join(environment.pluginDir, settings.command), settings, credentialProviderRequest(image, token),
        environment.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS, context.signal)
      const answer = readCredentialProviderResponse(stdout)
      if (!answer.ok) throw new MintError(`plugin ${settings.command}: ${answer.reason}`)
      Object.assign(logins, answer.logins)
      shortestMs = Math.min(shortestMs, answer.cacheDurationMs ?? settings.defaultCacheDurationMs)
    }
    return { logins, expiresAtMs: context.nowMs + shortestMs }
  }
}

function runPlugin (path: string, settings: ExecSettings, request: string, timeoutMs: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, settings.args, {
      env: { ...process.env, ...settings.env },
      stdio: ['pipe', 'pipe', 'ignore'],
      timeout: timeoutMs,
      signal
    })
    const chunks: Buffer[] = []
    let bytes = 0
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes > MAX_OUTPUT_BYTES) child.kill('SIGKILL')
      else chunks.push(chunk)
    })
    child.on('error', err => {
      const code = (err as NodeJS.ErrnoException).code
      reject(new MintError(`plugin ${settings.command}: ${code === 'ABORT_ERR' ? 'aborted' : code ?? err.name}`))
    })
    child.on('close', (code, killedBy) => {
      if (bytes > MAX_OUTPUT_BYTES) reject(new MintError(`plugin ${settings.command}: wrote more than ${MAX_OUTPUT_BYTES} bytes`))
      else if (killedBy !== null) reject(new MintError(`plugin ${settings.command}: killed by ${killedBy}${killedBy === 'SIGTERM' ? ` (timeout ${timeoutMs} ms?)` : ''}`))
      else if (code !== 0) reject(new MintError(`plugin ${settings.command}: exit code ${code}`))
      else resolve(Buffer.concat(chunks).toString('utf8'))
    })
    // EPIPE when the plugin exits without reading: 'close' reports the exit
    child.stdin.on('error', () => {})
    child.stdin.end(request)
  })
}
