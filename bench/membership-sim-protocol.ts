// The IPC messages between the membership simulation's driver (bench/membership-sim.ts) and its
// helper processes: the observers (bench/membership-sim-node.ts: a real Troupe node, and the bare
// nats.js baseline) and the simulated members (bench/membership-sim-members.ts). Every request carries
// an id; the reply carries it back.
import type { RingCounts } from "./membership-sim-ring.js";

/** The system every process of the simulation belongs to. */
export const SIM_SYSTEM = "bench-membership";
/** The real node's id. */
export const REAL_NODE_ID = "real-0";
/** The simulated members' heartbeat interval, the runtime's default. */
export const SIM_INTERVAL_MS = 500;

/**
 * The designs the harness measures: all-to-all heartbeats (`membership.protocol: "all-to-all"`), or
 * ring membership (the runtime's default: heartbeats to a few monitors on a hash ring).
 */
export type Design = "broadcast" | "ring";

export type ToObserver =
  | { readonly id: number; readonly type: "cpu" }
  /** Reply `armed` at once, then `seen` when `node` is reported `joined` (or `lost`), with the wall-clock time of the report. */
  | { readonly id: number; readonly type: "await"; readonly node: string; readonly event: "joined" | "lost" }
  /** Reply with how many other nodes the observer sees alive (from its events, not a scan). */
  | { readonly id: number; readonly type: "count" }
  | { readonly id: number; readonly type: "exit" };

export type FromObserver =
  | { readonly type: "ready" }
  /** CPU microseconds (user + system) since the process started, at wall time `atMs`. */
  | { readonly id: number; readonly type: "cpu"; readonly cpuUs: number; readonly atMs: number; readonly received: number }
  /** An `await` is registered (sent at once); `seen` follows, with the same id, when the event happens. */
  | { readonly id: number; readonly type: "armed" }
  | { readonly id: number; readonly type: "seen"; readonly atMs: number }
  /** `refused`: messages the real node refused, by reason (none: nothing refused). */
  | { readonly id: number; readonly type: "count"; readonly members: number; readonly refused: Readonly<Record<string, number>> }
  | { readonly id: number; readonly type: "error"; readonly error: string };

export type ToMembers =
  /** Simulate members `sim-0` .. `sim-<count-1>` (adding or removing the difference). */
  | { readonly id: number; readonly type: "set"; readonly count: number }
  /**
   * Name a member to stop: the first after position `after` whose nearest monitor is the real node
   * (or that the real node does not monitor, with `watchedByReal: false`); in today's design every
   * node watches every other, so any.
   */
  | { readonly id: number; readonly type: "pick"; readonly after: number; readonly watchedByReal: boolean }
  /** Stop one member silently, as a crash would; replies with the wall time of its last heartbeat. */
  | { readonly id: number; readonly type: "stop"; readonly node: string }
  /** Start one member; replies with the wall time of its first heartbeat. */
  | { readonly id: number; readonly type: "start"; readonly node: string }
  | { readonly id: number; readonly type: "stats" }
  | { readonly id: number; readonly type: "exit" };

export type FromMembers =
  | { readonly type: "ready" }
  | { readonly id: number; readonly type: "done"; readonly atMs: number }
  | { readonly id: number; readonly type: "picked"; readonly node: string }
  /**
   * Member heartbeats sent so far (each to every monitor, in the ring design), CPU used so far, the
   * worst lag of a publishing turn behind its schedule, and (ring) what the members saw of the real node.
   */
  | { readonly id: number; readonly type: "stats"; readonly published: number; readonly cpuUs: number; readonly atMs: number; readonly maxLagMs: number; readonly ring?: RingCounts }
  | { readonly id: number; readonly type: "error"; readonly error: string };
