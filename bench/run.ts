// `npm run bench`: how close pullguard comes to the limit of "TLS + parse + answer", whether its cost
// stays flat as the cluster grows, and where its time goes. A script, not a test: it prints a table,
// writes bench/results/<timestamp>.json and bench/results/latest.json, and exits 0 whatever the bars
// say (pass --check to exit 1 when one fails). See bench/README.md.
//
//   node bench/run.ts [--quick] [--only http,scale,pods,profile,live,convergence] [--live] [--convergence]
//                     [--candidate DIST_CLI ...] [--check]

import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { runConvergence, type ConvergenceConfig } from './convergence.ts'
import { runHttp, type HttpConfig } from './http.ts'
import { runLargePods, type LargePodsConfig } from './large-pods.ts'
import { runLive, type LiveConfig } from './live.ts'
import { runPodSize, type PodSizeConfig } from './pod-size.ts'
import { runProfiles, type ProfileConfig } from './profile.ts'
import { bars, machine, render, type Results, type Source } from './report.ts'
import { runScale, type ScaleConfig } from './scale.ts'

const PHASES = ['http', 'scale', 'pods', 'profile', 'live', 'convergence'] as const
// Not in the default run (each would take it past 3 minutes): only with --only, or their own flag.
const OPT_IN: readonly Phase[] = ['live', 'convergence']
type Phase = typeof PHASES[number]

interface ModeConfig {
  http: HttpConfig
  scale: ScaleConfig
  pods: PodSizeConfig
  largePods: LargePodsConfig
  /** undefined: not profiled in this mode unless asked for with --only */
  profile: ProfileConfig | undefined
  live: LiveConfig
  convergence: ConvergenceConfig
}

const SIZES = [
  { namespaces: 10, tenants: 10 },
  { namespaces: 1_000, tenants: 100 },
  { namespaces: 10_000, tenants: 1_000 }
]
const CONTAINERS = [1, 10, 60]
// Pods no real workload has, that anyone may send: every image distinct and reported (issue #10)
const LARGE_POD_CONTAINERS = [1_000, 10_000]
const LIVE_SIZES = [
  { namespaces: 10, tenants: 10 },
  { namespaces: 10_000, tenants: 1_000 }
]
const PROFILE: ProfileConfig = { warmupSec: 1, durationSec: 5, connections: 16, intervalUs: 250, baseline: true }

// Budgets (bench only, the build comes on top): default ≈ 2½ minutes (HTTP ≈ 105 s, profile ≈ 20 s,
// in-process ≈ 20 s), quick ≈ 25 s.
const MODES: Record<'default' | 'quick', ModeConfig> = {
  default: {
    http: {
      connections: 16,
      warmupSec: 2,
      // Many short rounds rather than a few long ones: on a shared machine the neighbours' load
      // changes within seconds, and the median of closely paired rounds shrugs off a noisy one.
      runWarmupSec: 0.5,
      durationSec: 2,
      rounds: 8,
      infoLogging: true,
      latency: { rate: 1000, warmupSec: 2, durationSec: 20, baselineDurationSec: 5 }
    },
    scale: { sizes: SIZES, rounds: 15, budgetMs: 40, reviewEveryNamespace: true },
    pods: { containers: CONTAINERS, rounds: 12, budgetMs: 25 },
    largePods: { containers: LARGE_POD_CONTAINERS, rounds: 5 },
    profile: PROFILE,
    live: { sizes: LIVE_SIZES, reviews: 2000, settleSec: 5 },
    // the sizes of the convergence test these figures came from
    convergence: { namespaces: 200, tenants: 20, labelTrials: 5, unpacedNamespaces: 1000 }
  },
  quick: {
    http: {
      connections: 16,
      warmupSec: 1,
      runWarmupSec: 0,
      durationSec: 3,
      rounds: 1,
      infoLogging: false,
      latency: { rate: 1000, warmupSec: 0.5, durationSec: 4, baselineDurationSec: 0 }
    },
    scale: { sizes: SIZES, rounds: 6, budgetMs: 15, reviewEveryNamespace: false },
    pods: { containers: CONTAINERS, rounds: 5, budgetMs: 10 },
    largePods: { containers: LARGE_POD_CONTAINERS, rounds: 2 },
    profile: undefined,
    live: { sizes: LIVE_SIZES, reviews: 500, settleSec: 2 },
    // still past the burst of 100, so the fill and the rotation show the refill rate
    convergence: { namespaces: 150, tenants: 15, labelTrials: 3, unpacedNamespaces: 300 }
  }
}

