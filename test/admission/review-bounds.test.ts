// A review's work and answer are bounded whatever the Pod holds: a Pod CREATE with thousands of
// containers, every image distinct and reported, is answered in time linear in its containers, with a
// handful of warnings and audit annotation values of bounded size.

import t from 'tap'
import { MAX_AUDIT_VALUE_BYTES } from '../../src/admission/audit-annotations.js'
import { decide } from '../../src/admission/decide.js'
import { DEFAULT_ADMISSION_OPTIONS, type AdmissionOptions } from '../../src/admission/options.js'
import type { AdmissionRequest, Container, Pod } from '../../src/admission/types.js'
import { MAX_IMAGE_WARNINGS, MAX_WARNING_CODE_POINTS } from '../../src/admission/warnings.js'
import { StaticClusterView } from '../../src/cluster/static-view.js'
import { decodePatch, podCreateReview, standardCluster } from '../support/cluster.js'

const view = new StaticClusterView(standardCluster(), DEFAULT_ADMISSION_OPTIONS)
const EMOJI = '😀'

/**
 * A Pod CREATE in acme's team-a with `invalid` containers whose images are not valid references and
 * `foreign` in globex's registry, all distinct; `variant` keeps one call's references from another's.
 */
function largeRequest (invalid: number, foreign: number, variant = 0, name = (i: number) => `c-${i}`): AdmissionRequest {
  const request = podCreateReview().request as AdmissionRequest
  request.uid = `uid-${variant}`
  const spec = (request.object as Pod).spec as NonNullable<Pod['spec']>
  const container = (i: number, image: string): Container => ({ name: name(i), image, imagePullPolicy: 'IfNotPresent' })
  spec.initContainers = []
  spec.containers = [
    ...Array.from({ length: invalid }, (_, i) => container(i, `registry.acme.example/Team/App-${i}:v${variant}`)),
    ...Array.from({ length: foreign }, (_, i) => container(invalid + i, `ghcr.io/globex/app-${i}:v${variant}`))
  ]
  return request
}

const more = (text: string | undefined): number => Number(/,\+(\d+) more$/.exec(text ?? '')?.[1] ?? 0)

t.test('warnings: a handful about images, then one line counting the rest by kind', async t => {
  const rows: Array<{ invalid: number, foreign: number, warnings: string[] }> = [
    { invalid: 0, foreign: 0, warnings: [] },
    { invalid: 2, foreign: 2, warnings: [] },
    { invalid: MAX_IMAGE_WARNINGS, foreign: 0, warnings: [] },
    { invalid: 3, foreign: 3, warnings: ['pullguard: and 1 more image warnings (1 image in other tenants\' registries)'] },
    { invalid: 10_000, foreign: 0, warnings: ['pullguard: and 9995 more image warnings (9995 invalid image references)'] },
    { invalid: 5_000, foreign: 5_000, warnings: ['pullguard: and 9995 more image warnings (4995 invalid image references, 5000 images in other tenants\' registries)'] }
  ]
  for (const { invalid, foreign, warnings } of rows) {
    const name = `${invalid} invalid, ${foreign} foreign`
    const { response, summary } = decide(largeRequest(invalid, foreign), view.snapshot(), DEFAULT_ADMISSION_OPTIONS)
    const images = invalid + foreign
    const list = response.warnings ?? []
    t.equal(list.length, Math.min(images, MAX_IMAGE_WARNINGS) + warnings.length, `${name}: ${list.length} warnings`)
    t.same(list.slice(Math.min(images, MAX_IMAGE_WARNINGS)), warnings, `${name}: the last line`)
    t.equal(summary.warnings, list.length, `${name}: the summary counts what was sent`)
    t.ok(list.every(w => [...w].length <= MAX_WARNING_CODE_POINTS), `${name}: each within ${MAX_WARNING_CODE_POINTS} code points`)
    // the patch is not capped: every container is still forced to Always
    t.equal(decodePatch(response.patch).length, images + 1, `${name}: every container patched, and the pull secret`)
  }
})

t.test('audit annotation values: within MAX_AUDIT_VALUE_BYTES, the rest counted', async t => {
  const longName = (i: number): string => `${EMOJI.repeat(20)}-${i}` // 4-byte characters at every cut
  const rows: Array<{ name: string, invalid: number, foreign: number, containerName?: (i: number) => string, policy?: AdmissionOptions['foreignRegistryPolicy'] }> = [
    { name: 'a few', invalid: 2, foreign: 2 },
    { name: '10,000 containers', invalid: 5_000, foreign: 5_000 },
    { name: 'astral container names', invalid: 500, foreign: 0, containerName: longName },
    { name: 'one name longer than the bound', invalid: 1, foreign: 1, containerName: i => EMOJI.repeat(5_000) + String(i) },
    { name: 'denied', invalid: 0, foreign: 10_000, policy: 'deny' }
  ]
  for (const row of rows) {
    const options = { ...DEFAULT_ADMISSION_OPTIONS, foreignRegistryPolicy: row.policy ?? 'warn' }
    const { response } = decide(largeRequest(row.invalid, row.foreign, 0, row.containerName), view.snapshot(), options)
    const notes = response.auditAnnotations ?? {}
    for (const [key, value] of Object.entries(notes)) {
      t.ok(Buffer.byteLength(value) <= MAX_AUDIT_VALUE_BYTES, `${row.name}: ${key} is ${Buffer.byteLength(value)} bytes`)
      t.notMatch(value, /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/, `${row.name}: ${key} has no lone surrogate`)
    }
    if (row.foreign > 0) {
      const note = notes['foreign-registry'] ?? ''
      const listed = note.split(',').filter(entry => entry.includes('=ghcr.io/globex(globex)')).length
      t.equal(listed + more(note), row.foreign, `${row.name}: every foreign image listed or counted`)
    }
    if (row.policy !== 'deny') {
      const note = notes['always-pull-enforced'] ?? ''
      const listed = note.split(',').length - (more(note) > 0 ? 1 : 0)
      t.equal(listed + more(note), row.invalid + row.foreign, `${row.name}: every container listed or counted`)
    }
  }
})

t.test('a review costs time linear in its containers (CPU time, n against 10 n)', async t => {
  const n = 2_000
  let variant = 0
  const cpuMsOf = (containers: number): number => {
    const request = largeRequest(containers / 2, containers / 2, ++variant)
    const started = process.cpuUsage()
    decide(request, view.snapshot(), DEFAULT_ADMISSION_OPTIONS)
    const { user, system } = process.cpuUsage(started)
    return (user + system) / 1000
  }
  cpuMsOf(n)
  cpuMsOf(10 * n) // warm-up: compiled code for both sizes
  // the least of a few runs: other processes and collections only ever add time
  const least = (containers: number): number => Math.min(...Array.from({ length: 3 }, () => cpuMsOf(containers)))
  const small = least(n)
  const large = least(10 * n)
  // linear is about 10; the quadratic de-duplication this replaced measured over 100 here
  t.ok(large / small < 30, `${n} containers: ${small.toFixed(1)} ms; ${10 * n}: ${large.toFixed(1)} ms (× ${(large / small).toFixed(1)})`)
})
