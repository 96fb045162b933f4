import type { Unsubscribe } from "../transport/transport.js";
import type { HeartbeatRefusal } from "./heartbeat-refusal.js";
import type { MembershipEvent, NodeInfo } from "./node-table.js";

/**
 * What a node's consumers (placement, death watch, the member gate, name lookup) need from its
 * membership, whichever protocol runs it: all-to-all heartbeats (`Membership`) or monitors on a ring
 * (`RingMembership`, docs/scale.md).
 */
export interface NodeMembership {
  /** Identifies this run of the node; a restarted process gets a new one. */
  readonly incarnation: string;
  readonly intervalMs: number;
  readonly failureTimeoutMs: number;
  /** How often silence is checked for. */
  readonly checkPeriodMs: number;
  /** Changes whenever `nodes()` may list other nodes or kinds. */
  readonly version: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The live nodes, this one included, sorted by node id. Empty unless started. */
  nodes(): NodeInfo[];
  isAlive(node: string): boolean;
  /** Membership messages refused since start, by reason (every reason present, 0 when none). */
  refused(): Record<HeartbeatRefusal, number>;
  onEvent(listener: (event: MembershipEvent) => void): Unsubscribe;
  /** Resolves with the node once it is alive; rejects if it is not seen within `timeoutMs`. */
  waitForNode(node: string, timeoutMs: number): Promise<NodeInfo>;
}
