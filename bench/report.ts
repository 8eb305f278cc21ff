// The printed table and the bars. Every section title carries the machine's core count and Node
// version: absolute figures only mean something next to them, ratios are what carry across machines.

import { availableParallelism, cpus, loadavg, platform, arch, totalmem } from 'node:os'
import { IMAGE_NODE_FLAGS } from './children.ts'
import type { ConvergenceResult } from './convergence.ts'
import type { HttpResult } from './http.ts'
import type { LargePodsResult } from './large-pods.ts'
import type { LiveResult, LiveRow } from './live.ts'
import type { MaxResult, PacedResult } from './load-client.ts'
import type { PodSizeRow } from './pod-size.ts'
import type { ProfileResult, ProfileSummary } from './profile.ts'
import type { ScaleResult } from './scale.ts'

export interface Machine {
  cores: number
  cpuModel: string
  node: string
  platform: string
  totalMemoryMB: number
  /** 1, 5 and 15 minute load averages: above the core count, other processes competed for the cores */
  loadAverageAtStart: number[]
  loadAverageAtEnd?: number[]
}

export function machine (): Machine {
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${platform()} ${arch()}`,
    totalMemoryMB: Math.round(totalmem() / 2 ** 20),
    loadAverageAtStart: loadavg().map(n => Math.round(n * 100) / 100)
  }
}

export interface Bar {
  name: string
  bar: string
  value: string
  pass: boolean
}

export interface Results {
  http?: HttpResult
  profile?: ProfileResult
  scale?: ScaleResult
  pods?: PodSizeRow[]
  largePods?: LargePodsResult
  live?: LiveResult
  convergence?: ConvergenceResult
}

export const BAR_THROUGHPUT_RATIO = 0.8
export const BAR_P99_MS = 5
export const BAR_SCALE_RATIO = 1.2
export const BAR_RSS_MB = 150
/** issue #9: the most live mode ever holds, startup lists included */
export const BAR_LIVE_PEAK_RSS_MB = 200

export function bars (results: Results): Bar[] {
  const list: Bar[] = []
  const { http, scale, live, convergence } = results
  if (http !== undefined) {
    const t = http.throughput
    list.push({ name: 'throughput ratio (req/s, pullguard ÷ baseline)', bar: `≥ ${BAR_THROUGHPUT_RATIO}`, value: fixed(t.ratio, 2), pass: t.ratio >= BAR_THROUGHPUT_RATIO })
    const p99 = http.latency.pullguard.latencyMs.p99
    list.push({ name: `p99 latency at ${http.latency.pullguard.targetRate} req/s`, bar: `≤ ${BAR_P99_MS} ms`, value: `${fixed(p99, 2)} ms`, pass: p99 <= BAR_P99_MS })
  }
  if (scale !== undefined) {
    list.push({ name: 'decision cost, largest ÷ smallest cluster', bar: `≤ ${BAR_SCALE_RATIO}`, value: fixed(scale.costRatio, 2), pass: scale.costRatio <= BAR_SCALE_RATIO })
    const largest = scale.rows.at(-1)
    if (largest !== undefined) {
      const mb = largest.memory.afterBuild.rssBytes / 2 ** 20
      const at = `${largest.namespaces.toLocaleString('en')} namespaces`
      list.push({ name: `RSS with ${at} (view in a fresh process)`, bar: `≤ ${BAR_RSS_MB} MB`, value: `${Math.round(mb)} MB`, pass: mb <= BAR_RSS_MB })
      const projected = projectedServeRss(scale, http)
      if (projected !== undefined) {
        const projectedMb = projected / 2 ** 20
        list.push({ name: `RSS with ${at} (projected for pullguard serve)`, bar: `≤ ${BAR_RSS_MB} MB`, value: `${Math.round(projectedMb)} MB`, pass: projectedMb <= BAR_RSS_MB })
      }
    }
  }
  const liveLargest = live?.rows.at(-1)
  if (liveLargest !== undefined) {
    const mb = Math.max(liveLargest.rssIdleBytes, liveLargest.rssAfterReviewsBytes) / 2 ** 20
    list.push({ name: `RSS, ${liveLargest.namespaces.toLocaleString('en')} ns, live mode (idle / after reviews, the larger)`, bar: `≤ ${BAR_RSS_MB} MB`, value: `${Math.round(mb)} MB`, pass: mb <= BAR_RSS_MB })
    const peakMb = liveLargest.rssPeakBytes / 2 ** 20
    list.push({ name: `peak RSS (VmHWM), ${liveLargest.namespaces.toLocaleString('en')} ns, live mode`, bar: `≤ ${BAR_LIVE_PEAK_RSS_MB} MB`, value: `${Math.round(peakMb)} MB`, pass: peakMb <= BAR_LIVE_PEAK_RSS_MB })
  }
  if (convergence !== undefined) {
    // Not a time: times are the pacing's. One write per concerned namespace is the controller's contract.
    const exact = convergence.rows.filter(r => r.writes === r.namespaces).length
    list.push({ name: 'convergence: Secret writes per change = namespaces concerned', bar: 'every scenario', value: `${exact} of ${convergence.rows.length}`, pass: exact === convergence.rows.length })
  }
  return list
}

export interface Source {
  commit: string | undefined
  uncommittedSrcFiles: number | undefined
}

export function render (m: Machine, mode: string, results: Results, barList: readonly Bar[], started: Date, source: Source): string {
  const out: string[] = []
  const tag = `[${m.cores} cores, Node ${m.node}]`
  out.push(`pullguard bench — ${started.toISOString()} — ${mode} mode — dist/ built from ${source.commit ?? '?'}` +
    (source.uncommittedSrcFiles ? ` + ${source.uncommittedSrcFiles} uncommitted src/ files` : ''))
  out.push(`machine: ${m.cores} cores (${m.cpuModel}), Node ${m.node}, ${m.platform}, load average ${m.loadAverageAtStart.join(' / ')} at start` +
    (m.loadAverageAtEnd === undefined ? '' : `, ${m.loadAverageAtEnd.join(' / ')} at end`))
  out.push(`pullguard servers run with the image's Node flags (Dockerfile ENTRYPOINT): ${IMAGE_NODE_FLAGS.join(' ') || 'none'}`)
  out.push('Absolute figures vary with the machine and its other tenants; compare the ratios.')

  if (results.http !== undefined) out.push('', ...renderHttp(results.http, tag))
  if (results.scale !== undefined) out.push('', ...renderScale(results.scale, results.http, tag))
  if (results.pods !== undefined) out.push('', ...renderPods(results.pods, tag))
  if (results.largePods !== undefined) out.push('', ...renderLargePods(results.largePods, tag))
  if (results.profile !== undefined) out.push('', ...renderProfile(results.profile, tag))
  if (results.live !== undefined) out.push('', ...renderLive(results.live, tag))
  if (results.convergence !== undefined) out.push('', ...renderConvergence(results.convergence, tag))

  if (barList.length > 0) {
    out.push('', `Bars ${tag}`)
    out.push(...table(['', 'bar', 'measured', ''], barList.map(b => [b.name, b.bar, b.value, b.pass ? 'PASS' : 'FAIL']), 'llrl'))
  }
  return out.join('\n')
}

