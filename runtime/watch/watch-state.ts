import { formatAddress, type Address } from "../address.js";
import type { ActorRef } from "../actor-ref.js";

/** One actor's side of death watch: who watches it, and whom it watches. Allocated on first use. */
export class WatchState {
  /** Watchers to notify when this actor stops, by address text. */
  readonly watchedBy = new Map<string, ActorRef<any>>();
  /** Actors this one watches and has not yet heard about, by address text. */
  readonly watching = new Map<string, ActorRef<any>>();
}

export function watchKey(address: Address): string {
  return formatAddress(address);
}
