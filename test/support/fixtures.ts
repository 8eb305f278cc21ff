// The project's reference samples in test/fixtures/. Each call parses the file afresh, so a test may
// mutate what it gets without touching another test's copy.

import { readFileSync } from 'node:fs'

export const FIXTURES = new URL('../fixtures/', import.meta.url)

const texts = new Map<string, string>()

export function fixture<T = unknown> (name: string): T {
  let text = texts.get(name)
  if (text === undefined) {
    text = readFileSync(new URL(name, FIXTURES), 'utf8')
    texts.set(name, text)
  }
  return JSON.parse(text) as T
}
