// Where a loaded server spends its CPU: `node --cpu-prof` on the server child during a load run, then
// a summary of the .cpuprofile: self time per function, per area (TLS, HTTP, Fastify, pino, the
// decision…) and the inclusive time of the functions that frame a review.
//
//   node bench/profile.ts FILE.cpuprofile [FROM_US TO_US]   prints the summary of any profile
//
// A .cpuprofile is the V8 sampling profiler's tree: nodes {id, callFrame, children}, and parallel
// arrays samples (node id) / timeDeltas (µs since the previous sample).

import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { stopChild } from './children.ts'
import { CLI_PATH } from './dist.ts'
import { loadReview } from './fixtures.ts'
import { answerOf, load, startBaseline, startPullguard, writeAnswer, writeReviewBody, type Server } from './http.ts'
import type { MaxResult } from './load-client.ts'
import { round } from './stats.ts'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number, columnNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface FunctionTime {
  name: string
  /** path relative to the project (or node:…) and 1-based line */
  location: string
  area: string
  ms: number
  /** of the busy (non-idle) time */
  percent: number
}

export interface ProfileSummary {
  file: string
  /** sampled window */
  windowMs: number
  busyMs: number
  idleMs: number
  areas: Array<{ area: string, ms: number, percent: number }>
  topSelf: FunctionTime[]
  topInclusive: FunctionTime[]
}

// First match wins; the order puts project code and libraries before the Node core that calls them.
const AREAS: ReadonlyArray<readonly [string, (url: string, name: string) => boolean]> = [
  ['idle', (_url, name) => name === '(idle)'],
  ['garbage collection', (_url, name) => name === '(garbage collector)'],
  ['V8 / native, unattributed', (_url, name) => name === '(program)' || name === '(root)'],
  ['pullguard decision (dist/admission)', url => url.includes('/dist/admission/')],
  ['pullguard service & server (dist)', url => url.includes('/dist/')],
  ['pino logging', url => /node_modules\/(pino|pino-std-serializers|fast-redact|slow-redact|@pinojs|sonic-boom|thread-stream|on-exit-leak-free|safe-stable-stringify|quick-format-unescaped)\//.test(url)],
  ['prom-client metrics', url => /node_modules\/(prom-client|bintrees|tdigest)\//.test(url)],
  ['JSON body parsing (secure-json-parse)', url => url.includes('node_modules/secure-json-parse/')],
  ['response serialisation', url => /node_modules\/(fast-json-stringify|@fastify\/fast-json-stringify-compiler)\//.test(url)],
  ['fastify', url => /node_modules\/(fastify|@fastify|find-my-way|avvio|light-my-request|toad-cache|fast-querystring|process-warning|rfdc|abstract-logging|fast-decode-uri-component|ret|safe-regex2)\//.test(url)],
  ['TLS & crypto (node core)', url => /^node:(internal\/tls|_tls|tls|internal\/crypto|crypto)/.test(url)],
  ['HTTP (node core)', url => /^node:(_http|http|https|internal\/http)/.test(url)],
  ['streams, net, timers, events (node core)', url => url.startsWith('node:')],
  ['other libraries', url => url.includes('node_modules/')],
  ['other JS', url => url !== ''],
  ['builtins (no script)', () => true]
]

function areaOf (url: string, name: string): string {
  for (const [area, matches] of AREAS) if (matches(url, name)) return area
  return 'builtins (no script)'
}

const ROOT = new URL('../', import.meta.url).href

function locationOf (frame: ProfileNode['callFrame']): string {
  const url = frame.url.startsWith(ROOT) ? frame.url.slice(ROOT.length) : frame.url.replace(/^file:\/\//, '')
  return url === '' ? '' : `${url}:${frame.lineNumber + 1}`
}

/** Summarises the samples taken between fromUs and toUs (profile clock: CLOCK_MONOTONIC µs). */
export function summariseProfile (file: string, window?: { fromUs: number, toUs: number }, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map(node => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)

  const keyOf = (node: ProfileNode): string => `${node.callFrame.functionName || '(anonymous)'}\u0000${locationOf(node.callFrame)}`
  // every distinct function on a node's stack, computed once per node
  const stackKeys = new Map<number, string[]>()
  const keysOnStack = (id: number): string[] => {
    const known = stackKeys.get(id)
    if (known !== undefined) return known
    const node = byId.get(id) as ProfileNode
    const up = parent.get(id)
    const keys = up === undefined ? [] : [...keysOnStack(up)]
    const key = keyOf(node)
    if (!keys.includes(key)) keys.push(key)
    stackKeys.set(id, keys)
    return keys
  }

  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const areaOfKey = new Map<string, string>()
  let time = profile.startTime
  let windowMs = 0
  let idleUs = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0
    time += delta
    if (window !== undefined && (time < window.fromUs || time > window.toUs)) continue
    windowMs += delta / 1000
    const node = byId.get(profile.samples[i] as number) as ProfileNode
    const key = keyOf(node)
    if (!areaOfKey.has(key)) areaOfKey.set(key, areaOf(node.callFrame.url, node.callFrame.functionName))
    if (node.callFrame.functionName === '(idle)') { idleUs += delta; continue }
    self.set(key, (self.get(key) ?? 0) + delta)
    for (const onStack of keysOnStack(node.id)) inclusive.set(onStack, (inclusive.get(onStack) ?? 0) + delta)
  }

  let busyUs = 0
  const areas = new Map<string, number>()
  for (const [key, us] of self) {
    busyUs += us
    const area = areaOfKey.get(key) as string
    areas.set(area, (areas.get(area) ?? 0) + us)
  }
  const percent = (us: number): number => round(100 * us / busyUs, 1)
  const rows = (map: Map<string, number>, filter: (key: string) => boolean): FunctionTime[] => [...map]
    .filter(([key]) => filter(key))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, us]) => {
      const [name = '', location = ''] = key.split('\u0000')
      const url = location.replace(/:\d+$/, '')
      return { name, location, area: areaOf(url.startsWith('node:') || url === '' ? url : `/${url}`, name), ms: round(us / 1000, 1), percent: percent(us) }
    })
  // Inclusive time is only telling below the event loop's own frames, which include everything.
  const framing = /^\((root|program|garbage collector|idle)\)|^(processTicksAndRejections|listOnTimeout|processTimers|emit|onStreamRead|runMicrotasks|\(anonymous\))$/
  return {
    file,
    windowMs: round(windowMs, 1),
    busyMs: round(busyUs / 1000, 1),
    idleMs: round(idleUs / 1000, 1),
    areas: [...areas].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, ms: round(us / 1000, 1), percent: percent(us) })),
    topSelf: rows(self, () => true),
    topInclusive: rows(inclusive, key => !framing.test(key.split('\u0000')[0] ?? ''))
  }
}

