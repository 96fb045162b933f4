import type { Routee, RoutingStrategy } from "./routing-strategy.js";

/**
 * Each message to every routee, in the order sent. An ask is relayed to each and its first answer
 * goes back to the asker. When one routee is at its bound, the message waits for it.
 */
export function broadcast<M extends object = object>(): RoutingStrategy<M> {
  return {
    name: "broadcast",
    keyed: false,
    select(_message: M, routees: readonly Routee[]): readonly Routee[] {
      return routees;
    },
  };
}