const USAGE = `usage: node bench/run.ts [options]   (npm run bench -- [options] builds first)
  --quick              a short run (≈ 25 s): one round per server, shorter latency run, no profile
  --only LIST          phases to run, comma-separated: ${PHASES.join(', ')}
                       (live and convergence are opt-in: not in the default run)
  --live               the default phases plus live
  --convergence        the default phases plus convergence (production pacing, ≈ 25–60 s)
  --cli FILE           the build to serve and profile (default dist/cli/main.js; in-process phases
                       always use this checkout's dist/)
  --candidate FILE     also load another build's CLI (e.g. /tmp/copy/dist/cli/main.js) in the same
                       alternating rotation, to measure a change to src/ before making it; repeatable
  --candidate-node-flags=FLAGS
                       Node flags added to the image's for the candidate in the same position (e.g.
                       --candidate-node-flags="--optimize-for-size" with --candidate dist/cli/main.js: a flag's cost)
  --rounds N           alternating throughput rounds per server (default 8, quick 1)
  --check              exit 1 when a bar fails
  --out DIR            where results go (default bench/results)
`

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      cli: { type: 'string' },
      candidate: { type: 'string', multiple: true },
      'candidate-node-flags': { type: 'string', multiple: true },
      rounds: { type: 'string' },
      check: { type: 'boolean', default: false },
      live: { type: 'boolean', default: false },
      convergence: { type: 'boolean', default: false },
      out: { type: 'string', default: new URL('results/', import.meta.url).pathname },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const modeName = values.quick ? 'quick' : 'default'
  const mode = MODES[modeName]
  const only = values.only?.split(',').map(s => s.trim())
  for (const phase of only ?? []) {
    if (!(PHASES as readonly string[]).includes(phase)) throw new UsageError(`unknown phase ${phase}; phases: ${PHASES.join(', ')}`)
  }
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds)
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds > 0)) throw new UsageError(`--rounds must be a positive integer, got ${values.rounds}`)
  const optedIn: Partial<Record<Phase, boolean>> = { live: values.live, convergence: values.convergence }
  const runs = (phase: Phase): boolean => only === undefined
    ? (phase !== 'profile' || mode.profile !== undefined) && (!OPT_IN.includes(phase) || optedIn[phase] === true)
    : only.includes(phase)

  const started = new Date()
  const startedMs = performance.now()
  const m = machine()
  const log = (line: string): void => { process.stderr.write(`[${((performance.now() - startedMs) / 1000).toFixed(0).padStart(3)} s] ${line}\n`) }
  log(`${modeName} mode on ${m.cores} cores, Node ${m.node}, load average ${m.loadAverageAtStart.join(' / ')}`)
  if (m.loadAverageAtStart[0] !== undefined && m.loadAverageAtStart[0] > m.cores) {
    log(`note: the machine is busy (load ${m.loadAverageAtStart[0]} on ${m.cores} cores); expect noisy absolute figures`)
  }

  const workDir = mkdtempSync(join(tmpdir(), 'pullguard-bench-'))
  const stamp = started.toISOString().replace(/[:.]/g, '-')
  const results: Results = {}
  try {
    if (runs('scale')) {
      log('scale: decide() on 3 cluster sizes, memory in fresh processes')
      results.scale = await runScale(mode.scale)
    }
    if (runs('pods')) {
      log('pod size: 1 / 10 / 60 containers, patch built directly vs diffed')
      results.pods = await runPodSize(mode.pods)
      log('large pods: 1,000 / 10,000 containers with distinct bad and foreign images, small reviews meanwhile')
      results.largePods = await runLargePods(mode.largePods, log)
    }
    if (runs('http')) {
      log('throughput and latency over HTTPS')
      results.http = await runHttp({
        ...mode.http,
        ...rounds !== undefined && { rounds },
        ...values.cli !== undefined && { cli: values.cli },
        ...values.candidate !== undefined && { candidateClis: values.candidate },
        ...values['candidate-node-flags'] !== undefined && { candidateNodeFlags: values['candidate-node-flags'].map(flags => flags.split(' ').filter(Boolean)) }
      }, workDir, log)
    }
    if (runs('profile')) {
      log('profiles under load')
      results.profile = await runProfiles({ ...mode.profile ?? PROFILE, ...values.cli !== undefined && { cli: values.cli } }, join(values.out, 'profiles', stamp), workDir, log)
    }
    if (runs('live')) {
      log('live mode: pullguard serve --kubeconfig against the API double, seeded at 2 sizes')
      results.live = await runLive({ ...mode.live, ...values.cli !== undefined && { cli: values.cli } }, workDir, log)
    }
    if (runs('convergence')) {
      log('convergence: the built live view with production pacing against the API double')
      results.convergence = await runConvergence(mode.convergence, log)
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true })
  }

  m.loadAverageAtEnd = loadavg().map(n => Math.round(n * 100) / 100)
  const barList = bars(results)
  const durationSec = Math.round((performance.now() - startedMs) / 100) / 10
  const provenance = source()
  const summary = { schema: 1, startedAt: started.toISOString(), mode: modeName, durationSec, machine: m, source: provenance, config: mode, bars: barList, ...results }

  mkdirSync(values.out, { recursive: true })
  const file = join(values.out, `${stamp}.json`)
  const text = JSON.stringify(summary, null, 2) + '\n'
  writeFileSync(file, text)
  writeFileSync(join(values.out, 'latest.json'), text)

  process.stdout.write(render(m, modeName, results, barList, started, provenance) + '\n')
  process.stdout.write(`\nbench took ${durationSec} s; summary: ${file} (also latest.json)\n`)
  return values.check && barList.some(bar => !bar.pass) ? 1 : 0
}

/** Which code was measured: src/ changes between commits while others work, so say so. */
function source (): Source {
  const git = (...args: string[]): string | undefined => {
    try {
      return execFileSync('git', args, { cwd: new URL('..', import.meta.url), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    } catch {
      return undefined
    }
  }
  const status = git('status', '--porcelain', '--', 'src')
  return { commit: git('rev-parse', '--short', 'HEAD'), uncommittedSrcFiles: status === undefined ? undefined : status.split('\n').filter(Boolean).length }
}

class UsageError extends Error {}

try {
  process.exitCode = await main()
} catch (error) {
  // A mistyped option gets one line and the usage; anything else is a failure worth its stack.
  const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true
  process.stderr.write(usage ? `bench: ${(error as Error).message}\n\n${USAGE}` : `bench failed: ${(error as Error).stack ?? String(error)}\n`)
  process.exitCode = 2
}
