// Golden reviews, in the manner of istio's injector testdata: each folder under test/fixtures/golden/
// holds one review, the cluster it is decided against and the answer expected, patch decoded. The
// runner answers each review as `pullguard review --objects` does (ReviewService over a
// StaticClusterView) and compares. `UPDATE_GOLDEN=1` rewrites expected.json; without it a stale,
// missing or orphaned golden file fails. Either way an answer must keep the API server's rules: the
// patch applies strictly and a second review of the patched Pod patches nothing (reinvocation).

import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import jsonpatch from 'fast-json-patch'
import t from 'tap'
import { MAX_AUDIT_VALUE_BYTES } from '../../src/admission/audit-annotations.js'
import { decide } from '../../src/admission/decide.js'
import { parseAdmissionReview } from '../../src/admission/envelope.js'
import { DEFAULT_ADMISSION_OPTIONS, type AdmissionOptions } from '../../src/admission/options.js'
import type { AdmissionRequest } from '../../src/admission/types.js'
import { readManifestFile, StaticClusterView } from '../../src/cluster/static-view.js'
import { MAX_IMAGE_WARNINGS } from '../../src/admission/warnings.js'
import { ReviewService } from '../../src/review-service.js'
import { decodePatch } from '../support/cluster.js'

const GOLDEN = fileURLToPath(new URL('../fixtures/golden/', import.meta.url))
const FIXTURES_README = fileURLToPath(new URL('../fixtures/README.md', import.meta.url))
const UPDATE = process.env.UPDATE_GOLDEN === '1'
const CASE_FILES = ['review.json', 'objects.yaml', 'options.json', 'expected.json']
// the image warnings, the line counting the rest, one about the tenant and one about the managed Secret
const MAX_WARNINGS_PER_REVIEW = MAX_IMAGE_WARNINGS + 3

type ManagedSecretSpec = Parameters<StaticClusterView['ensureManagedSecret']>[0]

/** What expected.json holds: the answer as sent, except the patch decoded, and the Secret ensured. */
interface Golden {
  answer: unknown
  ensuredSecret: null | (Omit<ManagedSecretSpec, 'dockerConfigJson'> & { dockerConfigJson: unknown, outcome: string })
  summary: { decision: string, reason: string }
}

interface Examined {
  /** what is wrong with the folder or the answer, apart from a stale expected.json */
  problems: string[]
  actual?: Golden
  /** expected.json as read (or as just written, with update) */
  expected?: unknown
}

/** Remembers the Secrets the review asked for; everything else is the standalone view's. */
class RecordingView extends StaticClusterView {
  readonly ensured: Array<{ spec: ManagedSecretSpec, outcome: string }> = []

  override async ensureManagedSecret (spec: ManagedSecretSpec): ReturnType<StaticClusterView['ensureManagedSecret']> {
    const result = await super.ensureManagedSecret(spec)
    this.ensured.push({ spec, outcome: result.outcome })
    return result
  }
}

const silent = { warn: () => {} }
const readJsonFile = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'))

function optionsOf (file: string, problems: string[]): AdmissionOptions {
  if (!existsSync(file)) return DEFAULT_ADMISSION_OPTIONS
  const overrides = readJsonFile(file) as Record<string, unknown>
  // A misspelt option would silently test the defaults.
  for (const key of Object.keys(overrides)) if (!(key in DEFAULT_ADMISSION_OPTIONS)) problems.push(`options.json: unknown option ${key}`)
  return { ...DEFAULT_ADMISSION_OPTIONS, ...overrides }
}

