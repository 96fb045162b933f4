/**
 * A fast, well-mixed 32-bit hash of strings for placement (rendezvous scores, shard numbers): FNV-1a
 * over the UTF-16 code units, seeded, then murmur3's fmix32 as the final avalanche. Not for security:
 * anyone can aim keys at one owner.
 */
export function hash32(text: string, seed: number): number {
  return fmix32(fnv1a32(text, seed));
}

/** FNV-1a over `text`'s UTF-16 code units from `seed`, without the avalanche: hashes can be chained. */
export function fnv1a32(text: string, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

/** murmur3's finalizer: every input bit affects every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
