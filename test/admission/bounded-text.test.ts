import t from 'tap'
import { joinWithinUtf8, truncateCodePoints, truncateUtf8, utf8Length } from '../../src/admission/bounded-text.js'

const codePoints = (text: string): number => [...text].length
// a lone half of a surrogate pair anywhere in the text (matched unit by unit: no u flag)
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
const hasLoneSurrogate = (text: string): boolean => LONE_SURROGATE.test(text)

const EMOJI = '😀' // U+1F600: two UTF-16 units, four UTF-8 bytes

t.test('truncateCodePoints: whole when it fits, else the start and … in exactly the bound', async t => {
  const rows: Array<[string, string, number, string]> = [
    ['short', 'abc', 5, 'abc'],
    ['exactly the bound', 'abcde', 5, 'abcde'],
    ['one over', 'abcdef', 5, 'abcd…'],
    ['empty', '', 3, ''],
    ['bound of one', 'abc', 1, '…'],
    // 5 code points in 10 UTF-16 units: whole, though longer than the bound in units
    ['astral, exactly the bound', EMOJI.repeat(5), 5, EMOJI.repeat(5)],
    ['astral at the cut: kept whole, never halved', `abc${EMOJI}${EMOJI}x`, 5, `abc${EMOJI}…`],
    ['astral just past the cut', `abcd${EMOJI}x`, 5, 'abcd…'],
    ['astral only', EMOJI.repeat(10), 4, `${EMOJI.repeat(3)}…`],
    ['a lone surrogate in the input is one code point, left as it was', `a\ud800bcdef`, 4, 'a\ud800b…']
  ]
  for (const [name, text, bound, expected] of rows) {
    const cut = truncateCodePoints(text, bound)
    t.equal(cut, expected, name)
    t.ok(codePoints(cut) <= bound, `${name}: within ${bound} code points`)
    if (!hasLoneSurrogate(text)) t.notOk(hasLoneSurrogate(cut), `${name}: no lone surrogate`)
  }
})

t.test('truncateUtf8: whole when it fits, else the start and … within the bytes, cut between characters', async t => {
  const rows: Array<[string, string, number, string]> = [
    ['ASCII that fits', 'abcdef', 6, 'abcdef'],
    ['ASCII one over', 'abcdefg', 6, 'abc…'], // … is 3 bytes
    ['two-byte characters', 'ééééé', 10, 'ééééé'],
    ['two-byte, one over', 'éééééé', 10, 'ééé…'],
    ['an emoji exactly fits', `ab${EMOJI}`, 6, `ab${EMOJI}`],
    ['an emoji at the cut goes whole', `abcd${EMOJI}xyz`, 9, 'abcd…'],
    ['an emoji before the cut stays', `a${EMOJI}bcdefgh`, 9, `a${EMOJI}b…`],
    ['a lone surrogate counts three bytes, as Buffer encodes it', 'a\udc00bcdefgh', 7, 'a\udc00…'],
    ['a bound too small for the mark', 'abcdef', 2, '']
  ]
  for (const [name, text, bound, expected] of rows) {
    const cut = truncateUtf8(text, bound)
    t.equal(cut, expected, name)
    t.ok(Buffer.byteLength(cut) <= bound, `${name}: within ${bound} bytes`)
    if (!hasLoneSurrogate(text)) t.notOk(hasLoneSurrogate(cut), `${name}: no lone surrogate`)
  }
  // every cut of a text of mixed widths, against Buffer's own count
  const mixed = `a${EMOJI}é€${EMOJI}bc${EMOJI}`
  for (let bound = 3; bound <= Buffer.byteLength(mixed) + 1; bound++) {
    const cut = truncateUtf8(mixed, bound)
    if (Buffer.byteLength(cut) > bound || hasLoneSurrogate(cut) || !(cut === mixed || cut.endsWith('…'))) t.fail(`bound ${bound}: ${JSON.stringify(cut)}`)
  }
})

t.test('utf8Length counts what Buffer.byteLength counts', async t => {
  for (const text of ['', 'abc', 'é', '€', EMOJI, `x${EMOJI}y`, '\ud800', '\udc00x', `\ud800${EMOJI}`]) {
    t.equal(utf8Length(text), Buffer.byteLength(text), JSON.stringify(text))
  }
})

t.test('joinWithinUtf8: whole items, then how many were left out', async t => {
  const more = (n: number): string => `+${n} more`
  const rows: Array<[string, string[], number, string]> = [
    ['all fit', ['a', 'b', 'c'], 5, 'a,b,c'],
    ['all fit, though the note would not', ['aa', 'bb', 'cc'], 8, 'aa,bb,cc'],
    ['none', [], 5, ''],
    ['room kept for the note', ['aaaa', 'bbbb', 'cccc', 'dddd'], 14, 'aaaa,+3 more'],
    ['the note takes the place of the last ones that fit', ['aa', 'bb', 'cc', 'dd', 'ee', 'ff'], 16, 'aa,bb,cc,+3 more'],
    ['a first item too long by itself is cut', ['abcdefghijklmnop', 'x'], 14, 'abc…,+1 more'],
    ['a single item too long', ['abcdefghijklmnop'], 8, 'abcde…'],
    ['an emoji at the cut of the first item', [`abc${EMOJI}defghijk`, 'x'], 14, 'abc…,+1 more'],
    ['astral items that fit only by an exact count', [EMOJI, EMOJI], 9, `${EMOJI},${EMOJI}`],
    ['an emoji in a kept item counts four bytes', [EMOJI, EMOJI, EMOJI, EMOJI], 15, `${EMOJI},+3 more`]
  ]
  for (const [name, items, bound, expected] of rows) {
    const joined = joinWithinUtf8(items, item => item, ',', bound, more)
    t.equal(joined, expected, name)
    t.ok(Buffer.byteLength(joined) <= bound, `${name}: within ${bound} bytes`)
  }
  let formatted = 0
  const many = Array.from({ length: 100_000 }, (_, i) => i)
  const joined = joinWithinUtf8(many, i => { formatted++; return `item-${i}` }, ',', 100, more)
  // item-0 … item-12 would fill 93 bytes; the note for the rest needs the room of item-12
  t.equal(joined, `${Array.from({ length: 12 }, (_, i) => `item-${i}`).join(',')},+99988 more`)
  t.ok(Buffer.byteLength(joined) <= 100)
  t.ok(formatted < 40, `only the items that may fit are formatted (${formatted} of 100,000)`)
})
