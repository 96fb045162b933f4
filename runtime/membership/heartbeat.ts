import { validateToken } from "../address.js";
import { NodeHeartbeat } from "../codec/wire-types.js";

/** One `troupe.membership.NodeHeartbeat`, as checked plain data (see proto/troupe/membership.proto). */
export interface Heartbeat {
  readonly node: string;
  readonly incarnation: string;
  /** When this incarnation started, ms since the Unix epoch by the sender's clock. */
  readonly startedAtMs: number;
  readonly kinds: readonly string[];
  readonly actorCount: number;
  /** The sender's heartbeat interval; 0 when it did not say. */
  readonly intervalMs: number;
  readonly leaving: boolean;
}

export type DecodedHeartbeat = { readonly ok: true; readonly heartbeat: Heartbeat } | { readonly ok: false; readonly detail: string };

export function encodeHeartbeat(heartbeat: Heartbeat): Uint8Array {
  return NodeHeartbeat.encode({ ...heartbeat, kinds: [...heartbeat.kinds] }).finish();
}

/**
 * Decodes and checks a heartbeat. Anyone with publish rights on the subject can put bytes there, so
 * this never throws: garbage comes back as `{ ok: false, detail }` for the caller to report.
 */
export function decodeHeartbeat(bytes: Uint8Array): DecodedHeartbeat {
  let m: ReturnType<typeof NodeHeartbeat.decode>;
  try {
    m = NodeHeartbeat.decode(bytes);
  } catch (error) {
    return { ok: false, detail: `not a troupe.membership.NodeHeartbeat: ${(error as Error).message}` };
  }
  if (!isNodeId(m.node)) return { ok: false, detail: `heartbeat with invalid node id ${JSON.stringify(m.node.slice(0, 80))}` };
  if (m.incarnation === "") return { ok: false, detail: `heartbeat from node ${m.node} has no incarnation` };
  if (!Number.isFinite(m.startedAtMs)) return { ok: false, detail: `heartbeat from node ${m.node} has started_at_ms ${m.startedAtMs}` };
  return {
    ok: true,
    heartbeat: {
      node: m.node,
      incarnation: m.incarnation,
      startedAtMs: m.startedAtMs,
      kinds: m.kinds,
      actorCount: m.actorCount,
      intervalMs: m.intervalMs,
      leaving: m.leaving,
    },
  };
}

// A heartbeat names a node that others will address, so it must be a valid node id.
function isNodeId(value: string): boolean {
  try {
    validateToken("node id", value);
    return true;
  } catch {
    return false;
  }
}
