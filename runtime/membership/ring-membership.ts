import { randomBytes } from "node:crypto";
import { validateToken } from "../address.js";
import type { TimerHandle } from "../clock.js";
import type { Subjects } from "../subjects.js";
import type { InboundMessage, Unsubscribe } from "../transport/transport.js";
import { decodeHeartbeat, encodeHeartbeat, isNodeId, type Heartbeat } from "./heartbeat.js";
import { RefusalCounter, type HeartbeatRefusal } from "./heartbeat-refusal.js";
import { MembershipListeners } from "./membership-listeners.js";
import { checkCounts, membershipSettings } from "./membership-settings.js";
import { MembershipTimers } from "./membership-timers.js";
import type { MembershipBaseOptions, NodeMembership } from "./node-membership.js";
import { byNode, sameKinds, type MembershipEvent, type NodeInfo } from "./node-table.js";
import { RateWindow } from "./rate-window.js";
import { DigestRepair } from "./digest-repair.js";
import { LossDetector } from "./loss-detector.js";
import { decodeChange, encodeChange, kindOfDirect, type Change } from "./ring-messages.js";
import { heartbeatOf } from "./node-info.js";
import { RingView, type ViewChange } from "./ring-view.js";
import { fetchRoster } from "./roster.js";

const EMPTY = new Uint8Array(0);

/** How long a direct probe of a silent node waits for its answer, by default. */
export const DEFAULT_PROBE_TIMEOUT_MS = 250;
/** How often each node sends its digest to one member picked at random, by default. */
export const DEFAULT_REPAIR_INTERVAL_MS = 10_000;
/** Probes answered, and strangers told they are not in the view, at most per check period. */
export const MAX_ANSWERS_PER_CHECK = 32;
/** How long a removed incarnation is kept from coming back through a roster, by default. */
export const DEFAULT_TOMBSTONE_MS = 60_000;

export interface RingMembershipOptions extends MembershipBaseOptions {
  /** The system's subjects: `membershipTo`, `membershipChanges` and `membershipRoster`. */
  readonly subjects: Subjects;
  /**
   * How long a probe waits for its answer; also the delay between monitors' `lost` notices by rank.
   * Default `DEFAULT_PROBE_TIMEOUT_MS` (250), or an eighth of `failureTimeoutMs` if less; at most half of it.
   */
  readonly probeTimeoutMs?: number;
  /** Default `DEFAULT_REPAIR_INTERVAL_MS` (10,000). */
  readonly repairIntervalMs?: number;
  /** How long the roster read at start (and by a repair) may take. Default: `failureTimeoutMs`. */
  readonly rosterTimeoutMs?: number;
}

/**
 * Which nodes of a system are alive, with heartbeats to a few monitors instead of to everyone
 * (docs/scale.md, "three monitors on a ring"): each node sends its heartbeat every `intervalMs` to its
 * monitors (`membership.to.<monitor>`), the next members after it on a hash ring picked across NATS
 * servers; a monitor that hears nothing for `failureTimeoutMs` (the probe included: it starts
 * `probeTimeoutMs` earlier) probes the node once and, unanswered, tells everybody (`lost` on `membership.changes`), the nearest monitor first and the others only if
 * no notice came. A node announces its start (and any change of kinds or server) as `joined` and its
 * shutdown as `left`, reads the roster from any member at start, and compares digests with a random
 * member every `repairIntervalMs` to repair notices it missed. Same surface and events as
 * `Membership`.
 *
 * Notices are not trusted: `joined` and `left` only from the node itself, and a claimed restart or
 * leave waits `silenceMs` for the node to refute it (it reads the claim too); `lost` only from one of
 * the node's monitors in this view, and never about a node this one monitors and heard lately; a node
 * that reads `lost` about itself announces itself again. Refusals are counted by reason.
 */
