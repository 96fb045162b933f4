import type { Heartbeat } from "./heartbeat.js";
import type { NodeInfo } from "./node-table.js";

/**
 * A heartbeat's node as one observer records it at `nowMs` (not itself), its kinds copied; with
 * `server` when given (views differ on whether an unknown server is "" or absent).
 */
export function infoOf(beat: Heartbeat, nowMs: number, server?: string): NodeInfo {
  return { node: beat.node, incarnation: beat.incarnation, startedAtMs: beat.startedAtMs, kinds: [...beat.kinds], actorCount: beat.actorCount, lastSeenMs: nowMs, self: false, ...(server !== undefined && { server }) };
}

/** A node (of a roster or a view) as the heartbeat a notice or a roster page carries. */
export function heartbeatOf(info: NodeInfo, system: string): Heartbeat {
  return { node: info.node, incarnation: info.incarnation, startedAtMs: info.startedAtMs, kinds: info.kinds, actorCount: info.actorCount, intervalMs: 0, leaving: false, system, server: info.server ?? "" };
}

/** A copy callers may keep: a view's entries stay its own. */
export function copyInfo(info: NodeInfo): NodeInfo {
  return { ...info, kinds: [...info.kinds] };
}

/** Whether run `a` of a node started before run `b`. Ties (same start time) are broken by incarnation, so that every observer picks the same run. */
export function startedBefore(a: Pick<NodeInfo, "startedAtMs" | "incarnation">, b: Pick<NodeInfo, "startedAtMs" | "incarnation">): boolean {
  return a.startedAtMs < b.startedAtMs || (a.startedAtMs === b.startedAtMs && a.incarnation < b.incarnation);
}
