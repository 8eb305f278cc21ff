import t from 'tap'
import { fitWarning, foreignImageDenial, MAX_IMAGE_WARNINGS, MAX_WARNING_CODE_POINTS, ReviewWarnings, WARNINGS, type ImageProblem } from '../../src/admission/warnings.js'

const codePoints = (text: string): number => [...text].length
// what makes the API server drop a warning whole: Go's unicode.IsControl
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
const EMOJI = '😀'

type Step = ['review', string] | [ImageProblem, string]

t.test('one review\'s warnings: each once, image warnings capped, the rest counted in one line', async t => {
  const invalid = (i: number): Step => ['invalid', `Bad/${i}`]
  const foreign = (i: number): Step => ['foreign', `ghcr.io/globex/${i}`]
  const range = (n: number, step: (i: number) => Step): Step[] => Array.from({ length: n }, (_, i) => step(i))
  const rows: Array<{ name: string, steps: Step[], shown: number, last?: string }> = [
    { name: 'none', steps: [], shown: 0 },
    { name: 'a few: all shown', steps: [invalid(1), ['review', 'tenant'], foreign(1)], shown: 3 },
    { name: 'the same image twice is one warning', steps: [invalid(1), invalid(1), foreign(2), foreign(2)], shown: 2 },
    { name: 'exactly the cap: no summary', steps: range(MAX_IMAGE_WARNINGS, invalid), shown: MAX_IMAGE_WARNINGS },
    {
      name: 'one over the cap',
      steps: range(MAX_IMAGE_WARNINGS + 1, invalid),
      shown: MAX_IMAGE_WARNINGS + 1,
      last: 'pullguard: and 1 more image warnings (1 invalid image reference)'
    },
    {
      name: 'both kinds past the cap, counted apart',
      steps: [...range(10, invalid), ...range(4, foreign)],
      shown: MAX_IMAGE_WARNINGS + 1,
      last: 'pullguard: and 9 more image warnings (5 invalid image references, 4 images in other tenants\' registries)'
    },
    {
      name: 'a warning about the review itself is kept past the cap, before the summary',
      steps: [...range(8, foreign), ['review', 'no credentials'], ['review', 'no credentials']],
      shown: MAX_IMAGE_WARNINGS + 2,
      last: 'pullguard: and 3 more image warnings (3 images in other tenants\' registries)'
    },
    { name: 'duplicates past the cap are not counted', steps: [...range(6, invalid), ...range(6, invalid)], shown: MAX_IMAGE_WARNINGS + 1, last: 'pullguard: and 1 more image warnings (1 invalid image reference)' }
  ]
  for (const row of rows) {
    const warnings = new ReviewWarnings()
    let built = 0
    for (const [kind, value] of row.steps) {
      if (kind === 'review') warnings.add(value)
      else warnings.image(kind, value, () => { built++; return `${kind} ${value}` })
    }
    const list = warnings.list()
    t.equal(list.length, row.shown, `${row.name}: ${row.shown} warnings`)
    t.ok(built <= MAX_IMAGE_WARNINGS, `${row.name}: only shown warnings are built (${built})`)
    if (row.last !== undefined) t.equal(list.at(-1), row.last, `${row.name}: the summary`)
    else t.notOk(list.some(w => w.includes('more image warnings')), `${row.name}: no summary`)
    t.equal(new Set(list).size, list.length, `${row.name}: no warning twice`)
  }
})

t.test('every warning stays within what the API server keeps whole, and is delivered', async t => {
  const huge = 'x'.repeat(100_000)
  const hostile = `a\n"b"\\c\u0000\u0085\u007f${EMOJI}`
  const values = [
    ['ordinary', 'registry.acme.example/web/server:2.1.0'],
    ['a digest reference', `ghcr.io/globex/billing@sha256:${'a'.repeat(64)}`],
    ['huge', huge],
    ['control characters, quotes, backslash', hostile],
    ['astral characters at every cut', EMOJI.repeat(1000)],
    ['astral after one ASCII character', `a${EMOJI.repeat(1000)}`],
    ['a lone surrogate in the input', '\ud800nginx']
  ] as const
  const builders: Array<[string, (value: string) => string]> = [
    ['tenantUnknown', WARNINGS.tenantUnknown],
    ['noCredentials', WARNINGS.noCredentials],
    ['invalidImage', WARNINGS.invalidImage],
    ['foreignImage', value => WARNINGS.foreignImage(value, value)],
    ['managedSecretConflict', WARNINGS.managedSecretConflict],
    ['managedSecretNotReady', WARNINGS.managedSecretNotReady],
    ['foreignImageDenial', value => foreignImageDenial({ image: value, scope: value }, value, 3)]
  ]
  for (const [builder, build] of builders) {
    for (const [name, value] of values) {
      const text = build(value)
      if (builder !== 'foreignImageDenial') t.ok(codePoints(text) <= MAX_WARNING_CODE_POINTS, `${builder}, ${name}: ${codePoints(text)} code points`)
      t.notMatch(text, CONTROL, `${builder}, ${name}: no control character, so the API server does not drop it`)
      t.notMatch(text, LONE_SURROGATE, `${builder}, ${name}: no lone surrogate`)
    }
  }
  t.equal(WARNINGS.invalidImage('nginx\n'), 'pullguard: image "nginx\\n" is not a valid image reference', 'a newline shown as an escape')
  t.equal(WARNINGS.invalidImage('a\u0085b'), 'pullguard: image "a\\u0085b" is not a valid image reference', 'a C1 control too')
  t.equal(WARNINGS.invalidImage('Registry/App'), 'pullguard: image "Registry/App" is not a valid image reference', 'an ordinary value unchanged')
  const long = WARNINGS.foreignImage(`ghcr.io/globex/${'x'.repeat(400)}:1`, 'ghcr.io/globex')
  t.match(long, /^pullguard: image "ghcr\.io\/globex\/x+…" is in registry ghcr\.io\/globex, which belongs to another tenant$/, 'a long image is cut, the sentence kept')
})

t.test('fitWarning counts code points, as the API server does, and never halves a pair', async t => {
  const rows: Array<[string, string, string]> = [
    ['within', 'a'.repeat(MAX_WARNING_CODE_POINTS), 'a'.repeat(MAX_WARNING_CODE_POINTS)],
    ['one over', 'a'.repeat(MAX_WARNING_CODE_POINTS + 1), `${'a'.repeat(MAX_WARNING_CODE_POINTS - 1)}…`],
    // 256 emoji are 512 UTF-16 units: still whole
    ['astral, within', EMOJI.repeat(MAX_WARNING_CODE_POINTS), EMOJI.repeat(MAX_WARNING_CODE_POINTS)],
    ['astral at the cut', `${'a'.repeat(MAX_WARNING_CODE_POINTS - 2)}${EMOJI.repeat(3)}`, `${'a'.repeat(MAX_WARNING_CODE_POINTS - 2)}${EMOJI}…`]
  ]
  for (const [name, message, expected] of rows) {
    const fitted = fitWarning(message)
    t.equal(fitted, expected, name)
    t.notMatch(fitted, LONE_SURROGATE, `${name}: no lone surrogate`)
  }
})
