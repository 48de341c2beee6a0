/**
 * Builds the action's bundles with ncc: dist/index.js (main step) and, when there is a post step,
 * dist/post/index.js. One definition of the build, used by `npm run bundle` and by the dist check.
 * Usage: tsx scripts/bundle.ts [outDir]   (default dist)
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'

export const root = path.resolve(import.meta.dirname, '..')

/** Entry points and where their bundle goes, relative to the output folder. */
export const ENTRIES: { source: string; out: string; licenses?: boolean }[] = [
  { source: 'src/index.ts', out: '.', licenses: true },
  { source: 'src/post.ts', out: 'post' }
]

export function bundle(outDir: string): void {
  const ncc = path.join(root, 'node_modules', '.bin', 'ncc')
  for (const entry of ENTRIES) {
    if (!existsSync(path.join(root, entry.source))) continue
    const args = ['build', entry.source, '-o', path.join(outDir, entry.out), '--source-map', '--quiet']
    if (entry.licenses) args.push('--license', 'licenses.txt')
    execFileSync(ncc, args, { cwd: root, stdio: 'inherit' })
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  bundle(path.resolve(root, process.argv[2] ?? 'dist'))
}