function renderHttp ({ throughput: t, latency }: HttpResult, tag: string): string[] {
  const out: string[] = []
  const first = Object.values(t.servers)[0]?.runs[0]
  out.push(`1. Throughput vs the limit ${tag}`)
  out.push(`   HTTPS keep-alive, ${t.connections} connections, POST ${t.requestBytes} B review → ${t.answerBytes} B answer;` +
    ` ${Object.values(t.servers)[0]?.runs.length ?? 0} alternating runs of ~${fixed(first?.durationSec ?? Number.NaN, 0)} s per server, medians`)
  out.push(...table(
    ['server', 'req/s', 'CPU µs/req', 'server CPU', 'client CPU', 'p50 / p99 ms'],
    Object.entries(t.servers).map(([name, s]) => {
      const runs = s.runs
      const clientShare = runs.map(r => r.clientCpuSec / r.durationSec)
      return [
        name,
        thousands(s.medianRps),
        fixed(s.cpuUsPerRequest, 1),
        percent(s.serverCpuShare),
        percent(clientShare.sort((a, b) => a - b)[Math.floor(clientShare.length / 2)] ?? Number.NaN),
        runs.length === 0 ? '' : `${middle(runs.map(r => r.latencyMs.p50))} / ${middle(runs.map(r => r.latencyMs.p99))}`
      ]
    }),
    'lrrrrr'
  ))
  const pg = t.servers.pullguard?.runs ?? []
  const base = t.servers.baseline?.runs ?? []
  const perRound = pg.map((run, i) => run.rps / (base[i]?.rps ?? Number.NaN))
  out.push(`   ratio pullguard ÷ baseline (req/s): ${fixed(t.ratio, 2)} median of rounds [${perRound.map(r => fixed(r, 2)).join(', ')}]; of medians ${fixed(t.ratioOfMedians, 2)}`)
  out.push(`   ratio by server CPU per request (baseline ÷ pullguard): ${fixed(t.cpuRatio, 2)} — about the req/s ratio if each server had a core to itself`)
  for (const [name, candidate] of Object.entries(t.servers)) {
    const current = t.servers.pullguard
    if (!name.startsWith('candidate') || current === undefined) continue
    out.push(`   ${name} ÷ pullguard: req/s ${fixed(candidate.medianRps / current.medianRps, 2)}, CPU/req ${fixed(candidate.cpuUsPerRequest / current.cpuUsPerRequest, 2)}` +
      `; ÷ baseline by CPU/req ${fixed(t.servers.baseline === undefined ? Number.NaN : t.servers.baseline.cpuUsPerRequest / candidate.cpuUsPerRequest, 2)}`)
  }
  out.push('   load: autocannon in a child process of its own; on 2 cores it takes most of the second core, so a server')
  out.push('   showing well under 100 % CPU was held back by the client or by other processes, not by its own cost.')
  out.push(`   pullguard serve RSS: ${mb(t.pullguardRssBytes.idle)} idle, ${mb(t.pullguardRssBytes.afterLoad)} after the load`)

  out.push('', `2. Latency at a fixed rate ${tag}`)
  const p = latency.pullguard
  out.push(`   open loop: ${p.targetRate} req/s planned over ${Math.round(p.sent / p.targetRate)} s, ${latency.connections} keep-alive connections; latency from issue, queueing for a connection included`)
  const rows = [['pullguard', p], ...latency.baseline === undefined ? [] : [['baseline', latency.baseline] as const]] as const
  out.push(...table(
    ['server', 'achieved req/s', 'p50', 'p90', 'p99', 'p99.9', 'max ms', 'server CPU', 'CPU µs/req', 'max in flight'],
    rows.map(([name, r]) => [
      name, fixed(r.achievedRate, 1), fixed(r.latencyMs.p50, 2), fixed(r.latencyMs.p90, 2), fixed(r.latencyMs.p99, 2),
      fixed(r.latencyMs.p999, 2), fixed(r.latencyMs.max, 1),
      r.serverCpuSec === undefined ? '?' : percent(r.serverCpuSec / r.durationSec),
      fixed(cpuPerRequest(r), 1), String(r.maxInFlight)
    ]),
    'lrrrrrrrrr'
  ))
  if (latency.baseline !== undefined) {
    // At one rate for both, the comparison is free of the feedback at full load (a faster server also
    // batches more work per wake-up, so its cost per request drops further).
    out.push(`   at the same rate, CPU per request baseline ÷ pullguard: ${fixed(cpuPerRequest(latency.baseline) / cpuPerRequest(p), 2)}`)
  }
  if (p.failed > 0) out.push(`   ${p.failed} requests failed`)
  out.push(`   from the planned time instead (adds the client's timer lateness): pullguard p50 ${fixed(p.fromPlanMs.p50, 2)} / p99 ${fixed(p.fromPlanMs.p99, 2)} ms`)
  return out
}

