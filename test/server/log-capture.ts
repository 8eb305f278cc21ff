// A logger whose JSON lines the test can read back.

import { createLogger, type Logger, type LogLevel } from '../../src/logging.js'

export interface CapturedLog {
  logger: Logger
  lines: string[]
  /** parsed lines, optionally only those with this msg */
  records (msg?: string): Array<Record<string, unknown>>
}

export function captureLog (level: LogLevel = 'info'): CapturedLog {
  const lines: string[] = []
  const logger = createLogger({ level, destination: { write: (line: string) => { lines.push(line) } } })
  return {
    logger,
    lines,
    records: msg => lines.map(line => JSON.parse(line) as Record<string, unknown>).filter(r => msg === undefined || r.msg === msg)
  }
}
