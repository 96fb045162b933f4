import { validateToken } from "../address.js";
import { NodeHeartbeat } from "../codec/wire-types.js";
import { isKindName } from "../kind-name.js";
import type { HeartbeatRefusal } from "./heartbeat-refusal.js";

/** One `troupe.membership.NodeHeartbeat`, as checked plain data (see proto/troupe/membership.proto). */
export interface Heartbeat {
  readonly node: string;
  readonly incarnation: string;
  /** When this incarnation started, ms since the Unix epoch by the sender's clock. */
  readonly startedAtMs: number;
  readonly kinds: readonly string[];
  readonly actorCount: number;
  /** The sender's heartbeat interval, for information only: observers judge by their own; 0 when it did not say. */
  readonly intervalMs: number;
  readonly leaving: boolean;
  /** The sender's system; empty (or absent) from nodes that do not say. */
  readonly system?: string;
  /** The id of the NATS server the sender is connected to (ring membership); empty when unknown. */
  readonly server?: string;
}

/** Most kinds one heartbeat may list, by default. */
export const DEFAULT_MAX_KINDS_PER_NODE = 256;

export type DecodedHeartbeat =
  | { readonly ok: true; readonly heartbeat: Heartbeat }
  | { readonly ok: false; readonly reason: HeartbeatRefusal; readonly detail: string };

export function encodeHeartbeat(heartbeat: Heartbeat): Uint8Array {
  return NodeHeartbeat.encode({ ...heartbeat, kinds: [...heartbeat.kinds] }).finish();
}

export interface HeartbeatChecks {
  /** Refuse heartbeats of another system (those that name none pass). */
  readonly system?: string;
  /** Default `DEFAULT_MAX_KINDS_PER_NODE` (256). */
  readonly maxKinds?: number;
}

/**
 * Decodes and checks a heartbeat. Anyone with publish rights on the subject can put bytes there, so
 * this never throws: garbage comes back as `{ ok: false, reason, detail }` for the caller to count.
 */
export function decodeHeartbeat(bytes: Uint8Array, checks: HeartbeatChecks = {}): DecodedHeartbeat {
  let m: ReturnType<typeof NodeHeartbeat.decode>;
  try {
    m = NodeHeartbeat.decode(bytes);
  } catch (error) {
    return { ok: false, reason: "malformed", detail: `not a troupe.membership.NodeHeartbeat: ${(error as Error).message}` };
  }
  return checkHeartbeat(m, checks);
}

/** The longest NATS server name or id a heartbeat may carry. */
export const MAX_SERVER_CHARS = 128;

/** Checks a decoded `NodeHeartbeat` (alone, or carried by a `MembershipChange`) as `decodeHeartbeat` does. */
export function checkHeartbeat(m: ReturnType<typeof NodeHeartbeat.decode>, checks: HeartbeatChecks = {}): DecodedHeartbeat {
  if (!isNodeId(m.node)) return { ok: false, reason: "malformed", detail: `heartbeat with invalid node id ${JSON.stringify(m.node.slice(0, 80))}` };
  if (m.incarnation === "") return { ok: false, reason: "malformed", detail: `heartbeat from node ${m.node} has no incarnation` };
  if (m.incarnation.length > 64) return { ok: false, reason: "malformed", detail: `heartbeat from node ${m.node} has an incarnation of ${m.incarnation.length} characters (at most 64)` };
  // A NATS server's id is 56 characters, a configured server name rarely more: what a view, the ring and
  // roster pages keep per node stays small whatever a forged notice carries.
  if (m.server.length > MAX_SERVER_CHARS) return { ok: false, reason: "malformed", detail: `heartbeat from node ${m.node} names a server of ${m.server.length} characters (at most ${MAX_SERVER_CHARS})` };
  if (!Number.isFinite(m.startedAtMs)) return { ok: false, reason: "malformed", detail: `heartbeat from node ${m.node} has started_at_ms ${m.startedAtMs}` };
  if (checks.system !== undefined && m.system !== "" && m.system !== checks.system) {
    return { ok: false, reason: "foreign-system", detail: `heartbeat from node ${m.node} of system ${JSON.stringify(m.system.slice(0, 80))}, not ${checks.system}` };
  }
  const maxKinds = checks.maxKinds ?? DEFAULT_MAX_KINDS_PER_NODE;
  if (m.kinds.length > maxKinds) return { ok: false, reason: "kinds-over-limit", detail: `heartbeat from node ${m.node} lists ${m.kinds.length} kinds (maxKindsPerNode ${maxKinds})` };
  const invalid = m.kinds.find((kind) => !isKindName(kind));
  if (invalid !== undefined) return { ok: false, reason: "invalid-kind", detail: `heartbeat from node ${m.node} lists an invalid kind ${JSON.stringify(invalid.slice(0, 80))}` };
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
      system: m.system,
      ...(m.server !== "" && { server: m.server }),
    },
  };
}

/** Whether `value` is a valid node id (one NATS token): what membership messages name, others will address. */
export function isNodeId(value: string): boolean {
  try {
    validateToken("node id", value);
    return true;
  } catch {
    return false;
  }
}
