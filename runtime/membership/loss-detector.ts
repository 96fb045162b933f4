import type { Clock, TimerHandle } from "../clock.js";
import type { Subjects } from "../subjects.js";
import { encodeHeartbeat, type Heartbeat } from "./heartbeat.js";
import type { MembershipEvent } from "./node-table.js";
import { encodeChange } from "./ring-messages.js";
import { heartbeatOf } from "./node-info.js";
import type { RingView } from "./ring-view.js";

/** What a probe found out about a node. */
export type ProbeResult =
  /** The node's own heartbeat: its answer, or one it sent to this node meanwhile. */
  | { readonly outcome: "answered"; readonly heartbeat: Heartbeat }
  | { readonly outcome: "silent" }
  /** Nothing decided: the timer fired late (this process stalled, the answer may be waiting to be read), or the membership stopped. */
  | { readonly outcome: "undecided" };

/** What loss detection needs of the ring membership it serves. */
export interface LossDetectorOptions {
  readonly nodeId: string;
  readonly subjects: Subjects;
  readonly clock: Clock;
  readonly view: RingView;
  readonly failureTimeoutMs: number;
  /** How long a probe waits; also the delay between monitors' `lost` notices by rank. */
  readonly probeTimeoutMs: number;
  /** A timer later than this by more decides nothing (this process stalled). */
  readonly checkPeriodMs: number;
  readonly running: () => boolean;
  /** This node's heartbeat now, which a probe carries. */
  readonly heartbeat: () => Heartbeat;
  readonly send: (subject: string, bytes: Uint8Array, reply?: string) => void;
  readonly emit: (events: readonly MembershipEvent[]) => void;
  /** The membership's timers: they run only while it runs, and stop with it. */
  readonly after: (delayMs: number, task: () => void) => TimerHandle;
  readonly cancel: (handle: TimerHandle) => void;
}

/**
 * The ring membership's failure detector (docs/scale.md): tracks when each node this one monitors was
 * last heard, probes one that has been silent for `failureTimeoutMs` less the probe's own timeout and,
 * unanswered, announces it `lost`: the nearest monitor at once, the next ones `probeTimeoutMs` later
 * each, and only if no notice came meanwhile.
 */
