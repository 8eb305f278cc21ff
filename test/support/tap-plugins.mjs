// Builds tap's Test class for .taprc's plugin list before tap runs, when the installed build differs
// (always so right after `npm ci`: tap ships built with every default plugin, .taprc drops
// @tapjs/typescript). tap would rebuild by itself, but the run that rebuilds still starts every test
// file with the old list's loaders (tapjs/tapjs#974), so the first run after an install loaded
// ts-node into each of ~70 test processes: twice the CPU, 250 s instead of 130 s here.
// tap's own modules are resolved the way its runner resolves them, from @tapjs/run.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const fromProject = createRequire(join(process.cwd(), 'package.json'))
const tapManifest = fromProject.resolve('tap/package.json')
const fromRunner = createRequire(createRequire(tapManifest).resolve('@tapjs/run/package.json'))
const { TapConfig } = fromRunner('@tapjs/config')
const { signature: built } = fromRunner('@tapjs/test')

const config = await TapConfig.load()
if (config.pluginSignature !== built) {
  console.error('tap-plugins: building tap for the plugins .taprc lists (once after an install)')
  const tapBin = join(dirname(tapManifest), fromProject('tap/package.json').bin.tap)
  const { status, signal, error } = spawnSync(process.execPath, [tapBin, 'build'], { stdio: 'inherit' })
  if (error !== undefined || status !== 0) {
    console.error(`tap-plugins: tap build failed (${error?.message ?? signal ?? `exit ${status}`})`)
    process.exit(1)
  }
}
