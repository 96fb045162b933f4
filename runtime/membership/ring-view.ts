import type { Heartbeat } from "./heartbeat.js";
import { refutedClaim, type HeartbeatRefusal } from "./heartbeat-refusal.js";
import { copyInfo, infoOf, startedBefore } from "./node-info.js";
import { byNode, sameKinds, type MembershipEvent, type NodeInfo } from "./node-table.js";
import { Ring } from "./ring.js";
import { memberHash } from "./ring-messages.js";

/** What a change did to the view: its events, or why it was refused. */
export interface ViewChange {
  readonly events: MembershipEvent[];
  readonly refused?: { readonly reason: HeartbeatRefusal; readonly detail: string };
  /** A known node announced other kinds (or another server) than before. */
  readonly changed?: true;
}

export interface RingViewOptions {
  readonly self: string;
  /** Most other nodes in the view; further ones are refused. */
  readonly maxNodes: number;
  /** How long a claimed restart or leave waits for the node itself to refute it. */
  readonly silenceMs: number;
  /** How long a removed incarnation is remembered, so that a roster read later does not bring it back. */
  readonly tombstoneMs: number;
}

interface Entry {
  info: NodeInfo;
  /** Another incarnation claims the id: believed at `dueMs` unless the known one refutes it first. */
  successor?: NodeInfo;
  /** The node said it is leaving (`left`), or a monitor said it is lost: so at `dueMs` unless it refutes that first. */
  leaving?: "left" | "lost";
  dueMs?: number;
}

const NO_CHANGE: ViewChange = { events: [] };

/**
 * One node's roster under ring membership (docs/scale.md): every member's id, incarnation, start,
 * kinds and NATS server, from `joined`, `left` and `lost` notices and rosters, with the ring over them
 * (this node included) and the running XOR of the digest. Pure bookkeeping: the caller brings the
 * time and passes the events on.
 *
 * Anyone on the changes subject can claim anything, so a claimed restart (a newer incarnation) or a
 * leave takes effect only after `silenceMs`, and the node's own `joined` (same incarnation) in the
 * meantime refutes it: a live node reads the claim too, and answers it at once.
 */
export class RingView {
  readonly ring = new Ring();
  private readonly entries = new Map<string, Entry>();
  /** The nodes with a claim waiting: few, so settling costs nothing per member. */
  private readonly claimed = new Set<string>();
  private readonly tombstones = new Map<string, { readonly incarnation: string; readonly untilMs: number }>();
  private xorHigh = 0;
  private xorLow = 0;

  constructor(private readonly options: RingViewOptions) {}

  /** Places this node on the ring (again, after `clear`), on `server`. */
  placeSelf(server: string): void {
    this.ring.set(this.options.self, server);
  }

  has(node: string): boolean {
    return this.entries.has(node);
  }

  get(node: string): NodeInfo | undefined {
    return this.entries.get(node)?.info;
  }

