/**
 * Fails when dist/ is not what the sources build to: users run dist/, so it must be rebuilt and committed
 * with every change to src/. Builds into a temp folder with the same ncc command and compares file by file.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { bundle, root } from './bundle.js'

const out = mkdtempSync(path.join(tmpdir(), 'azureml-action-dist-'))

function files(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap(name => {
    const full = path.join(dir, name)
    return statSync(full).isDirectory() ? files(full, base) : [path.relative(base, full)]
  })
}

try {
  bundle(out)
  const built = files(out).sort()
  const committed = files(path.join(root, 'dist')).sort()
  const problems: string[] = []
  for (const file of new Set([...built, ...committed])) {
    if (!built.includes(file)) problems.push(`dist/${file} is not produced by the build any more`)
    else if (!committed.includes(file)) problems.push(`dist/${file} is missing`)
    else if (!readFileSync(path.join(out, file)).equals(readFileSync(path.join(root, 'dist', file)))) problems.push(`dist/${file} differs from the build`)
  }
  if (problems.length) {
    console.error(`dist/ is out of date:\n  ${problems.join('\n  ')}\nRun \`npm run bundle\` and commit dist/.`)
    process.exit(1)
  }
  console.log(`dist/ is up to date (${built.length} files).`)
} finally {
  rmSync(out, { recursive: true, force: true })
}
