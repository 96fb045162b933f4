// The simulated members' side of ring membership (runtime/membership/ring-membership.ts, docs/scale.md)
// in the membership simulation (bench/membership-sim.ts), with the runtime's own code: the `Ring` that
// picks each member's monitors, the `MembershipChange` and `MembershipDigest` codecs, and
// `serveRoster`. One process speaks for every simulated member over one connection opened with
// `noEcho`, so that its wildcard subscription to `membership.to.*` receives only what the real node
// sends (its heartbeats, probes, digests and notices), not the members' heartbeats to each other.
//
// What a member does here, as a RingMembership would: announce `joined` on start and `left` on a
// graceful stop; send its heartbeat to its monitors; answer probes while it runs; re-announce itself
// when told it is not in a view; and, as a member that monitors a crashed one, announce it `lost` (the
// nearest monitor, when the runtime's would: the failure timeout after its last heartbeat plus up to
// one check period). A crashed member that the real node monitors is left to the real node. The
// roster is served as one member (`answerer`) would serve it, and that member sends its digest to the
// real node every repair interval (each member sends one to a random peer that often, so the real node
// gets about one). Left out: the members' own failure detection of one another (nothing crashes that
// the driver does not crash) and their repairs (counted instead: `digestsFromReal`).
import type { Subjects } from "../runtime/index.js";
import { decodeHeartbeat, type Heartbeat } from "../runtime/membership/heartbeat.js";
import { DEFAULT_FAILURE_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS } from "../runtime/membership/membership.js";
import type { NodeInfo } from "../runtime/membership/node-table.js";
import { DEFAULT_REPAIR_INTERVAL_MS } from "../runtime/membership/ring-membership.js";
import { decodeChange, decodeDigest, encodeChange, encodeDigest, kindOfDirect, memberHash, xorHex } from "../runtime/membership/ring-messages.js";
import { Ring } from "../runtime/membership/ring.js";
import { serveRoster } from "../runtime/membership/roster.js";
import type { InboundMessage, Transport, Unsubscribe } from "../runtime/transport/transport.js";

/** How often a monitor checks for silence (RingMembership.checkPeriodMs with the defaults). */
const CHECK_PERIOD_MS = Math.min(DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_FAILURE_TIMEOUT_MS / 4);

/** What the members' side saw of the real node, for the driver's log. */
export interface RingCounts {
  heartbeatsFromReal: number;
  probesAnswered: number;
  /** Probes of a member that is stopped: left unanswered, as a dead process would. */
  probesUnanswered: number;
  digestsToReal: number;
  /** The real node's digests, compared with the members' view. */
  digestsSame: number;
  digestsDiffer: number;
  /** Roster requests on the queue subject (start-up reads) and on `<roster>.<answerer>` (repairs). */
  rosterGroup: number;
  rosterDirect: number;
  /** Requests on any other `<roster>.…` subject: nobody serves them. */
  rosterOther: number;
  lostAnnounced: number;
  /** The real node's `lost` notices, and those about a member that runs (false losses, refuted). */
  lostFromReal: number;
  refuted: number;
}

