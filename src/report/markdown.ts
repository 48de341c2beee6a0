/** Small, safe Markdown builders for the job summary: every cell is escaped (text from runs is untrusted). */

/**
 * Text safe inside a Markdown table cell or list item: no HTML, no links or images (square brackets are
 * escaped, so `[text](url)` and `![](url)` show as typed), no pipes, no line breaks.
 */
export function cell(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/[[\]]/g, c => `\\${c}`)
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

/**
 * Untrusted text as an inline code span: shown as typed, so nothing in it renders (links, images, HTML,
 * emphasis); the fence is longer than any run of backticks in the text, so the text cannot close it.
 */
export function inlineCode(text: string): string {
  const flat = text.replace(/\s*[\r\n]+\s*/g, ' ').trim()
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map(m => m[0].length))
  const fence = '`'.repeat(longest + 1)
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : ''
  return `${fence}${pad}${flat}${pad}${fence}`
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
