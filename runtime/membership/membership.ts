import { randomBytes } from "node:crypto";
import { validateToken } from "../address.js";
import type { TimerHandle } from "../clock.js";
import type { Unsubscribe } from "../transport/transport.js";
import { decodeHeartbeat, encodeHeartbeat } from "./heartbeat.js";
import { RefusalCounter, type HeartbeatRefusal } from "./heartbeat-refusal.js";
import { byNode, NodeTable, type MembershipEvent, type NodeInfo, type Observation } from "./node-table.js";
import { MembershipListeners } from "./membership-listeners.js";
import { membershipSettings } from "./membership-settings.js";
import type { MembershipBaseOptions } from "./node-membership.js";

export type { MembershipEvent, NodeInfo } from "./node-table.js";
export type { HeartbeatRefusal } from "./heartbeat-refusal.js";
export { DEFAULT_MAX_KINDS_PER_NODE } from "./heartbeat.js";
export { DEFAULT_FAILURE_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_MAX_NODES } from "./membership-settings.js";

const EMPTY = new Uint8Array(0);

export interface MembershipOptions extends MembershipBaseOptions {
  /** The heartbeat subject, shared by every node of the system: `Subjects.heartbeat`. */
  readonly subject: string;
  /** The system's name, sent in heartbeats; heartbeats naming another system are refused. */
  readonly system?: string;
  /**
   * Told about each heartbeat refused (malformed, over a cap, another system, another process using
   * this node's id, a restart or leave claim refuted by the node itself), with its reason; `bytes` are
   * empty for a claim refuted later by another heartbeat.
   */
  readonly onInvalid?: (detail: string, bytes: Uint8Array, reason: HeartbeatRefusal) => void;
}

/**
 * Which nodes of a system are alive, from plain NATS publish/subscribe: every node publishes a
 * `NodeHeartbeat` on one subject every `intervalMs` and listens to everybody else's. A node that stays
 * silent longer than `failureTimeoutMs` is `lost`; one that shuts down says so and is `left` once it
 * has stayed silent for `silenceMs` after its last ordinary heartbeat. There is no agreement protocol:
 * each node has its own view, and views converge within the timeout.
 *
 * A node that was lost and then speaks again with the same incarnation (a paused process resumed, or
 * a partition healed) is reported `joined` again; a new run under the same node id is `restarted`
 * once the old run has been silent for `silenceMs`.
 *
 * Heartbeats are not trusted: every peer is judged by this node's own interval and timeout (never the
 * interval a heartbeat claims); at most `maxNodes` peers and `maxKindsPerNode` valid kind names per
 * heartbeat are accepted; a claimed restart or leave that the node's own next heartbeat refutes
 * changes nothing. Refused heartbeats are counted by reason (`refused()`).
 */
export class Membership {
  /** Identifies this run of the node; a restarted process gets a new one. */
  readonly incarnation = randomBytes(8).toString("hex");
  readonly intervalMs: number;
  readonly failureTimeoutMs: number;
  /**
   * How long a node's incarnation must stay silent before a claimed restart or leave notice about it is
   * believed: one interval and a quarter (for jitter) of this node's own interval.
   */
  readonly silenceMs: number;
  readonly maxNodes: number;
  readonly maxKindsPerNode: number;
  private readonly table: NodeTable;
  private readonly refusals: RefusalCounter;
  private settleTimer: { readonly handle: TimerHandle; readonly dueMs: number } | undefined;
  private readonly listeners: MembershipListeners;
  private state: "new" | "running" | "stopped" = "new";
  private viewVersion = 0;
  private startedAtMs = 0;
  private heartbeatTimer: TimerHandle | undefined;
  private checkTimer: TimerHandle | undefined;
  private unsubscribe: Unsubscribe | undefined;
  private unwatch: Unsubscribe | undefined;
  private announcedThisTurn = false;