export interface ProfileConfig {
  warmupSec: number
  durationSec: number
  connections: number
  /** sampling interval; V8's default is 1000 µs */
  intervalUs: number
  baseline: boolean
  /** the build profiled; default this checkout's dist/cli/main.js */
  cli?: string
}

export interface ProfileResult {
  pullguard: ProfileSummary & { load: MaxResult }
  baseline: (ProfileSummary & { load: MaxResult }) | undefined
}

/** Profiles pullguard (and the baseline) under the same closed-loop load as the throughput runs. */
export async function runProfiles (config: ProfileConfig, profileDir: string, workDir: string, log: (line: string) => void): Promise<ProfileResult> {
  mkdirSync(profileDir, { recursive: true })
  const bodyFile = writeReviewBody(workDir)
  let answerFile: string | undefined
  const profiled = async (name: string, start: (flags: string[]) => Promise<Server>): Promise<ProfileSummary & { load: MaxResult }> => {
    const file = `${name}.cpuprofile`
    const server = await start(['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', file, `--cpu-prof-interval=${config.intervalUs}`])
    let window: { fromUs: number, toUs: number }
    let result: MaxResult
    try {
      const answer = await answerOf(server.port, bodyFile, loadReview())
      answerFile ??= writeAnswer(workDir, answer)
      const base = { mode: 'max', port: server.port, path: '/mutate', bodyFile, connections: config.connections, serverPid: server.child.pid } as const
      await load<MaxResult>({ ...base, warmupSec: 0, durationSec: config.warmupSec })
      log(`profiling ${name} under load (${config.durationSec} s)`)
      const fromUs = Number(process.hrtime.bigint() / 1000n)
      result = await load<MaxResult>({ ...base, warmupSec: 0, durationSec: config.durationSec })
      window = { fromUs, toUs: Number(process.hrtime.bigint() / 1000n) }
    } finally {
      // SIGTERM: a graceful exit is what makes Node write the profile
      await stopChild(server.child)
    }
    return { ...summariseProfile(join(profileDir, file), window), load: result }
  }
  const pullguard = await profiled('pullguard', async flags => await startPullguard('pullguard (profiled)', config.cli ?? CLI_PATH, 'warn', flags))
  const baseline = config.baseline && answerFile !== undefined
    ? await profiled('baseline', async flags => await startBaseline(answerFile as string, flags))
    : undefined
  return { pullguard, baseline }
}

if (import.meta.main) {
  const [file, from, to] = process.argv.slice(2)
  if (file === undefined) throw new Error('usage: node bench/profile.ts FILE.cpuprofile [FROM_US TO_US]')
  const window = from !== undefined && to !== undefined ? { fromUs: Number(from), toUs: Number(to) } : undefined
  console.log(JSON.stringify(summariseProfile(file, window, 25), null, 2))
}
