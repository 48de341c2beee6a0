/**
 * Builds the action's bundles with ncc: dist/index.js (main step, with lazily loaded chunks) and
 * dist/post/index.js (post step), then writes dist/licenses.txt — the licenses of every package that ended
 * up in any of them, read off the source maps (ncc's own --license only covers one chunk when the bundle is
 * split). One definition of the build, used by `npm run bundle` and by the dist check.
 * Usage: tsx scripts/bundle.ts [outDir]   (default dist)
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export const root = path.resolve(import.meta.dirname, '..')

/** Entry points and where their bundle goes, relative to the output folder. */
export const ENTRIES: { source: string; out: string }[] = [
  { source: 'src/index.ts', out: '.' },
  { source: 'src/post.ts', out: 'post' }
]

export function bundle(outDir: string): void {
  const ncc = path.join(root, 'node_modules', '.bin', 'ncc')
  // ncc names lazily loaded chunks by content: start empty so no chunk of an earlier build is left behind.
  rmSync(outDir, { recursive: true, force: true })
  for (const entry of ENTRIES) {
    if (!existsSync(path.join(root, entry.source))) continue
    execFileSync(ncc, ['build', entry.source, '-o', path.join(outDir, entry.out), '--source-map', '--quiet'], { cwd: root, stdio: 'inherit' })
  }
  writeFileSync(path.join(outDir, 'licenses.txt'), licenses(outDir))
}

/** The license text of every node_modules package any bundle's source map names, sorted by package. */
function licenses(outDir: string): string {
  const packages = new Map<string, string>()
  for (const map of sourceMaps(outDir)) {
    const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] }
    for (const source of sources) {
      // ncc writes sources relative to its own working folder (`.././node_modules/…`), whatever the map's folder.
      const inModules = source.slice(source.indexOf('node_modules/'))
      const match = /^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//.exec(inModules)
      if (source.includes('node_modules/') && match) packages.set(match[2], path.join(root, match[1]))
    }
  }
  return [...packages.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, dir]) => {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { license?: string; version?: string }
      const file = readdirSync(dir).find(f => /^(licen[cs]e|copying)(\.|$)/i.test(f))
      const text = file ? readFileSync(path.join(dir, file), 'utf8').trim() : `(no license file; package.json says ${manifest.license ?? 'nothing'})`
      return `${name}@${manifest.version ?? '?'}\n${manifest.license ?? ''}\n${text}\n`
    })
    .join('\n')
}

function sourceMaps(dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const full = path.join(dir, name)
    if (statSync(full).isDirectory()) return sourceMaps(full)
    return name.endsWith('.js.map') ? [full] : []
  })
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  bundle(path.resolve(root, process.argv[2] ?? 'dist'))
}
