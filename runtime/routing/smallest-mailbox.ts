import type { Routee, RoutingStrategy } from "./routing-strategy.js";

/**
 * Each message to the routee with the least load (see Routee.load): for a routee on the router's node
 * its mailbox, for one elsewhere the asks it has not answered yet (tells to another node are not
 * seen finishing: core NATS sends no acknowledgements). Ties go round in turn.
 */
export function smallestMailbox<M extends object = object>(): RoutingStrategy<M> {
  let start = 0;
  return {
    name: "smallest-mailbox",
    keyed: false,
    select(_message: M, routees: readonly Routee[]): readonly Routee[] {
      const n = routees.length;
      let best: Routee | undefined;
      const from = start++ % Math.max(n, 1);
      for (let i = 0; i < n; i++) {
        const routee = routees[(from + i) % n]!;
        if (routee.hasRoom && (best === undefined || routee.load < best.load)) best = routee;
      }
      return best === undefined ? [] : [best];
    },
  };
}
