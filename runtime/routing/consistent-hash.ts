import { hash32 } from "../hash32.js";
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
      const keyHash = hash32(keyOf(message), 0x811c9dc5);
      let best: Routee | undefined;
      let bestScore = -1;
      for (const routee of routees) {
        const score = hash32(routee.id, keyHash);
        if (score > bestScore || (score === bestScore && best !== undefined && routee.id < best.id)) [best, bestScore] = [routee, score];
      }
      return best === undefined ? [] : [best];
    },
  };
}
