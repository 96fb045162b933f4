import type { Routee, RoutingStrategy } from "./routing-strategy.js";

/**
 * Each message to the routee that owns its key (`keyOf(message)`), by rendezvous hashing: every
 * routee scores the key and the highest score owns it. Messages with one key reach one routee in the
 * order the router received them, also while that routee is at its bound (they wait for it). When
 * routees come or go, only the keys of those that came or went move.
 */
export function consistentHash<M extends object = object>(keyOf: (message: M) => string): RoutingStrategy<M> {
  return {
    name: "consistent-hash",
    keyed: true,
    select(message: M, routees: readonly Routee[]): readonly Routee[] {
      const key = keyOf(message);
      let best: Routee | undefined;
      let bestScore = -1;
      for (const routee of routees) {
        const score = hash32(routee.id, hash32(key, 0x811c9dc5));
        if (score > bestScore || (score === bestScore && best !== undefined && routee.id < best.id)) [best, bestScore] = [routee, score];
      }
      return best === undefined ? [] : [best];
    },
  };
}

/** FNV-1a over the UTF-16 code units, seeded, with a final avalanche (murmur3's fmix32). */
export function hash32(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
