// The environment for a Node.js process a test starts (the built CLI, a server, npm): the test's own,
// without tap's process tracker. tap puts `--import=…/@tapjs/processinfo/…` in NODE_OPTIONS so that
// every Node.js process below a test records the files it loads, for coverage and `--changed`. Coverage
// is off here and spawned processes run dist/, never the sources those features map; and the tracker
// tripled what a short-lived process costs (a `serve` that fails at start: 1.1 → 3.4 s of CPU). The
// process then also runs as an operator's does, with no test loader hooks in it.

const TRACKER = /(^|\s)"?--(?:import|loader|require)[= ]\S*@tapjs[\\/]processinfo\S*?"?(?=\s|$)/g

/** process.env without the tracker in NODE_OPTIONS (any other options kept), then `extra` */
export function childEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: options, ...env } = process.env
  const kept = (options ?? '').replace(TRACKER, '').trim()
  return { ...env, ...(kept !== '' && { NODE_OPTIONS: kept }), ...extra }
}