function renderScale (scale: ScaleResult, http: HttpResult | undefined, tag: string): string[] {
  const out: string[] = [`3. Scale: decide() on clusters of growing size ${tag}`]
  out.push('   in-process, CPU time (best of the interleaved rounds); 64 Pods cycling over the tenant namespaces, each with an')
  out.push('   own-registry, a shared-mirror, a foreign and a public image; RSS in a fresh process per size after gc')
  const empty = scale.emptyProcess.afterBuild.rssBytes
  out.push(...table(
    ['namespaces', 'tenants', 'secrets', 'keys', 'build ms', 'µs/review', 'reviews/s', '× smallest', 'RSS', 'Δ empty', 'heap', 'RSS, a Pod in every ns'],
    scale.rows.map(r => [
      thousands(r.namespaces), thousands(r.tenants), thousands(r.credentialSecrets), thousands(r.credentialKeys),
      fixed(r.buildMs, 1), fixed(r.nsPerReview / 1000, 2), thousands(r.reviewsPerSec), fixed(r.relative, 2),
      mb(r.memory.afterBuild.rssBytes), mb(r.memory.afterBuild.rssBytes - empty), mb(r.memory.afterBuild.heapUsedBytes),
      mb(r.memory.afterReviews?.rssBytes)
    ]),
    'rrrrrrrrrrrr'
  ))
  out.push(`   empty view in the same kind of process: ${mb(empty)} (Node, the TS loader the bench runs under, the admission core)`)
  const idle = http?.throughput.pullguardRssBytes.idle
  const largest = scale.rows.at(-1)
  if (idle !== undefined && largest !== undefined) {
    out.push(`   projected pullguard serve RSS at ${thousands(largest.namespaces)} namespaces: ${mb(idle)} idle (measured, example cluster)` +
      ` + ${mb(largest.memory.afterBuild.rssBytes - empty)} (the view) = ${mb(projectedServeRss(scale, http))}`)
  }
  out.push('   heap: V8 heap in use after gc. "a Pod in every ns": after one review per tenant namespace (the standalone view')
  out.push('   keeps each managed Secret it writes); RSS grows more than the heap, as under any load (see serve RSS above)')
  return out
}

