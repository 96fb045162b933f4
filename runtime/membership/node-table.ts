import type { Heartbeat } from "./heartbeat.js";

/** A live node as one observer sees it. */
export interface NodeInfo {
  readonly node: string;
  /** One run of the node: a restarted process has a new incarnation under the same node id. */
  readonly incarnation: string;
  /** When this incarnation started, ms since the Unix epoch by the node's own clock. */
  readonly startedAtMs: number;
  readonly kinds: string[];
  readonly actorCount: number;
  /** When the observer last heard from the node, by the observer's clock (never compared across machines). */
  readonly lastSeenMs: number;
  /** True for the observing node itself. */
  readonly self: boolean;
}

/** A change in which nodes are alive, as one observer sees it. */
export type MembershipEvent =
  | { readonly type: "joined"; readonly node: NodeInfo }
  /** The node announced that it is shutting down. */
  | { readonly type: "left"; readonly node: NodeInfo }
  /** The node went silent for longer than the failure timeout. */
  | { readonly type: "lost"; readonly node: NodeInfo }
  /** A new run of a node id that was still alive: its previous incarnation is gone, as if lost. */
  | { readonly type: "restarted"; readonly node: NodeInfo; readonly previousIncarnation: string };

interface Entry {
  readonly info: NodeInfo;
  readonly intervalMs: number;
}

/**
 * The other nodes one observer knows to be alive, and the rules for how heartbeats and silence change
 * that. Pure bookkeeping: the caller supplies the time and passes the returned events on.
 */
export class NodeTable {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly failureTimeoutMs: number) {}

  /** Applies one heartbeat received at `nowMs` and returns the changes it makes, in order. */
  observe(beat: Heartbeat, nowMs: number): MembershipEvent[] {
    const known = this.entries.get(beat.node);
    const info: NodeInfo = {
      node: beat.node,
      incarnation: beat.incarnation,
      startedAtMs: beat.startedAtMs,
      kinds: [...beat.kinds],
      actorCount: beat.actorCount,
      lastSeenMs: nowMs,
      self: false,
    };
    const events: MembershipEvent[] = [];
    if (!known) {
      // Silence from a node that was never seen, or was already lost: nothing to announce.
      if (beat.leaving) return [];
      // This includes a lost node coming back with the same incarnation (a process that was paused,
      // or cut off from NATS, and resumed): it is alive again, so it has joined again.
      this.entries.set(beat.node, { info, intervalMs: beat.intervalMs });
      return [{ type: "joined", node: copy(info) }];
    }
    if (known.info.incarnation !== beat.incarnation) {
      // Two runs of one node id both talking: the later-started one wins, so every observer settles on
      // the same run and a stray zombie of the old run does not flip the node back and forth.
      if (startedBefore(beat, known.info)) return [];
      events.push({ type: "restarted", node: copy(info), previousIncarnation: known.info.incarnation });
    }
    this.entries.set(beat.node, { info, intervalMs: beat.intervalMs });
    if (beat.leaving) {
      this.entries.delete(beat.node);
      events.push({ type: "left", node: copy(info) });
    }
    return events;
  }

  /** Removes the nodes that have been silent for too long at `nowMs` and returns them as `lost`. */
  expire(nowMs: number): MembershipEvent[] {
    const events: MembershipEvent[] = [];
    for (const [node, entry] of this.entries) {
      // A node that heartbeats less often than this observer expects is given two of its own intervals,
      // so that mixed configurations do not report it lost between two heartbeats.
      const timeoutMs = Math.max(this.failureTimeoutMs, 2 * entry.intervalMs);
      if (nowMs - entry.info.lastSeenMs > timeoutMs) {
        this.entries.delete(node);
        events.push({ type: "lost", node: copy(entry.info) });
      }
    }
    return events;
  }

  has(node: string): boolean {
    return this.entries.has(node);
  }

  /** Live nodes, sorted by node id; copies, so callers cannot change the table. */
  list(): NodeInfo[] {
    return [...this.entries.values()].map((e) => copy(e.info)).sort(byNode);
  }

  clear(): void {
    this.entries.clear();
  }
}

export function byNode(a: NodeInfo, b: NodeInfo): number {
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

function copy(info: NodeInfo): NodeInfo {
  return { ...info, kinds: [...info.kinds] };
}

// Ties (same start time) are broken by incarnation, so that every observer picks the same run.
function startedBefore(beat: Heartbeat, known: NodeInfo): boolean {
  return beat.startedAtMs < known.startedAtMs || (beat.startedAtMs === known.startedAtMs && beat.incarnation < known.incarnation);
}