  /** Whether `incarnation` is the known one of `node` or a claimed successor waiting. */
  knows(node: string, incarnation: string): boolean {
    const entry = this.entries.get(node);
    return entry !== undefined && (entry.info.incarnation === incarnation || entry.successor?.incarnation === incarnation);
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  list(): NodeInfo[] {
    return [...this.entries.values()].map((e) => copyInfo(e.info)).sort(byNode);
  }

  /** The digest's count and XOR, this node (announcing `selfKinds` as `selfIncarnation`) included. */
  digest(selfIncarnation: string, selfKinds: readonly string[]): { readonly count: number; readonly high: number; readonly low: number } {
    const [high, low] = memberHash(this.options.self, selfIncarnation, selfKinds);
    return { count: this.entries.size + 1, high: (this.xorHigh ^ high) >>> 0, low: (this.xorLow ^ low) >>> 0 };
  }

  /** A node announced itself (started, changed kinds or server, or refuted a loss). */
  joined(beat: Heartbeat, nowMs: number): ViewChange {
    const info = infoOf(beat, nowMs, beat.server ?? "");
    const known = this.entries.get(beat.node);
    if (!known) {
      if (this.entries.size >= this.options.maxNodes) {
        return { events: [], refused: { reason: "nodes-over-limit", detail: `node ${beat.node} refused: the view holds maxNodes (${this.options.maxNodes}) nodes already` } };
      }
      this.put(info);
      this.tombstones.delete(beat.node);
      return { events: [{ type: "joined", node: copyInfo(info) }] };
    }
    if (known.info.incarnation === beat.incarnation) {
      const changed = !sameKinds(known.info.kinds, info.kinds) || (known.info.server ?? "") !== (info.server ?? "");
      const refused = refutedClaim(beat, known, "announced itself again");
      known.successor = undefined;
      known.leaving = undefined;
      known.dueMs = undefined;
      this.claimed.delete(beat.node);
      this.replace(known, info);
      if (refused) return { events: [], refused, ...(changed && { changed }) };
      return changed ? { events: [], changed } : NO_CHANGE;
    }
    // An older run (a zombie) never replaces a newer one, so that every view settles on the same run.
    if (startedBefore(info, known.info)) {
      return { events: [], refused: { reason: "incarnation-conflict", detail: `node ${beat.node}: incarnation ${beat.incarnation}, which started before the known ${known.info.incarnation}, ignored` } };
    }
    known.successor = info;
    known.leaving = undefined;
    known.dueMs ??= nowMs + this.options.silenceMs;
    this.claimed.add(beat.node);
    return NO_CHANGE;
  }

  /**
   * Records the server a known node's heartbeat names, when the view did not know it (a roster without
   * servers); a node that moves to another server announces itself again instead.
   */
  learnServer(node: string, incarnation: string, server: string): void {
    const known = this.entries.get(node);
    if (server === "" || known?.info.incarnation !== incarnation || (known.info.server ?? "") !== "") return;
    known.info = { ...known.info, server };
    this.ring.set(node, server);
  }

  /**
   * A node said it is leaving (`left`), or one of its monitors said it is lost and this node cannot
   * judge (it does not monitor it): believed after `waitMs` (default `silenceMs`) unless the node
   * announces itself again before.
   */
  leaving(node: string, incarnation: string, nowMs: number, as: "left" | "lost" = "left", waitMs = this.options.silenceMs): void {
    const known = this.entries.get(node);
    // Unknown here (a roster read at start has not brought it in yet): remembered, so that the roster
    // does not add a node that has left.
    if (!known) return this.tombstone(node, incarnation, nowMs);
    if (known.info.incarnation !== incarnation || known.leaving) return;
    known.leaving = as;
    known.successor = undefined;
    known.dueMs = nowMs + waitMs;
    this.claimed.add(node);
  }

  /** Removes `node` if `incarnation` is the known one: `lost` (or `left`) with its last info. */
  remove(node: string, incarnation: string, type: "lost" | "left", nowMs: number): MembershipEvent[] {
    const known = this.entries.get(node);
    if (known?.info.incarnation !== incarnation) {
      if (!known) this.tombstone(node, incarnation, nowMs);
      return [];
    }
    this.drop(known.info, nowMs);
    return [{ type, node: copyInfo(known.info) }];
  }

  /** Whether a roster's `node` is an incarnation removed here lately (so it is not brought back). */
  removedLately(node: string, incarnation: string, nowMs: number): boolean {
    const stone = this.tombstones.get(node);
    return stone !== undefined && stone.incarnation === incarnation && stone.untilMs > nowMs;
  }

  /** The earliest claim waiting, or undefined. */
  nextDueMs(): number | undefined {
    let due: number | undefined;
    for (const node of this.claimed) {
      const dueMs = this.entries.get(node)?.dueMs;
      if (dueMs !== undefined && (due === undefined || dueMs < due)) due = dueMs;
    }
    return due;
  }

  /** Believes the claimed restarts and leaves that nobody refuted in time. */
  settle(nowMs: number): MembershipEvent[] {
    const events: MembershipEvent[] = [];
    for (const node of [...this.claimed]) {
      const entry = this.entries.get(node);
      if (entry?.dueMs === undefined) {
        this.claimed.delete(node);
        continue;
      }
      if (entry.dueMs > nowMs) continue;
      this.claimed.delete(node);
      if (entry.leaving) {
        this.drop(entry.info, nowMs);
        events.push({ type: entry.leaving, node: copyInfo(entry.info) });
      } else if (entry.successor) {
        const previousIncarnation = entry.info.incarnation;
        const successor = entry.successor;
        entry.successor = undefined;
        entry.dueMs = undefined;
        this.replace(entry, successor);
        events.push({ type: "restarted", node: copyInfo(successor), previousIncarnation });
      } else entry.dueMs = undefined;
    }
    return events;
  }

  clear(): void {
    for (const node of this.entries.keys()) this.ring.remove(node);
    this.ring.remove(this.options.self);
    this.entries.clear();
    this.claimed.clear();
    this.tombstones.clear();
    this.xorHigh = this.xorLow = 0;
  }

  private put(info: NodeInfo): void {
    this.entries.set(info.node, { info });
    this.ring.set(info.node, info.server ?? "");
    this.xorIn(info);
  }

  private replace(entry: Entry, info: NodeInfo): void {
    this.xorIn(entry.info);
    entry.info = info;
    this.xorIn(info);
    this.ring.set(info.node, info.server ?? "");
  }

  private drop(info: NodeInfo, nowMs: number): void {
    this.entries.delete(info.node);
    this.claimed.delete(info.node);
    this.ring.remove(info.node);
    this.xorIn(info);
    this.tombstone(info.node, info.incarnation, nowMs);
  }

  private tombstone(node: string, incarnation: string, nowMs: number): void {
    // Bounded: the oldest goes first (a Map iterates in insertion order).
    this.tombstones.delete(node);
    if (this.tombstones.size >= this.options.maxNodes) this.tombstones.delete(this.tombstones.keys().next().value!);
    this.tombstones.set(node, { incarnation, untilMs: nowMs + this.options.tombstoneMs });
  }

  // XOR is its own inverse: the same call adds a member's share and takes it out.
  private xorIn(info: NodeInfo): void {
    const [high, low] = memberHash(info.node, info.incarnation, info.kinds);
    this.xorHigh = (this.xorHigh ^ high) >>> 0;
    this.xorLow = (this.xorLow ^ low) >>> 0;
  }
}
