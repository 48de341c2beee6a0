/**
 * The Feature Hashing module of ML Studio (classic), which is Vowpal Wabbit's hashing of text features:
 *
 * - the text is split on whitespace, exactly as given (VW does no lower-casing or other preprocessing);
 * - a token of digits only hashes to its own value, any other token to MurmurHash3 (x86, 32-bit) of its UTF-8
 *   bytes with seed 0 (VW's `hashstring` in the default namespace);
 * - an n-gram's hash combines its tokens' hashes as VW's `addgrams` does: `h = h * 27942141 + next` (mod 2^32);
 * - unigrams and every n-gram up to `ngrams` are counted into `2^bits` buckets by the low bits of their hash.
 *
 * With bits = 3 and bigrams this reproduces the published example of the module: "This is a good day" →
 * `1 1 2 2 0 2 0 1` (5 unigrams + 4 bigrams in 8 buckets).
 */

/** VW's multiplier for combining the hashes of an n-gram (and of quadratic features). */
const QUADRATIC_CONSTANT = 27942141

/** MurmurHash3 x86 32-bit of `data` with `seed`, as an unsigned integer. */
export function murmur3(data: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51
  const c2 = 0x1b873593
  let h = seed >>> 0
  const blocks = data.length & ~3
  for (let i = 0; i < blocks; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  const tail = data.length & 3
  if (tail > 0) {
    let k = 0
    for (let i = tail - 1; i >= 0; i--) k ^= data[blocks + i] << (8 * i)
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
  }
  h ^= data.length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** VW's hash of one token: its value when it is all digits, else MurmurHash3 of its UTF-8 bytes. */
export function tokenHash(token: string): number {
  if (/^[0-9]+$/.test(token)) return Number(BigInt(token) % 0x100000000n)
  return murmur3(Buffer.from(token, 'utf8'))
}

/** Options of the hashing (the module's "Hashing bitsize" and "N-grams"). */
export interface FeatureHashingOptions {
  bits: number
  ngrams: number
}

/** The `2^bits` feature counts of one text value (all zeros for an empty or missing value). */
export function hashFeatures(text: string | null, options: FeatureHashingOptions): number[] {
  const counts = new Array<number>(2 ** options.bits).fill(0)
  if (text === null) return counts
  const mask = 2 ** options.bits - 1
  const hashes = text.split(/\s+/).filter(t => t !== '').map(tokenHash)
  for (let n = 1; n <= options.ngrams; n++) {
    for (let i = 0; i + n <= hashes.length; i++) {
      let h = hashes[i]
      for (let j = 1; j < n; j++) h = (Math.imul(h, QUADRATIC_CONSTANT) + hashes[i + j]) >>> 0
      counts[h & mask] += 1
    }
  }
  return counts
}

/** The output column names of the module for a text column, e.g. `Text_HashingFeature.0` … `.7`. */
export function hashingColumnNames(column: string, bits: number): string[] {
  return Array.from({ length: 2 ** bits }, (_, i) => `${column}_HashingFeature.${i}`)
}
