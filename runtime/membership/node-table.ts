import type { Heartbeat } from "./heartbeat.js";
import { refutedClaim, type HeartbeatRefusal } from "./heartbeat-refusal.js";
import { copyInfo, infoOf, startedBefore } from "./node-info.js";

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
  /** Ring membership: the id of the NATS server the node is connected to ("" or absent when unknown). */
  readonly server?: string;
}

/** A change in which nodes are alive, as one observer sees it. */
export type MembershipEvent =
  | { readonly type: "joined"; readonly node: NodeInfo }
  /** The node announced that it is shutting down, and then stayed silent. */
  | { readonly type: "left"; readonly node: NodeInfo }
  /** The node went silent for longer than the failure timeout. */
  | { readonly type: "lost"; readonly node: NodeInfo }
  /** A new run of a node id that was alive: its previous incarnation fell silent, as if lost. */
  | { readonly type: "restarted"; readonly node: NodeInfo; readonly previousIncarnation: string };

/** What `observe` did with a heartbeat: the changes it made, or why it refused the heartbeat. */
export interface Observation {
  readonly events: MembershipEvent[];
  readonly refused?: { readonly reason: HeartbeatRefusal; readonly detail: string };
  /** A known node's heartbeat listed other kinds than its last one. */
  readonly kindsChanged?: true;
}

export interface NodeTableOptions {
  /** Silence after which a node is lost. */
  readonly failureTimeoutMs: number;
  /**
   * Silence after which a node's incarnation is taken to be gone when another incarnation claims its
   * id, or when it announced it is leaving: this observer's heartbeat interval and a quarter, for jitter.
   */
  readonly silenceMs: number;
  /** Most nodes tracked; heartbeats of further nodes are refused. */
  readonly maxNodes: number;
}

interface Entry {
  info: NodeInfo;
  /** Another incarnation claims this node id: believed once `info`'s incarnation has been silent for `silenceMs`. */
  successor?: NodeInfo;
  /** The node said it is leaving: it has left once silent for `silenceMs` since its last ordinary heartbeat. */
  leaving?: NodeInfo;
}

/**
 * The other nodes one observer knows to be alive, and the rules for how heartbeats and silence change
 * that. Pure bookkeeping: the caller supplies the time, calls `settle` when `nextDueMs` comes, and
 * passes the returned events on.
 *
 * Anyone who can publish on the heartbeat subject can claim anything, so one message never drops a
 * live node: a claimed restart (a new incarnation) or a leave notice takes effect only once the known
 * incarnation has stayed silent for `silenceMs` (a real restart or leave means the old run stopped
 * heartbeating); an ordinary heartbeat of the known incarnation in the meantime refutes the claim.
 * Timing comes from this observer's own settings, never from the heartbeat.
 */
export class NodeTable {
  private readonly entries = new Map<string, Entry>();
  /**
   * The nodes with a claimed restart or leave notice waiting: few, so finding the next one due costs
   * nothing per heartbeat (a walk over every entry did, 62 µs at 10,000 nodes: bench/membership-sim.ts).
   */
  private readonly claimed = new Set<string>();

  constructor(private readonly options: NodeTableOptions) {}

