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

/** Refusals counted by reason, each also told to the caller's `onInvalid`. */
export class RefusalCounter {
  private readonly byReason = new Map<HeartbeatRefusal, number>();

  constructor(private readonly onInvalid?: (detail: string, bytes: Uint8Array, reason: HeartbeatRefusal) => void) {}

  refuse(reason: HeartbeatRefusal, detail: string, bytes: Uint8Array): void {
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    try {
      this.onInvalid?.(detail, bytes, reason);
    } catch {
      // The caller's counter cannot break the subscription.
    }
  }

  /** Every reason present, 0 when none. */
  counts(): Record<HeartbeatRefusal, number> {
    return refusalCounts(this.byReason);
  }
}

/**
 * The refusal of a claim about a node that the node's own word (`refutedBy`: "announced itself again",
 * "is still heartbeating") has just refuted: that another incarnation replaced it, or that it is
 * leaving or was lost. Undefined when no claim waited.
 */
export function refutedClaim(
  node: { readonly node: string; readonly incarnation: string },
  claim: { readonly successor?: { readonly incarnation: string }; readonly leaving?: "left" | "lost" },
  refutedBy: string,
): { readonly reason: HeartbeatRefusal; readonly detail: string } | undefined {
  const who = `node ${node.node} (incarnation ${node.incarnation}) ${refutedBy}`;
  if (claim.successor) return { reason: "incarnation-conflict", detail: `${who}: the claim that incarnation ${claim.successor.incarnation} replaced it is refused` };
  if (claim.leaving === undefined) return undefined;
  const lost = claim.leaving === "lost";
  return { reason: lost ? "lost-contradicted" : "leave-contradicted", detail: `${who} after a notice that it ${lost ? "was lost" : "is leaving"}: the notice is refused` };
}
