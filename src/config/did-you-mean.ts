// "did you mean --objects?" for a misspelt flag, setting key or command.

import { distance } from 'fastest-levenshtein'

/**
 * The candidate most likely meant by `word`: one it is a prefix of or that is a prefix of it (`--fail`
 * for `--fail-on-deny`, `--tls-cert-file` for `--tls-cert`), else one within a third of its length in
 * edits, at least 2 (`--prot`, `--objectz`). The fewest edits win within each; ties go to the earlier.
 */
export function closestName (word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(word.length / 3))
  let best: { name: string, rank: number } | undefined
  for (const name of candidates) {
    const edits = distance(word, name)
    const prefix = word.length >= 3 && (name.startsWith(word) || word.startsWith(name))
    if (!prefix && edits > limit) continue
    // Prefix matches rank before any edit-distance match.
    const rank = (prefix ? 0 : 1000) + edits
    if (best === undefined || rank < best.rank) best = { name, rank }
  }
  return best?.name
}
