import { troupe } from "../../proto/gen/troupe.js";

export type SystemMessageKind = "watch" | "unwatch" | "terminated" | "spawn" | "supervise" | "child-failed" | "child-stopped";

/**
 * Protobuf classes that arriving from another node are handled by the node itself, keyed by class so
 * that telling them apart from user messages is one map lookup.
 */
export const systemMessageKinds: ReadonlyMap<unknown, SystemMessageKind> = new Map<unknown, SystemMessageKind>([
  [troupe.system.Watch, "watch"],
  [troupe.system.Unwatch, "unwatch"],
  [troupe.system.Terminated, "terminated"],
  [troupe.system.SpawnRequest, "spawn"],
  [troupe.system.Supervise, "supervise"],
  [troupe.system.ChildFailed, "child-failed"],
  [troupe.system.ChildStopped, "child-stopped"],
]);