export class SimulatedRing {
  readonly counts: RingCounts = { heartbeatsFromReal: 0, probesAnswered: 0, probesUnanswered: 0, digestsToReal: 0, digestsSame: 0, digestsDiffer: 0, rosterGroup: 0, rosterDirect: 0, rosterOther: 0, lostAnnounced: 0, lostFromReal: 0, refuted: 0 };
  private readonly ring = new Ring();
  /** The members' common view: every member not yet known to be gone, the real node once seen. */
  private readonly view = new Map<string, Heartbeat>();
  /** The members that run, with their encoded heartbeat and when they last sent it. */
  private readonly running = new Map<string, { readonly bytes: Uint8Array; lastSentMs: number }>();
  private xorHigh = 0;
  private xorLow = 0;
  private roster: NodeInfo[] | undefined;
  private readonly unsubscribes: Unsubscribe[] = [];
  private digestTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly transport: Transport,
    private readonly subjects: Subjects,
    private readonly realNode: string,
    /** The member that answers roster requests and sends its digest to the real node. */
    private readonly answerer: string,
  ) {}

  start(): void {
    const { transport, subjects } = this;
    const to = subjects.membershipTo("");
    this.unsubscribes.push(
      transport.subscribe(`${to}*`, (message) => this.onDirect(message, message.subject.slice(to.length))),
      transport.subscribe(subjects.membershipChanges, (message) => this.onChange(message.data)),
      serveRoster({ transport, subject: subjects.membershipRoster, system: subjects.system, nodeId: this.answerer, nodes: () => (this.roster ??= [...this.view.values()].map(infoOf).sort((a, b) => (a.node < b.node ? -1 : 1))) }),
      // Counted apart: a plain subscription also gets what the queue group hands to another member.
      transport.subscribe(subjects.membershipRoster, () => this.counts.rosterGroup++),
      transport.subscribe(`${subjects.membershipRoster}.>`, (message) => {
        if (message.subject === `${subjects.membershipRoster}.${this.answerer}`) this.counts.rosterDirect++;
        else this.counts.rosterOther++;
      }),
    );
    this.digestTimer = setInterval(() => this.sendDigest(), DEFAULT_REPAIR_INTERVAL_MS);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.digestTimer);
    for (const unsubscribe of this.unsubscribes) unsubscribe();
  }

  /** A member starts: it joins the view and announces itself. */
  joined(beat: Heartbeat, bytes: Uint8Array): void {
    this.put(beat);
    this.running.set(beat.node, { bytes, lastSentMs: performance.now() });
    this.publish(this.subjects.membershipChanges, encodeChange("joined", beat, beat.node, this.subjects.system));
  }

  /** A member's heartbeat, to each of its monitors. */
  heartbeat(node: string, bytes: Uint8Array): void {
    const member = this.running.get(node);
    if (member) member.lastSentMs = performance.now();
    for (const monitor of this.ring.monitorsOf(node)) this.publish(this.subjects.membershipTo(monitor), bytes);
  }

  /** A member stops gracefully: it says so, and everyone drops it. */
  left(node: string): void {
    const beat = this.view.get(node);
    this.running.delete(node);
    if (!beat) return;
    this.publish(this.subjects.membershipChanges, encodeChange("left", beat, node, this.subjects.system));
    this.drop(node);
  }

  /**
   * A member crashes (stops silently). Its nearest monitor, when simulated, announces it lost when the
   * runtime's would; when the real node is one of its monitors, the real node must find it itself.
   */
  crashed(node: string): void {
    const beat = this.view.get(node);
    const member = this.running.get(node);
    this.running.delete(node);
    if (!beat || !member) return;
    const monitors = this.ring.monitorsOf(node);
    if (monitors.includes(this.realNode)) return;
    const noticedInMs = member.lastSentMs + DEFAULT_FAILURE_TIMEOUT_MS + Math.random() * CHECK_PERIOD_MS - performance.now();
    setTimeout(() => {
      // Restarted meanwhile, or already announced: nothing to say.
      if (this.view.get(node)?.incarnation !== beat.incarnation || this.running.has(node)) return;
      const reporter = this.ring.monitorsOf(node)[0] ?? monitors[0]!;
      this.publish(this.subjects.membershipChanges, encodeChange("lost", beat, reporter, this.subjects.system));
      this.counts.lostAnnounced++;
      this.drop(node);
    }, Math.max(0, noticedInMs));
  }

  /** The real node's rank among `node`'s monitors (0: nearest), or -1 when it is not one. */
  realRank(node: string): number {
    return this.ring.monitorsOf(node).indexOf(this.realNode);
  }

  get realSeen(): boolean {
    return this.view.has(this.realNode);
  }

  // ---- from the real node ----

  private onDirect(message: InboundMessage, target: string): void {
    const kind = kindOfDirect(message.data);
    if (kind === "digest") {
      const digest = decodeDigest(message.data, this.subjects.system);
      if (!digest.ok) return;
      if (digest.value.count === this.view.size && digest.value.xor === xorHex(this.xorHigh, this.xorLow)) this.counts.digestsSame++;
      else this.counts.digestsDiffer++;
      return;
    }
    if (kind === "change") {
      // "You are not in my view": a running member announces itself again.
      const change = decodeChange(message.data, { system: this.subjects.system });
      if (change.ok && change.value.kind === "lost" && change.value.node.node === target) this.refute(target, change.value.node.incarnation);
      return;
    }
    const beat = decodeHeartbeat(message.data, { system: this.subjects.system });
    if (!beat.ok) return;
    if (message.reply === undefined) {
      this.counts.heartbeatsFromReal++;
      return;
    }
    const member = this.running.get(target);
    if (!member) {
      this.counts.probesUnanswered++;
      return;
    }
    this.counts.probesAnswered++;
    this.publish(message.reply, member.bytes);
  }

  private onChange(bytes: Uint8Array): void {
    const decoded = decodeChange(bytes, { system: this.subjects.system });
    if (!decoded.ok) return;
    const { kind, node } = decoded.value;
    if (node.node === this.realNode) {
      if (kind === "joined") this.put(node);
      else this.drop(node.node);
      return;
    }
    if (kind !== "lost") return;
    this.counts.lostFromReal++;
    if (this.running.has(node.node)) this.refute(node.node, node.incarnation);
    else if (this.view.get(node.node)?.incarnation === node.incarnation) this.drop(node.node);
  }

  private refute(node: string, incarnation: string): void {
    const beat = this.view.get(node);
    if (!this.running.has(node) || beat?.incarnation !== incarnation) return;
    this.counts.refuted++;
    this.publish(this.subjects.membershipChanges, encodeChange("joined", beat, node, this.subjects.system));
  }

  private sendDigest(): void {
    if (!this.running.has(this.answerer) || !this.view.has(this.realNode)) return;
    this.counts.digestsToReal++;
    const digest = { node: this.answerer, count: this.view.size, xor: xorHex(this.xorHigh, this.xorLow) };
    this.publish(this.subjects.membershipTo(this.realNode), encodeDigest(digest, this.subjects.system));
  }

  // ---- the view ----

  private put(beat: Heartbeat): void {
    const known = this.view.get(beat.node);
    if (known) this.toggle(known);
    this.view.set(beat.node, beat);
    this.toggle(beat);
    this.ring.set(beat.node, beat.server ?? "");
    this.roster = undefined;
  }

  private drop(node: string): void {
    const known = this.view.get(node);
    if (!known) return;
    this.toggle(known);
    this.view.delete(node);
    this.ring.remove(node);
    this.roster = undefined;
  }

  /** XORs a member in or out of the digest (RingView's, over the same `memberHash`). */
  private toggle(beat: Heartbeat): void {
    const [high, low] = memberHash(beat.node, beat.incarnation, beat.kinds);
    this.xorHigh = (this.xorHigh ^ high) >>> 0;
    this.xorLow = (this.xorLow ^ low) >>> 0;
  }

  private publish(subject: string, bytes: Uint8Array): void {
    if (this.stopped) return;
    this.transport.publish(subject, bytes);
  }
}

function infoOf(beat: Heartbeat): NodeInfo {
  return { node: beat.node, incarnation: beat.incarnation, startedAtMs: beat.startedAtMs, kinds: [...beat.kinds], actorCount: beat.actorCount, lastSeenMs: Date.now(), self: false, ...(beat.server && { server: beat.server }) };
}
