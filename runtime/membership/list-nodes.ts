import { systemClock, type Clock } from "../clock.js";
import type { Transport } from "../transport/transport.js";
import { decodeHeartbeat } from "./heartbeat.js";
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_MAX_NODES } from "./membership.js";
import { NodeTable, type NodeInfo } from "./node-table.js";

/** A little over two default heartbeat intervals: every live node with default settings is heard. */
export const DEFAULT_LIST_WAIT_MS = 2 * DEFAULT_HEARTBEAT_INTERVAL_MS + 200;

export interface ListNodesOptions {
  /** How long to listen. Default `DEFAULT_LIST_WAIT_MS`; raise it for nodes with longer intervals. */
  readonly waitMs?: number;
  readonly clock?: Clock;
  /** Most nodes listed. Default `DEFAULT_MAX_NODES` (1,000). */
  readonly maxNodes?: number;
  readonly onInvalid?: (detail: string, bytes: Uint8Array) => void;
}

/**
 * The nodes heard on a heartbeat subject within `waitMs`, sorted by node id, without joining: for
 * tools such as `troupe nodes`. Nodes that announce they are leaving during the wait are left out.
 */
export async function listNodes(transport: Transport, subject: string, options: ListNodesOptions = {}): Promise<NodeInfo[]> {
  const clock = options.clock ?? systemClock;
  const waitMs = options.waitMs ?? DEFAULT_LIST_WAIT_MS;
  // Nobody is timed out during such a short listen: only joins, restarts and leaves matter.
  const table = new NodeTable({ failureTimeoutMs: Number.POSITIVE_INFINITY, silenceMs: Math.ceil(DEFAULT_HEARTBEAT_INTERVAL_MS * 1.25), maxNodes: options.maxNodes ?? DEFAULT_MAX_NODES });
  const unsubscribe = transport.subscribe(subject, (message) => {
    const decoded = decodeHeartbeat(message.data);
    if (decoded.ok) table.observe(decoded.heartbeat, clock.now());
    else options.onInvalid?.(decoded.detail, message.data);
  });
  try {
    // The wait starts once the server knows about the subscription, so it covers `waitMs` of heartbeats.
    await transport.flush();
    await new Promise<void>((resolve) => clock.setTimeout(resolve, waitMs));
  } finally {
    unsubscribe();
  }
  table.settle(clock.now());
  return table.list({ announcedLeaving: false });
}
