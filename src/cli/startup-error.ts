// A start that fails on the operator's input (a port in use, a certificate file missing or not PEM, an
// objects file unreadable) is one line naming the flag and its value, not a stack trace: the fix is
// theirs, and the line is what `kubectl logs --previous` shows them.

import { ManifestError } from '../cluster/static-view.js'
import { flagOf } from '../config/config.js'

/** The message is the whole line to print; main exits 1 with it. */
export class StartupError extends Error {
  override name = 'StartupError'
}

/** What serve was started with, for naming the flag a failure belongs to. */
export interface StartupSettings {
  host: string
  port: number
  metricsPort: number
  tlsCert?: string | undefined
  tlsKey?: string | undefined
}

type SystemError = Error & { code?: string, syscall?: string, port?: number, path?: string, hostname?: string }

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a parent of it is not a directory',
  ELOOP: 'too many symbolic links'
}

const errnoText = (code: string | undefined): string =>
  code === undefined ? 'cannot read' : `${ERRNO_TEXT[code] ?? 'cannot read'} (${code})`

/** One line naming the flag, or undefined when the error is not one of the operator's input (a bug). */
export function describeStartupError (error: unknown, settings?: StartupSettings): string | undefined {
  if (error instanceof ManifestError) {
    const reason = error.message.slice(error.file.length + 2)
    const code = /^cannot read \((\w+)\)$/.exec(reason)?.[1]
    return `${flagOf('objects')} ${error.file}: ${code === undefined ? reason : errnoText(code)}`
  }
  if (!(error instanceof Error) || settings === undefined) return undefined
  if (error.name === 'KeyPairError') return describeKeyPairError(error, settings)
  return describeListenError(error as SystemError, settings)
}

function describeKeyPairError (error: Error, { tlsCert, tlsKey }: StartupSettings): string {
  const cause = error.cause as SystemError | undefined
  const certFlag = `${flagOf('tlsCert')} ${tlsCert ?? ''}`
  const keyFlag = `${flagOf('tlsKey')} ${tlsKey ?? ''}`
  if (cause === undefined || !(cause instanceof Error)) return error.message
  if (cause.path !== undefined) {
    // open() failed: the error names the file, which names the flag.
    return `${cause.path === tlsKey && cause.path !== tlsCert ? keyFlag : certFlag}: ${errnoText(cause.code)}`
  }
  // read() failed (EISDIR): the error names no file, and both were read at once.
  if (cause.code !== undefined) return `${tlsCert === tlsKey ? certFlag : `${certFlag} or ${keyFlag}`}: ${errnoText(cause.code)}`
  if (cause.message.includes('does not match')) return `${keyFlag}: ${cause.message} in ${certFlag}`
  return `${cause.message.startsWith('private key') ? keyFlag : certFlag}: ${cause.message}`
}

function describeListenError (error: SystemError, { host, port, metricsPort }: StartupSettings): string | undefined {
  if (error.syscall === 'getaddrinfo') return `${flagOf('host')} ${host}: cannot resolve (${error.code ?? 'unknown'})`
  if (error.syscall !== 'listen' && error.code !== 'EADDRINUSE') return undefined
  if (error.code === 'EADDRNOTAVAIL') return `${flagOf('host')} ${host}: not an address of this machine (EADDRNOTAVAIL)`
  const flags = [
    ...(error.port === port ? [`${flagOf('port')} ${port}`] : []),
    ...(error.port === metricsPort ? [`${flagOf('metricsPort')} ${metricsPort}`] : [])
  ].join(' and ')
  if (flags === '') return undefined
  const address = `${host.includes(':') ? `[${host}]` : host}:${error.port ?? ''}`
  if (error.code === 'EADDRINUSE') return `${flags}: ${address} is already in use (EADDRINUSE)`
  if (error.code === 'EACCES') return `${flags}: not permitted to listen on ${address} (EACCES; ports below 1024 need privileges)`
  return `${flags}: cannot listen on ${address} (${error.code ?? error.message})`
}
