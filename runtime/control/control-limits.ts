import { positiveInteger } from "../positive-integer.js";

/**
 * What other nodes may make this node hold through the control plane. Each limit hit refuses the
 * control message (a `refused-control` dead letter, a Failure to an ask) and is counted in
 * `system.deadLetters.limitHits()`.
 */
export interface ControlLimits {
  /** Most children this node hosts for the actors of one other node (SpawnRequests). Default 10,000. */
  readonly maxHostedChildrenPerNode?: number;
  /** Most watches of this node's actors held for the actors of one other node (Watch). Default 10,000. */
  readonly maxWatchesPerNode?: number;
  /**
   * Most control messages from nodes not yet seen by the membership held while waiting for their first
   * heartbeat (at most `failureTimeoutMs` each). Default 1,000.
   */
  readonly maxControlAwaitingMembership?: number;
}

export const DEFAULT_MAX_HOSTED_CHILDREN_PER_NODE = 10_000;
export const DEFAULT_MAX_WATCHES_PER_NODE = 10_000;
export const DEFAULT_MAX_CONTROL_AWAITING_MEMBERSHIP = 1_000;

/** The limits with their defaults filled in, each checked to be a positive integer. */
export function controlLimits(limits: ControlLimits = {}): Required<ControlLimits> {
  return {
    maxHostedChildrenPerNode: positiveInteger("maxHostedChildrenPerNode", limits.maxHostedChildrenPerNode ?? DEFAULT_MAX_HOSTED_CHILDREN_PER_NODE),
    maxWatchesPerNode: positiveInteger("maxWatchesPerNode", limits.maxWatchesPerNode ?? DEFAULT_MAX_WATCHES_PER_NODE),
    maxControlAwaitingMembership: positiveInteger("maxControlAwaitingMembership", limits.maxControlAwaitingMembership ?? DEFAULT_MAX_CONTROL_AWAITING_MEMBERSHIP),
  };
}