function renderPods (rows: readonly PodSizeRow[], tag: string): string[] {
  const out: string[] = [`4. Pod size: one review in-process, CPU µs (best of the interleaved rounds) ${tag}`]
  out.push(...table(
    ['containers', 'review KB', 'decide()', 'parse+service+stringify', 'parse+stringify only', 'patch: direct', 'diff whole Pod', 'diff changed parts', 'ops'],
    rows.map(r => [
      String(r.containers), fixed(r.reviewBytes / 1024, 1), fixed(r.decideUs, 1), fixed(r.servicePathUs, 1), fixed(r.parseStringifyUs, 1),
      fixed(r.patch.directUs, 2), `${fixed(r.patch.diffPodUs, 1)} (×${fixed(r.patch.diffPodUs / r.patch.directUs, 0)})`,
      `${fixed(r.patch.diffPartsUs, 1)} (×${fixed(r.patch.diffPartsUs / r.patch.directUs, 0)})`, `${r.patch.directOps}/${r.patch.diffOps}`
    ]),
    'rrrrrrrrr'
  ))
  out.push('   parse+service+stringify: JSON.parse, envelope check, ReviewService (decision + in-memory Secret), JSON.stringify —')
  out.push('   the whole review minus HTTP; "parse+stringify only" is the baseline server\'s work on the same body.')
  out.push('   patch: direct = patch.ts\'s operations; diff = fast-json-patch deepClone + mutate + compare (same resulting Pod, checked)')
  return out
}

function renderLargePods ({ idleSmallReviewMs, rows }: LargePodsResult, tag: string): string[] {
  const out: string[] = [`4b. Large Pods: every image distinct, half invalid, half another tenant's ${tag}`]
  out.push(...table(
    ['containers', 'review KB', 'decide() CPU ms', 'over HTTPS ms', 'server CPU ms', 'answer KB', 'warnings', 'longest audit value', 'small reviews meanwhile', 'p50 ms', 'max ms'],
    rows.map(r => [
      thousands(r.containers), thousands(r.reviewBytes / 1024), fixed(r.decideMs, 1), fixed(r.reviewMs, 1), fixed(r.serverCpuMs ?? Number.NaN, 0), thousands(r.answerBytes / 1024),
      thousands(r.warnings), `${thousands(r.longestAuditValueBytes)} B`, thousands(r.meanwhile.reviews), fixed(r.meanwhile.p50Ms, 2), fixed(r.meanwhile.maxMs, 1)
    ]),
    'rrrrrrrrrrr'
  ))
  out.push('   over HTTPS: pullguard serve (example cluster), the large review\'s median; server CPU: that process\'s CPU time')
  out.push('   meanwhile (from /proc, 10 ms ticks). Small reviews meanwhile: the committed one, sent back to back on a second')
  out.push(`   connection until the large one was answered (alone: ${fixed(idleSmallReviewMs, 2)} ms p50); the longest is about the longest`)
  out.push('   the event loop was held, which every other review waits out. Wall times stretch with the machine\'s load; CPU does not.')
  return out
}

