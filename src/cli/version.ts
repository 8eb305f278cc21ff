// pullguard's version, from the package.json beside dist/ (the image copies it to /app, npm installs
// keep it in the package). Read at run time rather than compiled in, so a `npm version` bump needs no
// rebuild to be reported right, and never throws: a version is worth a log field, not a failed start.

import { readFileSync } from 'node:fs'

export const UNKNOWN_VERSION = '0.0.0-unknown'

// dist/cli/version.js → ../../package.json; src/cli/version.ts (tests run the sources) → the same file.
const PACKAGE_JSON = new URL('../../package.json', import.meta.url)

let cached: string | undefined

export function pullguardVersion (): string {
  cached ??= readVersion()
  return cached
}

function readVersion (): string {
  try {
    const pkg = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { name?: unknown, version?: unknown }
    // Another package.json found there (pullguard vendored oddly) must not lend its version.
    return pkg.name === 'pullguard' && typeof pkg.version === 'string' ? pkg.version : UNKNOWN_VERSION
  } catch {
    return UNKNOWN_VERSION
  }
}