export class RingMembership implements NodeMembership {
  readonly incarnation = randomBytes(8).toString("hex");
  readonly intervalMs: number;
  readonly failureTimeoutMs: number;
  /** How long a claimed restart or leave waits for the node to refute it: an interval and a quarter. */
  readonly silenceMs: number;
  readonly maxNodes: number;
  readonly maxKindsPerNode: number;
  readonly probeTimeoutMs: number;
  readonly repairIntervalMs: number;
  private readonly view: RingView;
  private readonly refusals: RefusalCounter;
  private readonly listeners: MembershipListeners;
  /** The timer for the earliest claimed restart or leave, when one waits. */
  private settleTimer: { readonly handle: TimerHandle; readonly dueMs: number } | undefined;
  private readonly timers: MembershipTimers;
  private readonly unsubscribes: Unsubscribe[] = [];
  private state: "new" | "running" | "stopped" = "new";
  private viewVersion = 0;
  private startedAtMs = 0;
  private announced: { kinds: readonly string[]; server: string } = { kinds: [], server: "" };
  private readonly answers: RateWindow;
  private refuteTimer: TimerHandle | undefined;
  private lastRefutedMs = Number.NEGATIVE_INFINITY;
  private readonly loss: LossDetector;
  private readonly repair: DigestRepair;

  constructor(private readonly options: RingMembershipOptions) {
    validateToken("node id", options.nodeId);
    this.listeners = new MembershipListeners(options.clock, options.nodeId);
    this.timers = new MembershipTimers(options.clock, () => this.state === "running");
    ({ intervalMs: this.intervalMs, failureTimeoutMs: this.failureTimeoutMs, silenceMs: this.silenceMs, maxNodes: this.maxNodes, maxKindsPerNode: this.maxKindsPerNode } = membershipSettings(options));
    this.probeTimeoutMs = options.probeTimeoutMs ?? Math.min(DEFAULT_PROBE_TIMEOUT_MS, Math.max(1, Math.floor(this.failureTimeoutMs / 8)));
    if (this.probeTimeoutMs > this.failureTimeoutMs / 2) throw new RangeError(`probeTimeoutMs (${this.probeTimeoutMs}) must be at most half of failureTimeoutMs (${this.failureTimeoutMs})`);
    this.repairIntervalMs = options.repairIntervalMs ?? DEFAULT_REPAIR_INTERVAL_MS;
    checkCounts({ probeTimeoutMs: this.probeTimeoutMs, repairIntervalMs: this.repairIntervalMs });
    this.refusals = new RefusalCounter(options.onInvalid);
    this.view = new RingView({ self: options.nodeId, maxNodes: this.maxNodes, silenceMs: this.silenceMs, tombstoneMs: DEFAULT_TOMBSTONE_MS });
    this.answers = new RateWindow(MAX_ANSWERS_PER_CHECK, this.checkPeriodMs);
    this.loss = new LossDetector({
      nodeId: options.nodeId,
      subjects: options.subjects,
      clock: options.clock,
      view: this.view,
      failureTimeoutMs: this.failureTimeoutMs,
      probeTimeoutMs: this.probeTimeoutMs,
      checkPeriodMs: this.checkPeriodMs,
      running: () => this.state === "running",
      heartbeat: () => this.heartbeat(),
      send: (subject, bytes, reply) => this.send(subject, bytes, reply),
      emit: (events) => this.emit(events),
      after: (delayMs, task) => this.timers.after(delayMs, task),
      cancel: (handle) => this.timers.cancel(handle),
    });
    this.repair = new DigestRepair({
      transport: options.transport,
      subjects: options.subjects,
      nodeId: options.nodeId,
      incarnation: this.incarnation,
      clock: options.clock,
      view: this.view,
      repairIntervalMs: this.repairIntervalMs,
      rosterTimeoutMs: options.rosterTimeoutMs ?? this.failureTimeoutMs,
      maxNodes: this.maxNodes,
      maxKindsPerNode: this.maxKindsPerNode,
      running: () => this.state === "running",
      announcedKinds: () => this.announced.kinds,
      probe: (node) => this.loss.probe(node),
      apply: (change) => this.apply(change, EMPTY),
      emit: (events) => this.emit(events),
      refuse: (reason, detail, bytes) => this.refusals.refuse(reason, detail, bytes),
      send: (subject, bytes) => this.send(subject, bytes),
    });
  }