async function answer (dir: string, problems: string[]): Promise<Golden | undefined> {
  const parsed = parseAdmissionReview(readJsonFile(join(dir, 'review.json')))
  if (!parsed.ok) {
    problems.push(`review.json is not an AdmissionReview: ${parsed.error}`)
    return undefined
  }
  const review = parsed.review
  const request = review.request as AdmissionRequest
  const options = optionsOf(join(dir, 'options.json'), problems)
  const view = new RecordingView(await readManifestFile(join(dir, 'objects.yaml')), options)
  const outcome = await new ReviewService(view, options).review(structuredClone(review), silent)
  const sent = outcome.response.response
  if (sent === undefined) throw new Error('an answer without response')
  const operations = decodePatch(sent.patch)

  // The API server's rules, checked even while rewriting, so a broken answer is never blessed.
  if (outcome.response.apiVersion !== review.apiVersion) problems.push(`apiVersion ${outcome.response.apiVersion} does not echo ${review.apiVersion}`)
  if (sent.uid !== request.uid) problems.push('uid not echoed')
  if ((sent.patch === undefined) !== (sent.patchType === undefined)) problems.push('patch and patchType must come together')
  if (sent.patch !== undefined && (operations.length === 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(sent.patch))) problems.push('patch is empty or not padded base64')
  // the API server counts warnings in code points, and keeps 4,096 of them per request from all webhooks
  const warnings = sent.warnings ?? []
  for (const warning of warnings) if ([...warning].length > 256) problems.push(`warning longer than 256 code points: ${warning.slice(0, 40)}…`)
  if (warnings.length > MAX_WARNINGS_PER_REVIEW) problems.push(`${warnings.length} warnings, more than ${MAX_WARNINGS_PER_REVIEW}`)
  for (const [key, value] of Object.entries(sent.auditAnnotations ?? {})) {
    if (Buffer.byteLength(value) > MAX_AUDIT_VALUE_BYTES) problems.push(`audit annotation ${key} is ${Buffer.byteLength(value)} bytes, more than ${MAX_AUDIT_VALUE_BYTES}`)
  }
  for (const key of Object.keys(sent.auditAnnotations ?? {})) if (key.includes('/')) problems.push(`audit annotation key ${key} is not a single segment`)
  if (view.ensured.length > 1) problems.push('more than one Secret ensured for one review')
  if (operations.length > 0) problems.push(...reinvocationProblems(request, operations, view, options))

  const ensured = view.ensured[0]
  return {
    answer: { ...outcome.response, response: { ...sent, ...(sent.patch !== undefined && { patch: operations }) } },
    ensuredSecret: ensured === undefined
      ? null
      : { ...ensured.spec, dockerConfigJson: JSON.parse(ensured.spec.dockerConfigJson), outcome: ensured.outcome },
    summary: { decision: outcome.summary.decision, reason: outcome.summary.reason }
  }
}

// reinvocationPolicy IfNeeded calls the webhook again on the patched Pod: it must then change nothing.
function reinvocationProblems (request: AdmissionRequest, operations: unknown[], view: StaticClusterView, options: AdmissionOptions): string[] {
  let patched: unknown
  try {
    patched = jsonpatch.applyPatch(structuredClone(request.object), operations as jsonpatch.Operation[], true, false).newDocument
  } catch (error) {
    return [`the patch does not apply strictly: ${(error as Error).message}`]
  }
  const again = decide({ ...structuredClone(request), object: patched }, view.snapshot(), options)
  return again.response.patch === undefined ? [] : [`a second review of the patched Pod patches again: ${JSON.stringify(decodePatch(again.response.patch))}`]
}

async function examineCase (dir: string, update: boolean): Promise<Examined> {
  const files = readdirSync(dir)
  const problems = files.filter(f => !CASE_FILES.includes(f)).map(f => `unknown file ${f} (a case holds ${CASE_FILES.join(', ')})`)
  for (const required of ['review.json', 'objects.yaml']) {
    if (!files.includes(required)) problems.push(`orphaned: no ${required}; add it or delete the folder`)
  }
  if (problems.some(p => p.startsWith('orphaned'))) return { problems }

  const actual = await answer(dir, problems)
  if (actual === undefined) return { problems }
  const expectedFile = join(dir, 'expected.json')
  if (update && problems.length === 0) {
    const text = `${JSON.stringify(actual, null, 2)}\n`
    if (!existsSync(expectedFile) || readFileSync(expectedFile, 'utf8') !== text) writeFileSync(expectedFile, text)
  }
  if (!existsSync(expectedFile)) {
    problems.push('no expected.json: run UPDATE_GOLDEN=1 npx tap test/admission/golden.test.ts and review what it wrote')
    return { problems, actual }
  }
  return { problems, actual, expected: readJsonFile(expectedFile) }
}

