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
  | "node-id-in-use"
  /** Ring membership: a `joined` or `left` notice sent by another node than the one it is about. */
  | "forged-reporter"
  /** Ring membership: a `lost` notice from a node that is not one of the lost node's monitors in this view. */
  | "not-a-monitor"
  /** Ring membership: a `lost` notice about a node this node monitors and heard from within the failure timeout. */
  | "lost-contradicted"
  /** Ring membership: a probe, a notice to a stranger, a digest or a refutation over its rate limit (a flood). */
  | "over-rate";

export const HEARTBEAT_REFUSALS: readonly HeartbeatRefusal[] = [
  "malformed",
  "foreign-system",
  "kinds-over-limit",
  "invalid-kind",
  "nodes-over-limit",
  "incarnation-conflict",
  "leave-contradicted",
  "node-id-in-use",
  "forged-reporter",
  "not-a-monitor",
  "lost-contradicted",
  "over-rate",
];

/** Counts by reason, every reason present (0 when none). */
export function refusalCounts(counts: ReadonlyMap<HeartbeatRefusal, number> = new Map()): Record<HeartbeatRefusal, number> {
  return Object.fromEntries(HEARTBEAT_REFUSALS.map((reason) => [reason, counts.get(reason) ?? 0])) as Record<HeartbeatRefusal, number>;
}
