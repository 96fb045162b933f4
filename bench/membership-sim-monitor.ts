// The prototype of the membership design proposed in docs/scale.md, as far as the simulation needs it:
// every node sends its heartbeat to its MONITORS successors on a hash ring of its view of the members,
// not to everyone; a monitor that hears nothing from a node for the failure timeout tells
// everybody once (`lost`), and a starting node tells everybody once (`joined`). Both notices carry the
// node's `NodeHeartbeat`, encoded with the runtime's codec.
//
// Left out here (they cost little or nothing in a steady state, which is what is measured): the roster
// a newcomer fetches, the periodic digest that repairs a view that missed a notice, refuting a false
// `lost` about oneself, the direct probe before declaring a loss, monitors spread over NATS servers,
// one notice per loss rather than one per monitor, and checking the notices' senders.
import { randomBytes } from "node:crypto";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Subjects } from "../runtime/index.js";
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from "../runtime/membership/heartbeat.js";
import { DEFAULT_FAILURE_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS } from "../runtime/membership/membership.js";

/** How many peers watch each node. */
export const MONITORS = 3;

/** The prototype's subjects, beside today's heartbeat subject. */
export function monitorSubjects(subjects: Subjects): { readonly heartbeatTo: (node: string) => string; readonly joined: string; readonly lost: string } {
  const base = `${subjects.root}.membership`;
  return { heartbeatTo: (node) => `${base}.to.${node}`, joined: `${base}.joined`, lost: `${base}.lost` };
}

/** A 32-bit FNV-1a hash of a node id: its place on the ring. */
export function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  // murmur3's finalizer, so that ids differing in their last characters land far apart.
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The members on a hash ring: a node's monitors are the MONITORS members after it, so every node
 * monitors exactly MONITORS others (its predecessors), and a join or a loss moves the duty of only
 * MONITORS nodes. (Picking each node's monitors by rendezvous hashing instead gives monitors a Poisson
 * load: at 1,000 nodes about 5% monitor nobody and some monitor 10.)
 */
export class Ring {
  private readonly entries: { readonly hash: number; readonly id: string }[] = [];
  private readonly members = new Set<string>();
  /** Changes on every add and remove, so callers can cache what they computed from the ring. */
  version = 0;