const caseNames = readdirSync(GOLDEN, { withFileTypes: true }).filter(e => e.isDirectory()).map(e => e.name).sort()

t.test('golden/ holds case folders only, each listed in test/fixtures/README.md', async t => {
  t.ok(caseNames.length >= 20, `${caseNames.length} cases`)
  const stray = readdirSync(GOLDEN, { withFileTypes: true }).filter(e => !e.isDirectory()).map(e => e.name)
  t.same(stray, [], 'no loose files')
  const readme = readFileSync(FIXTURES_README, 'utf8')
  for (const name of caseNames) t.ok(readme.includes(`\`${name}\``), `README describes ${name}`)
})

for (const name of caseNames) {
  t.test(name, async t => {
    const { problems, actual, expected } = await examineCase(join(GOLDEN, name), UPDATE)
    t.same(problems, [], 'a complete case whose answer keeps the API server\'s rules')
    if (actual !== undefined && expected !== undefined) {
      t.strictSame(actual, expected, UPDATE ? 'expected.json rewritten' : 'the answer matches expected.json (UPDATE_GOLDEN=1 rewrites it)')
    }
  })
}

t.test('the runner itself fails a stale, missing or orphaned golden file', async t => {
  const root = mkdtempSync(join(tmpdir(), 'pullguard-golden-'))
  t.teardown(() => { rmSync(root, { recursive: true, force: true }) })
  const source = join(GOLDEN, caseNames[0] as string)
  const copy = (name: string): string => {
    const dir = join(root, name)
    cpSync(source, dir, { recursive: true })
    return dir
  }

  const fresh = await examineCase(copy('fresh'), false)
  t.same(fresh.problems, [])
  t.ok(isDeepStrictEqual(fresh.actual, fresh.expected), 'an untouched copy passes')

  const stale = copy('stale')
  const edited = readJsonFile(join(stale, 'expected.json')) as Golden
  edited.summary.reason = 'something else'
  writeFileSync(join(stale, 'expected.json'), JSON.stringify(edited))
  const staleResult = await examineCase(stale, false)
  t.notOk(isDeepStrictEqual(staleResult.actual, staleResult.expected), 'a stale expected.json differs from the answer')

  const missing = copy('missing')
  rmSync(join(missing, 'expected.json'))
  t.match((await examineCase(missing, false)).problems, [/^no expected\.json/], 'a missing expected.json fails')
  const written = await examineCase(missing, true)
  t.same(written.problems, [], 'with update it is written')
  t.ok(isDeepStrictEqual(written.actual, written.expected), 'as the answer')
  t.ok(isDeepStrictEqual(written.expected, fresh.expected), 'identical to the committed one')

  const orphan = copy('orphan')
  rmSync(join(orphan, 'review.json'))
  t.match((await examineCase(orphan, true)).problems, [/^orphaned: no review\.json/], 'an expected.json without its review fails, even with update')

  const unknown = copy('unknown')
  writeFileSync(join(unknown, 'notes.txt'), 'x')
  t.match((await examineCase(unknown, false)).problems, [/^unknown file notes\.txt/], 'an unknown file fails')

  const misspelt = copy('misspelt')
  writeFileSync(join(misspelt, 'options.json'), JSON.stringify({ foreignRegistryPolcy: 'deny' }))
  t.match((await examineCase(misspelt, true)).problems, [/unknown option foreignRegistryPolcy/], 'a misspelt option fails')
})
