// Text cut to a bound without breaking a character. The API server counts warnings in code points
// (Go runes) and audit annotations travel as UTF-8, so cuts are counted in those units and never fall
// between the two halves of a surrogate pair: a lone half is no character, and JSON carries it as an
// escape that the API server's decoder turns into U+FFFD. Cutting costs time in the bound, not in the
// length of the text cut.

/** what stands for the part of a text that was cut off */
export const CUT_MARK = '…'
const CUT_MARK_UTF8_BYTES = 3

/** `text` if it has at most `maxCodePoints` code points, else its start and CUT_MARK in that many. */
export function truncateCodePoints (text: string, maxCodePoints: number): string {
  // a code point takes one or two UTF-16 units: a text this short cannot be over
  if (text.length <= maxCodePoints) return text
  let end = 0
  for (let kept = 0; kept < maxCodePoints - 1 && end < text.length; kept++) end += unitsAt(text, end)
  // at most one code point more: whole
  if (end + unitsAt(text, end) >= text.length) return text
  return text.slice(0, end) + CUT_MARK
}

/** `text` if its UTF-8 encoding has at most `maxBytes` bytes, else its start and CUT_MARK within them. */
export function truncateUtf8 (text: string, maxBytes: number): string {
  // at most three bytes per UTF-16 unit (a pair: two units, four bytes)
  if (text.length * 3 <= maxBytes) return text
  if (maxBytes < CUT_MARK_UTF8_BYTES) return ''
  const budget = maxBytes - CUT_MARK_UTF8_BYTES
  let bytes = 0
  let end = 0
  let cut = 0 // the longest prefix that leaves room for the mark
  while (end < text.length) {
    bytes += utf8BytesAt(text, end)
    if (bytes > maxBytes) return text.slice(0, cut) + CUT_MARK
    end += unitsAt(text, end)
    if (bytes <= budget) cut = end
  }
  return text
}

/**
 * Items joined by `separator`: all of them if they fit in `maxBytes` of UTF-8, else as many whole
 * ones as fit together with `more(n)` naming the n left out (a first item too long by itself is cut).
 * `format` is called only for the items that may fit, whatever the length of the list.
 */
export function joinWithinUtf8<T> (
  items: readonly T[], format: (item: T) => string, separator: string, maxBytes: number, more: (left: number) => string
): string {
  // the usual case, short by the bound of three bytes per UTF-16 unit, needs no counting
  const parts: string[] = []
  let units = -separator.length
  for (const item of items) {
    const part = format(item)
    units += separator.length + part.length
    if (units * 3 > maxBytes) return joinCounted(items, format, separator, maxBytes, more)
    parts.push(part)
  }
  return parts.join(separator)
}

function joinCounted<T> (
  items: readonly T[], format: (item: T) => string, separator: string, maxBytes: number, more: (left: number) => string
): string {
  const separatorBytes = utf8Length(separator)
  const parts: string[] = []
  /** bytes of parts[0..i] joined */
  const ends: number[] = []
  for (const item of items) {
    const part = format(item)
    const end = (ends.at(-1) ?? -separatorBytes) + separatorBytes + utf8Length(part)
    if (end > maxBytes) break
    parts.push(part)
    ends.push(end)
  }
  if (parts.length === items.length) return parts.join(separator)

  const note = (left: number): string => left === 0 ? '' : separator + more(left)
  while (parts.length > 0 && (ends.at(-1) ?? 0) + utf8Length(note(items.length - parts.length)) > maxBytes) {
    parts.pop()
    ends.pop()
  }
  if (parts.length > 0) return parts.join(separator) + note(items.length - parts.length)
  const tail = note(items.length - 1)
  return truncateUtf8(format(items[0] as T), maxBytes - utf8Length(tail)) + tail
}

/** Bytes of the UTF-8 encoding (a lone surrogate is encoded as U+FFFD: 3). */
export function utf8Length (text: string): number {
  return Buffer.byteLength(text, 'utf8')
}

/** UTF-16 units of the code point at `index`: 2 for a surrogate pair, else 1 (a lone surrogate too). */
function unitsAt (text: string, index: number): 1 | 2 {
  const unit = text.charCodeAt(index)
  if (unit < 0xd800 || unit > 0xdbff) return 1
  const next = text.charCodeAt(index + 1)
  return next >= 0xdc00 && next <= 0xdfff ? 2 : 1
}

function utf8BytesAt (text: string, index: number): number {
  const unit = text.charCodeAt(index)
  if (unit < 0x80) return 1
  if (unit < 0x800) return 2
  return unitsAt(text, index) === 2 ? 4 : 3
}
