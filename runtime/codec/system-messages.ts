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

/**
 * The control plane: classes that travel on a node's control inbox, never on its data inbox (the
 * system messages above and the answers a node gives to them). `Failure` is not among them: it
 * answers asks of both planes and travels on the data plane.
 */
const controlClasses: ReadonlySet<unknown> = new Set<unknown>([...systemMessageKinds.keys(), troupe.system.SpawnReply, troupe.system.SuperviseAck]);

export function isControlMessageType(type: unknown): boolean {
  return controlClasses.has(type);
}
