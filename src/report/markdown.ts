/** Small, safe Markdown builders for the job summary: every cell is escaped (text from runs is untrusted). */

/** Text safe inside a Markdown table cell: no HTML, no pipes, no line breaks. */
export function cell(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ')
}

/** A Markdown table; cells are escaped here. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`
  return [line(header), `| ${header.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n')
}

/** A fenced block that the content cannot close early. */
export function codeBlock(lines: readonly string[]): string {
  const body = lines.join('\n')
  let fence = '```'
  while (body.includes(fence)) fence += '`'
  return `${fence}text\n${body}\n${fence}`
}

/** A human duration: 4 s, 2 min 5 s, 1 h 3 min. */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ${s % 60} s`
  return `${Math.floor(m / 60)} h ${m % 60} min`
}
