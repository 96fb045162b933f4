import type { Routee, RoutingStrategy } from "./routing-strategy.js";

/**
 * Each message to the next routee in turn, skipping routees at their bound. With every routee free,
 * n messages reach n routees once each; order between two messages holds only if they meet one routee.
 */
export function roundRobin<M extends object = object>(): RoutingStrategy<M> {
  let next = 0;
  return {
    name: "round-robin",
    keyed: false,
    select(_message: M, routees: readonly Routee[]): readonly Routee[] {
      for (let tried = 0; tried < routees.length; tried++) {
        const routee = routees[next++ % routees.length]!;
        if (routee.hasRoom) return [routee];
      }
      return [];
    },
  };
}
