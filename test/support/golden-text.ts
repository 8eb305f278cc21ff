// Golden text files for the CLI's human output: compared as printed, after masking what moves with the
// clock (ages in seconds, the time a file was last written). `UPDATE_GOLDEN=1` rewrites them.

import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import type { Test } from 'tap'

export const UPDATE_GOLDEN = process.env.UPDATE_GOLDEN === '1'

/** ages and read times change from run to run; everything else must not */
export function maskClock (text: string): string {
  return text
    .replace(/\b\d+ s ago\b/g, 'N s ago')
    .replace(/expired \d+ s ago/g, 'expired N s ago')
    .replace(/as of \d{4}-\d\d-\d\dT[\d:.]+Z/g, 'as of <read time>')
}

export function matchGolden (t: Test, file: string, actual: string): void {
  if (UPDATE_GOLDEN) writeFileSync(file, actual)
  if (!existsSync(file)) {
    t.fail(`${file} is missing: run with UPDATE_GOLDEN=1 and read the diff`)
    return
  }
  t.equal(actual, readFileSync(file, 'utf8'), `${file} (UPDATE_GOLDEN=1 rewrites it)`)
}