export class LossDetector {
  /** When each node of the view was last heard from directly (its heartbeats, its probe answers). */
  private readonly lastHeard = new Map<string, number>();
  /** The nodes this one monitors, each with when it started to. */
  private monitoring: { version: number; since: Map<string, number> } = { version: -1, since: new Map() };
  /** Nodes found silent: being probed, or waiting for their turn to be announced lost. */
  private readonly suspects = new Set<string>();
  private readonly probes = new Map<string, { readonly promise: Promise<ProbeResult>; readonly settle: (result: ProbeResult) => void }>();
  private reconnectedAtMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: LossDetectorOptions) {}

  /** Silence is counted from a (re)connection: what was missed while away says nothing of the others. */
  reconnected(nowMs: number): void {
    this.reconnectedAtMs = nowMs;
  }

  /** A heartbeat of `node`, a member of the view, reached this node. */
  heard(node: string, nowMs: number): void {
    this.lastHeard.set(node, nowMs);
  }

  /** Any heartbeat of `beat.node` settles a probe of it waiting, with what the node itself says. */
  answered(beat: Heartbeat): void {
    this.probes.get(beat.node)?.settle({ outcome: "answered", heartbeat: beat });
  }

  /** `node` left the view: nothing more to judge of it. */
  forget(node: string): void {
    this.lastHeard.delete(node);
    this.suspects.delete(node);
  }

  /** The nodes this one monitors, by its view of the ring, each with when it began to. */
  monitoredSince(): Map<string, number> {
    const ring = this.options.view.ring;
    if (this.monitoring.version !== ring.version) {
      const now = this.options.clock.now();
      const since = new Map<string, number>();
      if (this.options.running()) for (const node of ring.monitoredBy(this.options.nodeId)) since.set(node, this.monitoring.since.get(node) ?? now);
      this.monitoring = { version: ring.version, since };
    }
    return this.monitoring.since;
  }

  /** How long ago this node heard from `node` (or began to monitor it); undefined when it does not monitor it. */
  heardAgoMs(node: string, nowMs: number): number | undefined {
    const since = this.monitoredSince().get(node);
    return since === undefined ? undefined : nowMs - Math.max(this.lastHeard.get(node) ?? since, since);
  }

  /** Suspects every monitored node silent for long enough. */
  check(nowMs: number): void {
    for (const [node, since] of this.monitoredSince()) {
      if (this.suspects.has(node)) continue;
      const heard = Math.max(this.lastHeard.get(node) ?? since, since, this.reconnectedAtMs);
      // The probe starts early enough that, unanswered, the node has been silent for the whole
      // timeout when it ends: losses are seen as soon as with all-to-all heartbeats.
      if (nowMs - heard > this.options.failureTimeoutMs - this.options.probeTimeoutMs) this.suspect(node);
    }
  }

  /**
   * Sends this node's heartbeat to `node` as a request, answered by the node's heartbeat to this
   * node's own `to` subject; settles with the first heartbeat of it that comes within `probeTimeoutMs`.
   * A timer that fires late (this process stalled) decides nothing: the answer may be waiting to be read.
   */
  probe(node: string): Promise<ProbeResult> {
    const pending = this.probes.get(node);
    if (pending) return pending.promise;
    const { clock, subjects, nodeId, probeTimeoutMs, checkPeriodMs } = this.options;
    let resolve!: (result: ProbeResult) => void;
    const promise = new Promise<ProbeResult>((done) => (resolve = done));
    const dueMs = clock.now() + probeTimeoutMs;
    const timer = this.options.after(probeTimeoutMs, () => {
      this.probes.delete(node);
      resolve(clock.now() - dueMs > checkPeriodMs ? { outcome: "undecided" } : { outcome: "silent" });
    });
    this.probes.set(node, {
      promise,
      settle: (result) => {
        this.options.cancel(timer);
        this.probes.delete(node);
        resolve(result);
      },
    });
    this.options.send(subjects.membershipTo(node), encodeHeartbeat(this.options.heartbeat()), subjects.membershipTo(nodeId));
    return promise;
  }

  /** The membership stopped: probes waiting decide nothing, and nobody is judged any more. */
  stop(): void {
    for (const probe of [...this.probes.values()]) probe.settle({ outcome: "undecided" });
    this.lastHeard.clear();
    this.suspects.clear();
  }

  /** A monitored node is silent: probe it; unanswered, announce it lost in turn (nearest monitor first). */
  private suspect(node: string): void {
    const { clock, nodeId, subjects, view } = this.options;
    const info = view.get(node);
    if (info === undefined) return;
    this.suspects.add(node);
    const since = clock.now();
    const stillSilent = (): boolean =>
      this.options.running() && view.get(node)?.incarnation === info.incarnation && (this.lastHeard.get(node) ?? Number.NEGATIVE_INFINITY) < since;
    // A probe settles as answered, silent or undecided; should it ever throw, the node is simply
    // suspected again at the next check, and the process does not die of an unhandled rejection.
    this.probe(node).then((result) => {
      const rank = view.ring.monitorsOf(node).indexOf(nodeId);
      if (result.outcome !== "silent" || rank < 0 || !stillSilent()) return this.suspects.delete(node);
      const announce = (): void => {
        this.suspects.delete(node);
        if (!stillSilent()) return;
        this.options.send(subjects.membershipChanges, encodeChange("lost", heartbeatOf(info, subjects.system), nodeId, subjects.system));
        this.options.emit(view.remove(node, info.incarnation, "lost", clock.now()));
      };
      // The nearest monitor announces at once, the next ones later, each only if no notice came.
      if (rank === 0) announce();
      else this.options.after(rank * this.options.probeTimeoutMs, announce);
    }, () => this.suspects.delete(node));
  }
}
