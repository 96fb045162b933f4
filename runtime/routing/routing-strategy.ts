import type { ActorRef } from "../actor-ref.js";

/** A routee as a strategy sees it when one message is to be routed. */
export interface Routee {
  readonly ref: ActorRef<any>;
  /** Stable while the routee lives at this address: its address as text. */
  readonly id: string;
  /**
   * Its load as the router knows it: asks it was passed and has not answered, or (for a routee on the
   * router's node) the messages in its mailbox, whichever is more. See docs/routing.md.
   */
  readonly load: number;
  /** Its load is under the router's `maxInFlightPerRoutee`. */
  readonly hasRoom: boolean;
}

/**
 * How a router picks routees for a message. `select` returns the routees to send it to (one, or all of
 * them for broadcast); the router sends only when each has room, otherwise the message waits in the
 * router. A `keyed` strategy names the one routee a message must go to whether or not it has room, so
 * that a message waits for its own routee (keeping per-key order) while others go past it.
 */
export interface RoutingStrategy<M extends object = object> {
  readonly name: string;
  readonly keyed: boolean;
  select(message: M, routees: readonly Routee[]): readonly Routee[];
}

/** The routees with room, or none. */
export function withRoom(routees: readonly Routee[]): Routee[] {
  return routees.filter((r) => r.hasRoom);
}