  get checkPeriodMs(): number {
    return Math.min(this.intervalMs, this.failureTimeoutMs / 4);
  }

  get version(): number {
    return this.viewVersion;
  }

  /** Subscribes, announces this node, reads the roster from a member, and starts heartbeating. */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`membership of node ${this.options.nodeId} was already started`);
    const { transport, subjects, clock, nodeId } = this.options;
    this.state = "running";
    this.viewVersion++;
    this.startedAtMs = clock.now();
    this.loss.reconnected(this.startedAtMs);
    this.view.placeSelf(this.server());
    this.unsubscribes.push(
      transport.subscribe(subjects.membershipTo(nodeId), (message) => this.guard(message, () => this.onDirect(message))),
      transport.subscribe(subjects.membershipChanges, (message) => this.guard(message, () => this.onChange(message.data))),
      transport.onEvent((event) => {
        if (event.type === "closed") this.halt();
        if (event.type === "reconnect") this.loss.reconnected(clock.now());
      }),
    );
    try {
      this.announce();
    } catch (error) {
      this.halt();
      throw error;
    }
    await transport.flush();
    const roster = await fetchRoster(transport, subjects.membershipRoster, {
      system: subjects.system,
      timeoutMs: this.options.rosterTimeoutMs ?? this.failureTimeoutMs,
      maxNodes: this.maxNodes + 1,
      maxKindsPerNode: this.maxKindsPerNode,
      onInvalid: (detail) => this.refusals.refuse("malformed", detail, EMPTY),
      clock,
    });
    if (this.state !== "running") return;
    const now = clock.now();
    // A roster is second-hand and may be older than a notice read meanwhile (a node that announced its
    // kinds, or a new run, after the roster was taken), or forged: it only adds nodes this view lacks,
    // and never replaces an incarnation the view has from the node's own word.
    for (const info of roster?.nodes ?? []) {
      if (info.node !== nodeId && !this.view.has(info.node) && !this.view.removedLately(info.node, info.incarnation, now)) this.apply(this.view.joined(heartbeatOf(info, subjects.system), now), EMPTY);
    }
    this.beat();
    this.timers.every(this.intervalMs, () => this.beat());
    // A check that runs late means this process was stalled: the others' heartbeats still wait to be
    // read, so judging them now would find everyone silent. Skip a round.
    this.timers.every(this.checkPeriodMs, () => this.check(), this.checkPeriodMs);
    this.timers.every(this.repairIntervalMs, () => this.repair.sendDigest());
    await transport.flush();
  }

  /** Announces that this node is leaving, so the others drop it, and stops. */
  async stop(): Promise<void> {
    if (this.state !== "running") return;
    const self = this.heartbeat();
    this.halt();
    try {
      this.options.transport.publish(this.options.subjects.membershipChanges, encodeChange("left", self, this.options.nodeId, this.options.subjects.system));
      await this.options.transport.flush();
    } catch {
      // The transport is already closed: the monitors will notice the silence instead.
    }
  }

  nodes(): NodeInfo[] {
    if (this.state !== "running") return [];
    return [this.selfInfo(), ...this.view.list()].sort(byNode);
  }

  isAlive(node: string): boolean {
    return this.state === "running" && (node === this.options.nodeId || this.view.has(node));
  }

  refused(): Record<HeartbeatRefusal, number> {
    return this.refusals.counts();
  }

  onEvent(listener: (event: MembershipEvent) => void): Unsubscribe {
    return this.listeners.add(listener);
  }

  waitForNode(node: string, timeoutMs: number): Promise<NodeInfo> {
    return this.listeners.waitForNode(this.nodes(), node, timeoutMs);
  }

  /** The nodes this node monitors now (for tests and introspection). */
  monitored(): string[] {
    return [...this.loss.monitoredSince().keys()].sort();
  }

  /** This node's monitors now, nearest first. */
  monitors(): readonly string[] {
    return this.state === "running" ? this.view.ring.monitorsOf(this.options.nodeId) : [];
  }

  // ---- receiving ----

  /** Heartbeats and probes of the nodes this one monitors, digests, and notices meant for it alone. */
  private onDirect(message: InboundMessage): void {
    // No heartbeat, digest or notice is empty: an empty message here is the server's "no responders"
    // status to one of this node's probes (the probed node has no subscription: cut off, or gone).
    // The probe stays unanswered and its timer decides, as for silence.
    if (message.data.length === 0) return;
    const kind = kindOfDirect(message.data);
    if (kind === "digest") return this.repair.onDigest(message.data);
    if (kind === "change") {
      const decoded = decodeChange(message.data, this.checks());
      if (!decoded.ok) return this.refusals.refuse(decoded.reason, decoded.detail, message.data);
      // A monitor heard this node's heartbeats without having it in its view: announce it again.
      const { kind: type, node, reporter } = decoded.value;
      if (type !== "lost" || node.node !== this.options.nodeId || node.incarnation !== this.incarnation) return;
      // Only from a monitor (the only nodes this one heartbeats to): else one unicast from anybody
      // would buy a broadcast to every member.
      if (!this.view.ring.monitorsOf(this.options.nodeId).includes(reporter)) {
        return this.refusals.refuse("not-a-monitor", `"not in my view" notice from ${reporter}, not one of this node's monitors`, EMPTY);
      }
      return this.refuteSoon();
    }
    const decoded = decodeHeartbeat(message.data, this.checks());
    if (!decoded.ok) return this.refusals.refuse(decoded.reason, decoded.detail, message.data);
    const beat = decoded.heartbeat;
    if (message.reply !== undefined) this.answerProbe(message.reply);
    if (beat.node === this.options.nodeId) {
      if (beat.incarnation !== this.incarnation) this.refusals.refuse("node-id-in-use", `another process is using this node's id ${beat.node} (incarnation ${beat.incarnation})`, message.data);
      return;
    }
    this.loss.answered(beat);
    if (this.view.knows(beat.node, beat.incarnation)) {
      const now = this.options.clock.now();
      this.loss.heard(beat.node, now);
      // A node's own heartbeat carries its current kinds: it corrects a view that read older ones (a
      // repair probes such nodes for this).
      const known = this.view.get(beat.node);
      if (known?.incarnation === beat.incarnation && !sameKinds(known.kinds, beat.kinds)) return this.apply(this.view.joined(beat, now), message.data);
      this.view.learnServer(beat.node, beat.incarnation, beat.server ?? "");
      return;
    }
    // Not in this view (a loss announced while it was cut off, or a notice missed): tell it, so it
    // announces itself again.
    if (!this.answers.take(this.options.clock.now())) return this.refusals.refuse("over-rate", `heartbeat from ${beat.node}, not in the view: over ${MAX_ANSWERS_PER_CHECK} answers this check period`, EMPTY);
    this.send(this.options.subjects.membershipTo(beat.node), encodeChange("lost", beat, this.options.nodeId, this.options.subjects.system));
  }

  private onChange(bytes: Uint8Array): void {
    const decoded = decodeChange(bytes, this.checks());
    if (!decoded.ok) return this.refusals.refuse(decoded.reason, decoded.detail, bytes);
    const change = decoded.value;
    const { node, incarnation } = change.node;
    const now = this.options.clock.now();
    if (change.kind !== "lost" && change.reporter !== node) {
      return this.refusals.refuse("forged-reporter", `${change.kind} notice about node ${node} sent by ${change.reporter}: only a node announces itself`, bytes);
    }
    if (node === this.options.nodeId) return this.aboutSelf(change, bytes);
    if (change.kind === "joined") return this.apply(this.view.joined(change.node, now), bytes);
    if (change.kind === "left") {
      this.view.leaving(node, incarnation, now);
      return this.settleLater();
    }
    const known = this.view.get(node);
    if (known === undefined || known.incarnation !== incarnation) {
      this.view.remove(node, incarnation, "lost", now); // remembered, so that a roster read now does not bring it back
      return;
    }
    if (!this.view.ring.monitorsOf(node).includes(change.reporter)) {
      return this.refusals.refuse("not-a-monitor", `lost notice about node ${node} from ${change.reporter}, not one of its monitors here`, bytes);
    }
    const heardAgoMs = this.loss.heardAgoMs(node, now);
    if (heardAgoMs === undefined) {
      // This node does not watch it, and the reporter's name is only what the notice says: a claim,
      // believed unless the node announces itself first (it reads the notice too, and refutes it at
      // once, at most one refutation per fifth of a heartbeat interval). A real loss is seen that
      // fifth (100 ms by default) later here than at the node's monitors.
      this.view.leaving(node, incarnation, now, "lost", Math.max(1, Math.floor(this.intervalMs / 5)));
      return this.settleLater();
    }
    // This node watches it too: silence is judged from when it last heard it, or began to watch it.
    if (heardAgoMs <= this.failureTimeoutMs) {
      return this.refusals.refuse("lost-contradicted", `lost notice about node ${node} from ${change.reporter}: this node monitors it, and heard from it (or began to) ${heardAgoMs} ms ago`, bytes);
    }
    this.emit(this.view.remove(node, incarnation, "lost", now));
  }

  /** A notice about this very node: its own echo, or a claim to refute while it runs. */
  private aboutSelf(change: Change, bytes: Uint8Array): void {
    const mine = change.node.incarnation === this.incarnation;
    if (change.kind === "joined" && !mine) {
      this.refusals.refuse("node-id-in-use", `another process announces this node's id ${change.node.node} (incarnation ${change.node.incarnation})`, bytes);
      this.refuteSoon();
    } else if (change.kind === "left" && mine && change.reporter === this.options.nodeId) {
      this.refusals.refuse("leave-contradicted", `a notice that this node is leaving, while it runs`, bytes);
      this.refuteSoon();
    } else if (change.kind === "lost" && mine) this.refuteSoon();
  }

  // ---- loss detection (loss-detector.ts) and probes of others ----

  private check(): void {
    const now = this.options.clock.now();
    this.emit(this.view.settle(now));
    this.loss.check(now);
  }

  /** Answers a probe with this node's heartbeat, on a `membership.to.<node>` subject or a request inbox only. */
  private answerProbe(reply: string): void {
    const { subjects } = this.options;
    const to = subjects.membershipTo("");
    const mayAnswer = reply.startsWith(to) ? isNodeId(reply.slice(to.length)) : subjects.answersTo(reply);
    if (!mayAnswer) return this.refusals.refuse("malformed", `probe asks for an answer on ${reply.slice(0, 120)}: not answered`, EMPTY);
    if (!this.answers.take(this.options.clock.now())) return this.refusals.refuse("over-rate", `probe not answered: over ${MAX_ANSWERS_PER_CHECK} answers this check period`, EMPTY);
    // From a timer, as heartbeats are sent: a node whose timers no longer run sends no heartbeats, and
    // must not look alive because its connection still reads.
    this.timers.after(0, () => this.send(reply, encodeHeartbeat(this.heartbeat())));
  }

  // ---- sending ----

  private beat(): void {
    const { kinds } = this.options.localInfo();
    const server = this.server();
    if (server !== this.announced.server || !sameKinds(kinds, this.announced.kinds)) {
      this.view.placeSelf(server);
      this.announce();
    }
    const bytes = encodeHeartbeat(this.heartbeat());
    for (const monitor of this.view.ring.monitorsOf(this.options.nodeId)) this.send(this.options.subjects.membershipTo(monitor), bytes);
  }

  /** Publishes `joined` with this node's heartbeat: at start, on a change of kinds or server, to refute a claim. */
  private announce(): void {
    const self = this.heartbeat();
    this.announced = { kinds: [...self.kinds], server: self.server ?? "" };
    this.options.transport.publish(this.options.subjects.membershipChanges, encodeChange("joined", self, this.options.nodeId, this.options.subjects.system));
  }

  /** Announces this node again soon: at once, or a moment after the last time, however many claims came. */
  private refuteSoon(): void {
    if (this.refuteTimer !== undefined || this.state !== "running") return;
    const gapMs = Math.max(1, Math.floor(this.intervalMs / 5));
    const waitMs = Math.max(0, this.lastRefutedMs + gapMs - this.options.clock.now());
    this.refuteTimer = this.timers.after(waitMs, () => {
      this.refuteTimer = undefined;
      this.lastRefutedMs = this.options.clock.now();
      try {
        this.announce();
      } catch {
        // The transport has closed; its "closed" event stops the membership.
      }
    });
  }

  private send(subject: string, bytes: Uint8Array, reply?: string): void {
    try {
      this.options.transport.publish(subject, bytes, reply);
    } catch {
      // Publishing fails once the transport has closed; its "closed" event stops the membership.
    }
  }

  // ---- bookkeeping ----

  private apply(change: ViewChange, bytes: Uint8Array): void {
    if (change.refused) this.refusals.refuse(change.refused.reason, change.refused.detail, change.refused.reason === "nodes-over-limit" ? bytes : EMPTY);
    if (change.changed) this.viewVersion++;
    this.emit(change.events);
    this.settleLater();
  }

  /** Arms a timer for the earliest claimed restart or leave (the check also settles them). */
  private settleLater(): void {
    const dueMs = this.view.nextDueMs();
    if (dueMs === undefined) return;
    // One timer, for the earliest claim: a flood of notices while a claim waits arms no more.
    const armed = this.settleTimer;
    if (armed !== undefined) {
      if (armed.dueMs <= dueMs) return;
      this.timers.cancel(armed.handle);
    }
    const handle = this.timers.after(Math.max(0, dueMs - this.options.clock.now()), () => {
      this.settleTimer = undefined;
      this.emit(this.view.settle(this.options.clock.now()));
      this.settleLater();
    });
    this.settleTimer = { handle, dueMs };
  }

  private emit(events: readonly MembershipEvent[]): void {
    if (events.length === 0 || this.state !== "running") return;
    this.viewVersion++;
    for (const event of events) {
      if (event.type !== "joined") this.loss.forget(event.node.node);
      this.listeners.emit(event);
    }
  }

  /** Nothing from the bus throws out of a subscription callback. */
  private guard(message: InboundMessage, handle: () => void): void {
    if (this.state !== "running") return;
    try {
      handle();
    } catch (error) {
      this.refusals.refuse("malformed", `membership message on ${message.subject}: ${(error as Error).message}`, message.data);
    }
  }

  private checks(): { readonly system: string; readonly maxKinds: number } {
    return { system: this.options.subjects.system, maxKinds: this.maxKindsPerNode };
  }

  private server(): string {
    return this.options.transport.serverId?.() ?? "";
  }

  private heartbeat(): Heartbeat {
    const { kinds, actorCount } = this.options.localInfo();
    return { node: this.options.nodeId, incarnation: this.incarnation, startedAtMs: this.startedAtMs, kinds, actorCount, intervalMs: this.intervalMs, leaving: false, system: this.options.subjects.system, server: this.server() };
  }

  private selfInfo(): NodeInfo {
    const { kinds, actorCount } = this.options.localInfo();
    return { node: this.options.nodeId, incarnation: this.incarnation, startedAtMs: this.startedAtMs, kinds: [...kinds], actorCount, lastSeenMs: this.options.clock.now(), self: true, server: this.server() };
  }

  private halt(): void {
    if (this.state !== "running") return;
    this.state = "stopped";
    this.viewVersion++;
    this.timers.clear();
    this.settleTimer = undefined;
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.loss.stop();
    this.view.clear();
  }
}
