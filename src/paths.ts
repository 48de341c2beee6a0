import path from 'node:path'

/**
 * Whether `candidate` is `root` itself or inside it, by path. A name that merely starts with two dots
 * (`..data`) is inside; only `..` as a whole segment leads out.
 */
export function isWithin(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate)
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative))
}
