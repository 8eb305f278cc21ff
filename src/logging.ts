// The process logger: pino JSON, with every field that can carry a credential redacted at any depth.
// Rules for callers: bodies and patches only at debug, and never interpolate values into the message
// string — redaction works on fields, it cannot see inside free text.
//
// Why not pino's `redact` option: its paths match one fixed depth each (`*` is one level), so covering
// a Secret wherever it sits (`secret.data`, `err.body.items[0].data`, `req.headers.authorization`…)
// takes a path per key per depth, and pino then runs every wildcard path against every top-level field
// of every line: 84 paths cost ~150 µs per line (measured), against ~4 µs for one walk by key name.
// So: one copy-on-write walk in formatters.log (log objects), in the error serializer, and in child().

import { EventEmitter } from 'node:events'
import { pino, type Bindings, type DestinationStream, type LevelWithSilent, type Logger } from 'pino'

export type { Logger } from 'pino'
export type LogLevel = LevelWithSilent

export interface LoggerOptions {
  level: LogLevel
  /** where the JSON lines go; stdout when absent */
  destination?: DestinationStream
}

export const REDACTED = '[REDACTED]'

// Keys (compared lower-cased) whose value is or contains a credential: Secret payloads, dockerconfigjson
// raw, parsed (`auths` and its entries) and merged, and HTTP auth. Deliberately broad: hiding a
// harmless `data` field costs nothing, leaking one token costs a rotation.
const SECRET_KEYS: ReadonlySet<string> = new Set([
  'data',
  'stringdata',
  '.dockerconfigjson',
  '.dockercfg',
  'dockerconfigjson',
  'auths',
  'auth',
  'password',
  'token',
  'identitytoken',
  'registrytoken',
  'bearertoken',
  'authorization',
  'proxy-authorization',
  'cookie'
])

// Bounds the walk on pathological values (pino's own stringify handles cycles; we must not loop).
const MAX_DEPTH = 16

/** A copy of `value` with every SECRET_KEYS member replaced by REDACTED; `value` itself if none. */
function redactSecrets (value: unknown): unknown {
  return walk(value, 0, new Set())
}

function walk (value: unknown, depth: number, ancestors: Set<object>): unknown {
  if (typeof value !== 'object' || value === null) return value
  // Binary, dates, and live objects (sockets, streams, loggers: all EventEmitters) hold no config data.
  if (ArrayBuffer.isView(value) || value instanceof Date || value instanceof EventEmitter) return value
  // The original would carry its secrets past the copy made of it: cut the cycle here.
  if (ancestors.has(value)) return '[Circular]'
  if (depth >= MAX_DEPTH) return '[too deep to log]'
  if (value instanceof Error) return walk(pino.stdSerializers.err(value), depth, ancestors)
  ancestors.add(value)
  try {
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined
      value.forEach((item: unknown, i) => {
        const clean = walk(item, depth + 1, ancestors)
        if (clean !== item) (copy ??= [...value])[i] = clean
      })
      return copy ?? value
    }
    let copy: Record<string, unknown> | undefined
    for (const [key, item] of Object.entries(value)) {
      const clean = SECRET_KEYS.has(key.toLowerCase()) && item !== undefined ? REDACTED : walk(item, depth + 1, ancestors)
      if (clean !== item) (copy ??= { ...value })[key] = clean
    }
    return copy ?? value
  } finally {
    ancestors.delete(value)
  }
}

export function createLogger ({ level, destination }: LoggerOptions): Logger {
  const options: pino.LoggerOptions = {
    name: 'pullguard',
    level,
    formatters: {
      // Level names instead of numbers: log pipelines and humans read `"level":"warn"` without a table.
      level: label => ({ level: label }),
      log: object => redactSecrets(object) as Record<string, unknown>
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Errors are serialized (and their enumerable fields, e.g. an API error's body, walked) in
    // formatters.log; these catch an Error passed as the only argument.
    serializers: { err: redactedError, error: redactedError }
  }
  const logger = destination === undefined ? pino(options) : pino(options, destination)
  // pino applies no formatter to child bindings; children inherit this override through the
  // prototype chain (pino builds each child with Object.create(parent)), so grandchildren get it too.
  const child = logger.child
  logger.child = function <Levels extends string = never> (this: Logger, bindings: Bindings, childOptions?: pino.ChildLoggerOptions<Levels>) {
    return child.call(this, redactSecrets(bindings) as Bindings, childOptions) as Logger<Levels>
  }
  return logger
}

function redactedError (value: unknown): unknown {
  return redactSecrets(value)
}

/**
 * A file descriptor written asynchronously: a write in flight collects the lines logged meanwhile into
 * one, instead of one blocking write(2) per line on the event loop. Before the process exits, await
 * flushLogs: pino's exit hook writes what is queued, but not what is already in flight.
 */
export function asynchronousDestination (fd: number): DestinationStream {
  // minLength 1, not sonic-boom's default 0: its flush(cb) calls back at once when minLength is 0, even
  // with a write in flight. With 1 it waits for that write; lines are never shorter, so each is still
  // written as soon as it is logged.
  return pino.destination({ dest: fd, sync: false, minLength: 1 })
}

/**
 * Resolves once every line logged so far has been written (pino's logger.flush). Await it last before
 * process.exit: the exit hook's flushSync writes the lines still queued at once, but a write already
 * handed to libuv's thread pool lands after them, so the log would end out of order.
 */
export function flushLogs (logger: Logger): Promise<void> {
  // The error, if any, is the fsync sonic-boom runs after the write: a pipe (stdout under Kubernetes)
  // has nothing to sync and refuses. The lines have been written by then.
  return new Promise(resolve => { logger.flush(() => { resolve() }) })
}