  get size(): number {
    return this.entries.length;
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  add(id: string): void {
    if (this.members.has(id)) return;
    const entry = { hash: hashId(id), id };
    this.entries.splice(this.positionOf(entry), 0, entry);
    this.members.add(id);
    this.version++;
  }

  remove(id: string): void {
    if (!this.members.delete(id)) return;
    this.entries.splice(this.positionOf({ hash: hashId(id), id }), 1);
    this.version++;
  }

  /** The monitors of `id` (a member or not): the MONITORS members after its place, never itself. */
  monitorsOf(id: string): string[] {
    const out: string[] = [];
    const n = this.entries.length;
    let i = this.positionOf({ hash: hashId(id), id });
    for (let seen = 0; seen < n && out.length < MONITORS; seen++, i++) {
      const next = this.entries[i % n]!.id;
      if (next !== id) out.push(next);
    }
    return out;
  }

  /** Where `entry` is or would be: the first place whose entry is not before it (binary search). */
  private positionOf(entry: { readonly hash: number; readonly id: string }): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.entries[mid]!;
      if (e.hash < entry.hash || (e.hash === entry.hash && e.id < entry.id)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

interface Watched {
  beat: Heartbeat;
  lastSeenMs: number;
}

/**
 * The real node's side: its view of the members (from `joined` and `lost` notices), its own monitors
 * (to which it sends its heartbeat), and the nodes it monitors (those whose heartbeats come to it).
 */
export class MonitorNode {
  received = 0;
  refused = 0;
  private readonly view = new Map<string, Heartbeat>();
  private readonly ring = new Ring();
  private readonly watched = new Map<string, Watched>();
  private readonly subjectsOf: ReturnType<typeof monitorSubjects>;
  private readonly bytes: Uint8Array;
  private readonly listeners: ((type: "joined" | "lost", node: string) => void)[] = [];
  private readonly subscriptions: Subscription[] = [];
  private timers: NodeJS.Timeout[] = [];
  private mine: { version: number; ids: string[] } = { version: -1, ids: [] };

  constructor(
    private readonly nc: NatsConnection,
    subjects: Subjects,
    private readonly node: string,
  ) {
    this.subjectsOf = monitorSubjects(subjects);
    this.bytes = encodeHeartbeat({ node, incarnation: randomBytes(8).toString("hex"), startedAtMs: Date.now(), kinds: [], actorCount: 0, intervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS, leaving: false, system: subjects.system });
    this.ring.add(node);
  }

  onEvent(listener: (type: "joined" | "lost", node: string) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    const { heartbeatTo, joined, lost } = this.subjectsOf;
    const guard = (handle: (data: Uint8Array) => void) => (_error: unknown, message: { data: Uint8Array }) => {
      try {
        handle(message.data);
      } catch {
        this.refused++;
      }
    };
    this.subscriptions.push(
      this.nc.subscribe(heartbeatTo(this.node), { callback: guard((data) => this.heartbeat(data)) }),
      this.nc.subscribe(joined, { callback: guard((data) => this.notice(data, "joined")) }),
      this.nc.subscribe(lost, { callback: guard((data) => this.notice(data, "lost")) }),
    );
    this.nc.publish(joined, this.bytes);
    await this.nc.flush();
    const checkMs = Math.min(DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_FAILURE_TIMEOUT_MS / 4);
    this.timers = [setInterval(() => this.beat(), DEFAULT_HEARTBEAT_INTERVAL_MS), setInterval(() => this.check(), checkMs)];
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    for (const subscription of this.subscriptions) subscription.unsubscribe();
  }

  private decode(data: Uint8Array): Heartbeat | undefined {
    const decoded = decodeHeartbeat(data);
    if (!decoded.ok) {
      this.refused++;
      return undefined;
    }
    return decoded.heartbeat;
  }

  private heartbeat(data: Uint8Array): void {
    this.received++;
    const beat = this.decode(data);
    if (!beat || beat.node === this.node) return;
    const known = this.watched.get(beat.node);
    if (known) {
      known.lastSeenMs = performance.now();
      known.beat = beat;
    } else this.watched.set(beat.node, { beat, lastSeenMs: performance.now() });
    if (!this.view.has(beat.node)) this.add(beat);
  }

  private notice(data: Uint8Array, type: "joined" | "lost"): void {
    this.received++;
    const beat = this.decode(data);
    if (!beat || beat.node === this.node) return;
    if (type === "joined") {
      if (this.view.get(beat.node)?.incarnation !== beat.incarnation) this.add(beat);
    } else if (this.view.get(beat.node)?.incarnation === beat.incarnation) this.remove(beat.node);
  }

  private add(beat: Heartbeat): void {
    this.view.set(beat.node, beat);
    this.ring.add(beat.node);
    this.emit("joined", beat.node);
  }

  private remove(node: string): void {
    this.view.delete(node);
    this.ring.remove(node);
    this.watched.delete(node);
    this.emit("lost", node);
  }

  private beat(): void {
    if (this.mine.version !== this.ring.version) this.mine = { version: this.ring.version, ids: this.ring.monitorsOf(this.node) };
    for (const monitor of this.mine.ids) this.nc.publish(this.subjectsOf.heartbeatTo(monitor), this.bytes);
  }

  private check(): void {
    const now = performance.now();
    for (const [node, watched] of this.watched) {
      if (now - watched.lastSeenMs <= DEFAULT_FAILURE_TIMEOUT_MS) continue;
      this.watched.delete(node);
      // A node that has other monitors since (nodes joined between us on the ring) stopped sending here: not a loss.
      if (!this.view.has(node) || !this.ring.monitorsOf(node).includes(this.node)) continue;
      this.nc.publish(this.subjectsOf.lost, encodeHeartbeat(watched.beat));
      this.remove(node);
    }
  }

  private emit(type: "joined" | "lost", node: string): void {
    for (const listener of this.listeners) listener(type, node);
  }
}

/**
 * The simulated members' side: each member's monitors on the ring of all members (the real node
 * included), as every view converges to. A stopped member whose monitors are all simulated is
 * announced `lost` by them when the first would notice: the failure timeout after its last heartbeat,
 * plus up to one check period. One that the real node monitors is left to the real node to detect.
 */
export class SimulatedMonitors {
  private readonly ring = new Ring();
  private readonly cached = new Map<string, { version: number; ids: string[] }>();
  private readonly lastSentMs = new Map<string, number>();
  /** Bumped when a member (re)starts, so that a loss scheduled for its previous run leaves it be. */
  private readonly runs = new Map<string, number>();
  private readonly subjectsOf: ReturnType<typeof monitorSubjects>;

  constructor(
    private readonly nc: NatsConnection,
    subjects: Subjects,
    private readonly realNode: string,
  ) {
    this.subjectsOf = monitorSubjects(subjects);
    this.ring.add(realNode);
  }

  joined(node: string, bytes: Uint8Array): void {
    this.ring.add(node);
    this.runs.set(node, (this.runs.get(node) ?? 0) + 1);
    this.nc.publish(this.subjectsOf.joined, bytes);
  }

  heartbeat(node: string, bytes: Uint8Array): void {
    this.lastSentMs.set(node, performance.now());
    for (const monitor of this.monitorsOf(node)) this.nc.publish(this.subjectsOf.heartbeatTo(monitor), bytes);
  }

  /** Whether the real node is one of `node`'s monitors. */
  watchedByReal(node: string): boolean {
    return this.monitorsOf(node).includes(this.realNode);
  }

  stopped(node: string, bytes: Uint8Array): void {
    const byReal = this.watchedByReal(node);
    const run = this.runs.get(node);
    const lastMs = this.lastSentMs.get(node) ?? performance.now();
    this.lastSentMs.delete(node);
    this.cached.delete(node);
    const checkMs = Math.min(DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_FAILURE_TIMEOUT_MS / 4);
    const noticedInMs = lastMs + DEFAULT_FAILURE_TIMEOUT_MS + Math.random() * checkMs - performance.now();
    setTimeout(() => {
      if (!byReal) this.nc.publish(this.subjectsOf.lost, bytes);
      // Everyone learns of the loss now: those it monitored move on to the next monitor.
      if (this.runs.get(node) === run) this.ring.remove(node);
    }, Math.max(0, noticedInMs));
  }

  private monitorsOf(node: string): string[] {
    let cached = this.cached.get(node);
    if (cached?.version !== this.ring.version) this.cached.set(node, (cached = { version: this.ring.version, ids: this.ring.monitorsOf(node) }));
    return cached.ids;
  }
}
