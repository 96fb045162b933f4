/** Why a node did not use a heartbeat it received, as counted by `Membership.refused()`. */
export type HeartbeatRefusal =
  /** Not a NodeHeartbeat, or one with an invalid node id, no incarnation or a start time that is not a number. */
  | "malformed"
  /** The heartbeat names another system than this node's. */
  | "foreign-system"
  /** More kinds than `maxKindsPerNode`. */
  | "kinds-over-limit"
  /** A kind that is not a valid actor kind name (the rule of `defineActor`). */
  | "invalid-kind"
  /** A new node while `maxNodes` nodes are tracked already. */
  | "nodes-over-limit"
  /** A claim that another incarnation replaced a node, refuted by that node's own heartbeat (or an older run's heartbeat). */
  | "incarnation-conflict"
  /** A notice that a node is leaving, refuted by that node's own ordinary heartbeat. */
  | "leave-contradicted"
  /** Another incarnation heartbeating under this node's own id. */
  | "node-id-in-use";

export const HEARTBEAT_REFUSALS: readonly HeartbeatRefusal[] = [
  "malformed",
  "foreign-system",
  "kinds-over-limit",
  "invalid-kind",
  "nodes-over-limit",
  "incarnation-conflict",
  "leave-contradicted",
  "node-id-in-use",
];

/** Counts by reason, every reason present (0 when none). */
export function refusalCounts(counts: ReadonlyMap<HeartbeatRefusal, number> = new Map()): Record<HeartbeatRefusal, number> {
  return Object.fromEntries(HEARTBEAT_REFUSALS.map((reason) => [reason, counts.get(reason) ?? 0])) as Record<HeartbeatRefusal, number>;
}
