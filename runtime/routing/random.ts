import { withRoom, type Routee, type RoutingStrategy } from "./routing-strategy.js";

/** Each message to a routee drawn uniformly from those with room. `random` is injectable for tests. */
export function random<M extends object = object>(draw: () => number = Math.random): RoutingStrategy<M> {
  return {
    name: "random",
    keyed: false,
    select(_message: M, routees: readonly Routee[]): readonly Routee[] {
      const free = withRoom(routees);
      return free.length === 0 ? [] : [free[Math.floor(draw() * free.length) % free.length]!];
    },
  };
}
