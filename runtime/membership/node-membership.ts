import type { Clock } from "../clock.js";
import type { Transport, Unsubscribe } from "../transport/transport.js";
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

/** What both protocols are configured with (`MembershipOptions`, `RingMembershipOptions` add their own). */
export interface MembershipBaseOptions {
  readonly transport: Transport;
  readonly nodeId: string;
  readonly clock: Clock;
  /** Default `DEFAULT_HEARTBEAT_INTERVAL_MS` (500). */
  readonly intervalMs?: number;
  /** Default `DEFAULT_FAILURE_TIMEOUT_MS` (2000); must be greater than `intervalMs`. */
  readonly failureTimeoutMs?: number;
  /** Most other nodes tracked. Default `DEFAULT_MAX_NODES` (1,000). */
  readonly maxNodes?: number;
  /** Most kinds one node may announce (each a valid kind name). Default `DEFAULT_MAX_KINDS_PER_NODE` (256). */
  readonly maxKindsPerNode?: number;
  /** What this node hosts, read at every heartbeat. */
  readonly localInfo: () => { readonly kinds: readonly string[]; readonly actorCount: number };
  /** Told about each membership message refused, with its reason. */
  readonly onInvalid?: (detail: string, bytes: Uint8Array, reason: HeartbeatRefusal) => void;
}