  /** Applies one heartbeat received at `nowMs`. */
  observe(beat: Heartbeat, nowMs: number): Observation {
    const known = this.entries.get(beat.node);
    const info = infoOf(beat, nowMs);
    if (!known) {
      // Silence from a node that was never seen, or was already lost: nothing to announce.
      if (beat.leaving) return { events: [] };
      if (this.entries.size >= this.options.maxNodes) {
        return { events: [], refused: { reason: "nodes-over-limit", detail: `heartbeat from node ${beat.node} refused: already tracking maxNodes (${this.options.maxNodes}) nodes` } };
      }
      // This includes a lost node coming back with the same incarnation (a process that was paused,
      // or cut off from NATS, and resumed): it is alive again, so it has joined again.
      this.entries.set(beat.node, { info });
      return { events: [{ type: "joined", node: copyInfo(info) }] };
    }
    if (known.info.incarnation === beat.incarnation) {
      if (beat.leaving) {
        known.leaving = info;
        this.claimed.add(beat.node);
        return { events: this.settle(nowMs, beat.node) };
      }
      const kindsChanged = !sameKinds(known.info.kinds, info.kinds);
      known.info = info;
      const refused = refutedClaim(beat, { successor: known.successor, leaving: known.leaving && "left" }, "is still heartbeating");
      known.successor = undefined;
      known.leaving = undefined;
      this.claimed.delete(beat.node);
      if (refused) return { events: [], refused, ...(kindsChanged && { kindsChanged }) };
      return kindsChanged ? { events: [], kindsChanged } : { events: [] };
    }
    // Another incarnation under a known id. An older run (a zombie) never replaces a newer one, so that
    // every observer settles on the same run.
    if (startedBefore(beat, known.info)) {
      return { events: [], refused: { reason: "incarnation-conflict", detail: `node ${beat.node}: heartbeat of incarnation ${beat.incarnation}, which started before the known ${known.info.incarnation}, ignored` } };
    }
    if (beat.leaving) {
      // The claimed successor leaving is no longer a successor; anything else about it means nothing.
      if (known.successor?.incarnation === beat.incarnation) known.successor = undefined;
      if (!known.successor && !known.leaving) this.claimed.delete(beat.node);
      return { events: [] };
    }
    known.successor = info;
    this.claimed.add(beat.node);
    return { events: this.settle(nowMs, beat.node) };
  }

  /**
   * Confirms the claimed restarts and leave notices whose known incarnation has now been silent for
   * `silenceMs` (all nodes, or only `only`), and returns the changes.
   */
  settle(nowMs: number, only?: string): MembershipEvent[] {
    const events: MembershipEvent[] = [];
    for (const node of only === undefined ? [...this.claimed] : [only]) {
      const entry = this.entries.get(node);
      if (entry === undefined) continue;
      if (nowMs - entry.info.lastSeenMs < this.options.silenceMs) continue;
      if (entry.leaving) {
        this.entries.delete(node);
        this.claimed.delete(node);
        events.push({ type: "left", node: copyInfo(entry.leaving) });
      } else if (entry.successor) {
        const previousIncarnation = entry.info.incarnation;
        this.entries.set(node, { info: entry.successor });
        this.claimed.delete(node);
        events.push({ type: "restarted", node: copyInfo(entry.successor), previousIncarnation });
      }
    }
    return events;
  }

  /** When `settle` may next have something to confirm, or undefined when nothing waits. */
  nextDueMs(): number | undefined {
    let due: number | undefined;
    for (const node of this.claimed) {
      const entry = this.entries.get(node);
      if (entry === undefined) continue;
      const at = entry.info.lastSeenMs + this.options.silenceMs;
      if (due === undefined || at < due) due = at;
    }
    return due;
  }

  /** Removes the nodes that have been silent for too long at `nowMs` and returns them as `lost`. */
  expire(nowMs: number): MembershipEvent[] {
    // A confirmed restart or leave is reported as such, not as a loss.
    const events = this.settle(nowMs);
    for (const [node, entry] of this.entries) {
      if (nowMs - entry.info.lastSeenMs > this.options.failureTimeoutMs) {
        this.entries.delete(node);
        this.claimed.delete(node);
        events.push({ type: "lost", node: copyInfo(entry.info) });
      }
    }
    return events;
  }

  has(node: string): boolean {
    return this.entries.has(node);
  }

  /** Live nodes, sorted by node id; copies, so callers cannot change the table. `announcedLeaving: false` leaves out those that said they are leaving. */
  list(options: { readonly announcedLeaving?: boolean } = {}): NodeInfo[] {
    const entries = [...this.entries.values()].filter((e) => options.announcedLeaving !== false || e.leaving === undefined);
    return entries.map((e) => copyInfo(e.info)).sort(byNode);
  }

  clear(): void {
    this.entries.clear();
    this.claimed.clear();
  }
}

export function byNode(a: NodeInfo, b: NodeInfo): number {
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

/** Whether two kind lists are the same, in the same order (as nodes announce them). */
export function sameKinds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((kind, i) => kind === b[i]);
}
