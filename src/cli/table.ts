// Plain-text tables as kubectl prints them: upper-case headers, columns padded to their widest cell,
// three spaces apart, no trailing blanks.

export function table (headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map(row => (row[column] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    cells.map((cell, column) => column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)).join('   ').trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}
