// Small statistics and timing helpers. On a shared, noisy machine a single run says little: in-process
// figures are CPU time (not wall time), taken over many short rounds in which the things being compared
// are interleaved, and summarised by the least and the median round.

export function median (values: readonly number[]): number {
  return quantile(values, 0.5)
}

/** Nearest-rank quantile (q in [0, 1]) of unsorted values; NaN when empty. */
export function quantile (values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] as number
}

export function round (value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}

/** Keeps results alive so the JIT cannot drop the work being timed. */
let sink = 0
export function consume (value: unknown): void {
  if (typeof value === 'string') sink += value.length
  else if (value !== null && value !== undefined) sink += 1
}
export function sinkValue (): number {
  return sink
}

/**
 * Per call of `fn`: nanoseconds of this process's CPU time (user + system, all its threads: GC and JIT
 * included) and of wall-clock time. CPU time is the figure to use: when other processes hold the cores,
 * wall time stretches with the time we were not running, CPU time hardly moves. The calls are timed in
 * batches grown to about a millisecond, until `budgetMs` of wall time has passed.
 */
export interface OpCost {
  cpuNs: number
  wallNs: number
}

export function nsPerOp (fn: () => unknown, budgetMs: number): OpCost {
  let batch = 1
  for (;;) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < batch; i++) consume(fn())
    if (Number(process.hrtime.bigint() - start) >= 1e6 || batch >= 1 << 20) break
    batch *= 2
  }
  let calls = 0
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  const deadline = budgetMs * 1e6
  let elapsed = 0
  do {
    for (let i = 0; i < batch; i++) consume(fn())
    calls += batch
    elapsed = Number(process.hrtime.bigint() - start)
  } while (elapsed < deadline)
  return costOf(cpu, elapsed, calls)
}

/** The same for an async function, awaited one call at a time (as a server handles one review). */
export async function nsPerOpAsync (fn: () => Promise<unknown>, budgetMs: number): Promise<OpCost> {
  let calls = 0
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  const deadline = budgetMs * 1e6
  let elapsed = 0
  do {
    for (let i = 0; i < 64; i++) consume(await fn())
    calls += 64
    elapsed = Number(process.hrtime.bigint() - start)
  } while (elapsed < deadline)
  return costOf(cpu, elapsed, calls)
}

function costOf (cpuStart: NodeJS.CpuUsage, wallNs: number, calls: number): OpCost {
  const { user, system } = process.cpuUsage(cpuStart)
  return { cpuNs: (user + system) * 1000 / calls, wallNs: wallNs / calls }
}

export interface Timed {
  name: string
  run: (budgetMs: number) => OpCost | Promise<OpCost>
}

export interface TimedResult {
  /** least CPU ns per call over the samples: noise only ever adds time, so the least is the cost */
  best: number
  median: number
  samples: number[]
  /** median wall ÷ CPU time: about 1 on an idle machine, more when other processes took the cores */
  contention: number
}

/**
 * Runs every case `rounds` times, interleaved (A B C, then B C A, …), after one untimed warm-up round,
 * and returns each case's CPU ns per call. Many short samples interleave the cases finely enough that
 * a burst of load from other processes hits them all alike.
 */
export async function interleaved (cases: readonly Timed[], rounds: number, budgetMs: number): Promise<Map<string, TimedResult>> {
  for (const c of cases) await c.run(Math.max(20, budgetMs / 2))
  const samples = new Map<string, OpCost[]>(cases.map(c => [c.name, []]))
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + round) % cases.length] as Timed
      samples.get(c.name)?.push(await c.run(budgetMs))
    }
  }
  const result = new Map<string, TimedResult>()
  for (const [name, costs] of samples) {
    const cpu = costs.map(cost => cost.cpuNs)
    result.set(name, { best: Math.min(...cpu), median: median(cpu), samples: cpu, contention: median(costs.map(cost => cost.wallNs / cost.cpuNs)) })
  }
  return result
}