  constructor(private readonly options: MembershipOptions) {
    validateToken("node id", options.nodeId);
    this.listeners = new MembershipListeners(options.clock, options.nodeId);
    if (!options.subject) throw new TypeError("Membership needs a heartbeat subject (Subjects.heartbeat)");
    ({ intervalMs: this.intervalMs, failureTimeoutMs: this.failureTimeoutMs, silenceMs: this.silenceMs, maxNodes: this.maxNodes, maxKindsPerNode: this.maxKindsPerNode } = membershipSettings(options));
    this.refusals = new RefusalCounter(options.onInvalid);
    this.table = new NodeTable({ failureTimeoutMs: this.failureTimeoutMs, silenceMs: this.silenceMs, maxNodes: this.maxNodes });
  }

  /** How often silence is checked for: often enough that a loss is noticed soon after the timeout. */
  get checkPeriodMs(): number {
    return Math.min(this.intervalMs, this.failureTimeoutMs / 4);
  }

  /** Subscribes, announces this node and resolves once the announcement has reached the server. */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`membership of node ${this.options.nodeId} was already started`);
    const { transport, subject, clock } = this.options;
    this.state = "running";
    this.viewVersion++;
    this.startedAtMs = clock.now();
    this.unsubscribe = transport.subscribe(subject, (message) => this.receive(message.data));
    // A closed transport can neither announce nor listen: stop, and let the others time this node out.
    this.unwatch = transport.onEvent((event) => {
      if (event.type === "closed") this.halt();
    });
    try {
      this.publish(false);
    } catch (error) {
      this.halt();
      throw error;
    }
    this.scheduleHeartbeat();
    this.scheduleCheck();
    await transport.flush();
  }

  /** Announces that this node is leaving, so the others drop it at once, and stops. */
  async stop(): Promise<void> {
    if (this.state !== "running") return;
    this.halt();
    try {
      this.publish(true);
      await this.options.transport.flush();
    } catch {
      // The transport is already closed: the others will notice the silence instead.
    }
  }

  /**
   * Changes whenever `nodes()` may list other nodes or kinds: a membership event, a node's heartbeat
   * with other kinds than its last, start, stop. What is derived from `nodes()` can be cached under it.
   * (This node's own kinds are its caller's to track.)
   */
  get version(): number {
    return this.viewVersion;
  }

  /** The live nodes, this one included, sorted by node id. Empty unless started. */
  nodes(): NodeInfo[] {
    if (this.state !== "running") return [];
    return [this.selfInfo(), ...this.table.list()].sort(byNode);
  }

  isAlive(node: string): boolean {
    return this.state === "running" && (node === this.options.nodeId || this.table.has(node));
  }

  /** Heartbeats refused since start, by reason (every reason present, 0 when none). */
  refused(): Record<HeartbeatRefusal, number> {
    return this.refusals.counts();
  }

  onEvent(listener: (event: MembershipEvent) => void): Unsubscribe {
    return this.listeners.add(listener);
  }

  /** Resolves with the node once it is alive; rejects if it is not seen within `timeoutMs`. */
  waitForNode(node: string, timeoutMs: number): Promise<NodeInfo> {
    return this.listeners.waitForNode(this.nodes(), node, timeoutMs);
  }

  private receive(bytes: Uint8Array): void {
    if (this.state !== "running") return;
    const decoded = decodeHeartbeat(bytes, { system: this.options.system, maxKinds: this.maxKindsPerNode });
    if (!decoded.ok) return this.refusals.refuse(decoded.reason, decoded.detail, bytes);
    const beat = decoded.heartbeat;
    if (beat.node === this.options.nodeId) {
      // Our own heartbeats come back to us; another incarnation under our id is a misconfiguration.
      if (beat.incarnation !== this.incarnation && !beat.leaving) {
        this.refusals.refuse("node-id-in-use", `another process is using this node's id ${beat.node} (incarnation ${beat.incarnation})`, bytes);
      }
      return;
    }
    const observation: Observation = this.table.observe(beat, this.options.clock.now());
    if (observation.events.some((event) => event.type === "joined" || event.type === "restarted")) this.announce();
    if (observation.refused) this.refusals.refuse(observation.refused.reason, observation.refused.detail, observation.refused.reason === "nodes-over-limit" ? bytes : EMPTY);
    if (observation.kindsChanged) this.viewVersion++;
    this.emit(observation.events);
    this.scheduleSettle();
  }

  /**
   * Answers a newcomer's heartbeat with one of ours at once (once per turn, however many joined), sent
   * before anything else this node sends it: the control messages that follow on the same connection
   * then reach it after our heartbeat, so it can tell a member from a ghost (MemberGate).
   */
  private announce(): void {
    if (this.announcedThisTurn) return;
    this.announcedThisTurn = true;
    queueMicrotask(() => (this.announcedThisTurn = false));
    try {
      this.publish(false);
    } catch {
      // The transport has closed; its "closed" event stops the membership.
    }
  }

  /** Arms one timer for the earliest claimed restart or leave notice waiting to be confirmed. */
  private scheduleSettle(): void {
    if (this.state !== "running") return;
    const { clock } = this.options;
    const dueMs = this.table.nextDueMs();
    if (this.settleTimer !== undefined) {
      if (dueMs !== undefined && this.settleTimer.dueMs <= dueMs) return;
      clock.clearTimeout(this.settleTimer.handle);
      this.settleTimer = undefined;
    }
    if (dueMs === undefined) return;
    const handle = clock.setTimeout(() => {
      this.settleTimer = undefined;
      // Late means this process was stalled: the heartbeats that would refute a claim may be waiting
      // to be read. Look again a little later, after they have been.
      const lateMs = clock.now() - dueMs;
      if (lateMs > this.checkPeriodMs) {
        this.settleTimer = { handle: clock.setTimeout(() => this.settleNow(), 1), dueMs: clock.now() + 1 };
        return;
      }
      this.settleNow();
    }, Math.max(0, dueMs - clock.now()));
    this.settleTimer = { handle, dueMs };
  }

  private settleNow(): void {
    this.settleTimer = undefined;
    if (this.state !== "running") return;
    this.emit(this.table.settle(this.options.clock.now()));
    this.scheduleSettle();
  }

  private publish(leaving: boolean): void {
    const { kinds, actorCount } = this.options.localInfo();
    const heartbeat = { node: this.options.nodeId, incarnation: this.incarnation, startedAtMs: this.startedAtMs, kinds, actorCount, intervalMs: this.intervalMs, leaving, system: this.options.system ?? "" };
    this.options.transport.publish(this.options.subject, encodeHeartbeat(heartbeat));
  }

  private scheduleHeartbeat(): void {
    this.heartbeatTimer = this.options.clock.setTimeout(() => {
      try {
        this.publish(false);
      } catch {
        // Publishing fails once the transport has closed; its "closed" event stops the membership.
      }
      if (this.state === "running") this.scheduleHeartbeat();
    }, this.intervalMs);
  }

  private scheduleCheck(): void {
    const { clock } = this.options;
    const dueMs = clock.now() + this.checkPeriodMs;
    this.checkTimer = clock.setTimeout(() => {
      // A check that runs late means this process was stalled (a long GC, a blocked event loop): the
      // others' heartbeats are still waiting to be read, so judging them now would report everyone
      // lost. Skip one round; the next check sees the fresh heartbeats.
      if (clock.now() - dueMs <= this.checkPeriodMs) this.emit(this.table.expire(clock.now()));
      if (this.state === "running") {
        this.scheduleCheck();
        this.scheduleSettle();
      }
    }, this.checkPeriodMs);
  }

  private halt(): void {
    if (this.state !== "running") return;
    this.state = "stopped";
    this.viewVersion++;
    const { clock } = this.options;
    if (this.heartbeatTimer !== undefined) clock.clearTimeout(this.heartbeatTimer);
    if (this.checkTimer !== undefined) clock.clearTimeout(this.checkTimer);
    if (this.settleTimer !== undefined) clock.clearTimeout(this.settleTimer.handle);
    this.settleTimer = undefined;
    this.unsubscribe?.();
    this.unwatch?.();
    this.table.clear();
  }

  private selfInfo(): NodeInfo {
    const { kinds, actorCount } = this.options.localInfo();
    const now = this.options.clock.now();
    return { node: this.options.nodeId, incarnation: this.incarnation, startedAtMs: this.startedAtMs, kinds: [...kinds], actorCount, lastSeenMs: now, self: true };
  }

  private emit(events: MembershipEvent[]): void {
    if (events.length > 0) this.viewVersion++;
    for (const event of events) this.listeners.emit(event);
  }
}