function renderProfile (profile: ProfileResult, tag: string): string[] {
  const out: string[] = [`5. Profile: pullguard serve under the throughput load (node --cpu-prof) ${tag}`]
  const summary = (name: string, p: ProfileSummary & { load: MaxResult }): void => {
    out.push(`   ${name}: ${fixed(p.busyMs, 0)} ms busy of ${fixed(p.windowMs, 0)} ms sampled, ${thousands(p.load.rps)} req/s while profiled` +
      ` (${fixed(p.busyMs * 1000 / p.load.requests, 0)} µs busy per request, profiler overhead included) — ${p.file}`)
  }
  summary('pullguard', profile.pullguard)
  if (profile.baseline !== undefined) summary('baseline', profile.baseline)
  // Shares of each server's busy time, and the same as CPU µs per request so the two servers compare.
  const perRequest = (p: ProfileSummary & { load: MaxResult }, ms: number): number => ms * 1000 / p.load.requests
  const baselineAreas = new Map(profile.baseline?.areas.map(a => [a.area, a]) ?? [])
  const pullguardAreas = new Map(profile.pullguard.areas.map(a => [a.area, a]))
  const areas = [...new Set([...pullguardAreas.keys(), ...baselineAreas.keys()])]
    .filter(area => (pullguardAreas.get(area)?.percent ?? 0) >= 0.5 || (baselineAreas.get(area)?.percent ?? 0) >= 0.5)
  const cells = (p: (ProfileSummary & { load: MaxResult }) | undefined, area: { percent: number, ms: number } | undefined): string[] =>
    p === undefined ? [] : area === undefined ? ['', ''] : [fixed(area.percent, 1), fixed(perRequest(p, area.ms), 1)]
  out.push(...table(
    ['area (self time)', 'pullguard %', 'µs/req', ...profile.baseline === undefined ? [] : ['baseline %', 'µs/req']],
    areas.map(area => [area, ...cells(profile.pullguard, pullguardAreas.get(area)), ...cells(profile.baseline, baselineAreas.get(area))]),
    'lrrrr'
  ))
  out.push('   top functions by self time (pullguard):')
  out.push(...table(['function', 'where', '%'], profile.pullguard.topSelf.slice(0, 12).map(f => [f.name, f.location, fixed(f.percent, 1)]), 'llr'))
  out.push('   "writeUtf8String"/"writev" are the native socket writes: TLS encryption happens inside them.')
  return out
}

function renderLive (live: LiveResult, tag: string): string[] {
  const out: string[] = [`6. Live mode: pullguard serve --kubeconfig against the API double ${tag}`]
  out.push('   every namespace a tenant\'s; managed Secrets pre-seeded with pullguard\'s own content (nothing to project);')
  out.push(`   RSS of the server process: at the first /readyz 200, idle ${live.settleSec} s later, after the reviews; peak = VmHWM;`)
  out.push('   CPU s: the server\'s CPU from spawn to ready; CPU µs: its CPU per review while the reviews ran')
  const requests = (r: LiveRow['startupRequests']): string => `${r.total} (${r.reads} get/list, ${r.watches} watch, ${r.writes} writes)`
  out.push(...table(
    ['namespaces', 'tenants', 'managed', 'ready ms', 'CPU s', 'RSS ready', 'idle', 'after reviews', 'peak', 'reviews', 'p50 ms', 'p99 ms', 'CPU µs', 'API requests: startup', 'during reviews'],
    live.rows.map(r => [
      thousands(r.namespaces), thousands(r.tenants), thousands(r.seeded.managedSecrets), thousands(r.readyMs), fixed(r.cpuSecToReady, 2),
      mb(r.rssAtReadyBytes), mb(r.rssIdleBytes), mb(r.rssAfterReviewsBytes), mb(r.rssPeakBytes),
      thousands(r.reviews), fixed(r.latencyMs.p50, 2), fixed(r.latencyMs.p99, 2), fixed(r.cpuUsPerReview, 0),
      requests(r.startupRequests), requests(r.reviewRequests)
    ]),
    'rrrrrrrrrrrrrll'
  ))
  for (const r of live.rows) {
    if (r.afterGc === undefined) continue
    out.push(`   ${thousands(r.namespaces)} ns, at the end after a full GC (forced through the inspector): RSS ${mb(r.afterGc.rssBytes)},` +
      ` V8 heap ${mb(r.afterGc.heapUsedBytes)} used of ${mb(r.afterGc.heapTotalBytes)}, external ${mb(r.afterGc.externalBytes)}`)
  }
  out.push('   reviews: one at a time over one keep-alive HTTPS connection, spread over the namespaces, each answer checked.')
  out.push('   the API double runs in the bench process (its cost is not the server\'s); ready ms includes Node start and')
  out.push('   the informers\' paged lists over plain HTTP on 127.0.0.1, so a real API server adds its own latency.')
  return out
}

