import { troupe } from "../../proto/gen/troupe.js";

export type SystemMessageKind = "watch" | "unwatch" | "terminated";

/**
 * Protobuf classes that arriving from another node are handled by the node itself, keyed by class so
 * that telling them apart from user messages is one map lookup.
 */
export const systemMessageKinds: ReadonlyMap<unknown, SystemMessageKind> = new Map<unknown, SystemMessageKind>([
  [troupe.system.Watch, "watch"],
  [troupe.system.Unwatch, "unwatch"],
  [troupe.system.Terminated, "terminated"],
]);
