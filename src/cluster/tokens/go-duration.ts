// Go's time.ParseDuration, which is how the kubelet reads a credential provider's cacheDuration
// ("6h0m0s", "1h30m", "90s", "0"). Small enough to write: the npm duration parsers accept other
// grammars (days, words) and would let a plugin's answer mean something the kubelet would refuse.

const UNIT_MS: Record<string, number> = {
  ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000
}
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y

/** milliseconds, or undefined when Go would refuse the text; negative durations are refused too */
export function parseGoDuration (text: string): number | undefined {
  if (text === '0') return 0
  if (text === '' || text.startsWith('-')) return undefined
  const body = text.startsWith('+') ? text.slice(1) : text
  let total = 0
  PART.lastIndex = 0
  let at = 0
  while (at < body.length) {
    PART.lastIndex = at
    const match = PART.exec(body)
    if (match === null) return undefined
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number)
    at = PART.lastIndex
  }
  return at === 0 ? undefined : total
}