function renderConvergence (c: ConvergenceResult, tag: string): string[] {
  const { workers, callsPerSecond, callBurst, settleDelayMs } = c.tuning
  const out: string[] = [`7. Convergence: the built live view with serve's defaults against the API double ${tag}`]
  out.push(`   production pacing: ${workers} workers, ${callsPerSecond} calls/s with a burst of ${callBurst}, ${thousands(settleDelayMs)} ms settle delay;` +
    ` unpaced: ${thousands(c.unpacedCallsPerSecond)} calls/s and burst; ${c.tenants} tenants + a shared source`)
  out.push(...table(
    ['scenario', 'pacing', 'namespaces', 'ms', 'pacing floor', 'CPU ms', 'writes'],
    c.rows.map(r => [
      r.what, r.pacing, thousands(r.namespaces),
      r.maxMs === undefined ? thousands(r.ms) : `p50 ${thousands(r.ms)} / max ${thousands(r.maxMs)}`,
      r.pacingFloorMs === undefined ? '' : thousands(r.pacingFloorMs),
      thousands(r.processCpuMs),
      r.writes === r.namespaces ? thousands(r.writes) : `${thousands(r.writes)} (≠ ${thousands(r.namespaces)})`
    ]),
    'llrrrrr'
  ))
  for (const r of c.rows) {
    if (r.trialsMs !== undefined) out.push(`   ${r.id} trials: ${r.trialsMs.map(ms => fixed(ms, 0)).join(', ')} ms`)
  }
  out.push('   ms: from the change (the view\'s start, for a fill) until every concerned Secret in the double holds exactly the')
  out.push('   expected bytes, polled every millisecond; the review row is the ReviewService call itself. pacing floor: the least')
  out.push('   the token bucket allows at one call per write (or the settle delay). CPU ms: the whole bench process (view, double,')
  out.push('   polling) over the same span. View and double share this process on loopback: the times are the projector\'s')
  out.push('   pacing plus this machine\'s CPU, not an apiserver\'s latency; well above the floor with little CPU means starved.')
  out.push('   writes: successful Secret create/update/patch/delete from the change until the next scenario began (the')
  out.push(`   last ones after a ${thousands(c.quietMs)} ms quiet spell); each should equal the namespaces concerned.`)
  return out
}

// ---------------------------------------------------------------------------------------------------

/** Aligned columns; `align` has one 'l' or 'r' per column. */
export function table (headers: readonly string[], rows: ReadonlyArray<readonly string[]>, align: string): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string => '   ' + cells.map((cell, i) => {
    const width = widths[i] ?? 0
    return align[i] === 'r' ? cell.padStart(width) : cell.padEnd(width)
  }).join('  ').trimEnd()
  return [line(headers), ...rows.map(line)]
}

export function fixed (value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–'
}

function thousands (value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en') : '–'
}

function percent (share: number): string {
  return Number.isFinite(share) ? `${Math.round(share * 100)} %` : '–'
}

function mb (bytes: number | undefined): string {
  return bytes === undefined ? '–' : `${Math.round(bytes / 2 ** 20)} MB`
}

/** pullguard serve's idle RSS (small cluster) plus what the largest view adds over an empty one. */
function projectedServeRss (scale: ScaleResult, http: HttpResult | undefined): number | undefined {
  const idle = http?.throughput.pullguardRssBytes.idle
  const largest = scale.rows.at(-1)
  if (idle === undefined || largest === undefined) return undefined
  return idle + largest.memory.afterBuild.rssBytes - scale.emptyProcess.afterBuild.rssBytes
}

function cpuPerRequest (r: PacedResult): number {
  return r.serverCpuSec === undefined ? Number.NaN : r.serverCpuSec * 1e6 / r.completed
}

function middle (values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b)
  return String(sorted[Math.floor(sorted.length / 2)] ?? '–')
}
