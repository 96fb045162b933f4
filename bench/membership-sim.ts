import { createServer } from "node:net";
import { startEmbeddedNats, type EmbeddedNats } from "../runtime/index.js";
import { DEFAULT_FAILURE_TIMEOUT_MS } from "../runtime/membership/membership.js";
import { requireTool } from "../runtime/nats/tool-paths.js";
import type { Benchmark, BenchContext, Figure } from "./benchmark.js";
import { SimChild } from "./membership-sim-ipc.js";
import type { Design, FromMembers, FromObserver, ToMembers, ToObserver } from "./membership-sim-protocol.js";
import { median } from "./stats.js";

/** Simulated members at each step (issue 17: 1,000 and 10,000, and 100 for the small end). */
const SIZES = [100, 1_000, 10_000];
/** The real node's maxNodes for the run: the default (1,000) would refuse most of 10,000 members. */
const MAX_NODES = 20_000;
/** How long a loss or join may take before it is recorded as not seen (at this value). */
const DETECTION_DEADLINE_MS = 12_000;
/** How long the real node may take to see every simulated member before it is measured anyway. */
const SEE_ALL_DEADLINE_MS = 20_000;

type Without<T> = T extends unknown ? Omit<T, "id"> : never;
type Observer = SimChild<Without<ToObserver>, FromObserver>;
type Members = SimChild<Without<ToMembers>, FromMembers>;

/** One CPU window's figures. */
interface Window {
  /** The real node's CPU, % of one core. */
  readonly nodeCpu: number;
  /** The bare nats.js client's CPU, % of one core. */
  readonly bareCpu: number;
  /** Messages into and out of nats-server per second (its /varz in_msgs and out_msgs). */
  readonly inPerS: number;
  readonly outPerS: number;
  readonly membersCpu: number;
  readonly publishedPerS: number;
  readonly maxLagMs: number;
  /** Subscribers nats-server cut off (dropping their messages) because they fell behind, during the window. */
  readonly slowConsumers: number;
}

/**
 * Membership at scale (issue 17), the all-to-all design (`membership.protocol: "all-to-all"`): one real
 * Troupe node (an ActorSystem on the NATS transport, as `troupe node` runs one, with maxNodes raised to
 * 20,000) and a bare nats.js client (the baseline), both subscribed to the heartbeat subject of a
 * system whose other 100, 1,000 and 10,000 members are simulated by one process
 * (bench/membership-sim-members.ts) publishing a real `NodeHeartbeat` for each every 500 ms, over a
 * private nats-server whose monitoring port (`-m`) gives the message rates. Per size:
 * - CPU of the real node over windows of a few seconds, beside the bare client's in the same windows;
 * - server deliveries per second if every member were a real node, projected from /varz `in_msgs`
 *   (only two processes receive here; with all members real each heartbeat reaches all N + 1), beside N;
 * - loss detection (a member stops silently, until the real node reports it lost), beside the failure
 *   timeout; join detection (a new member starts, until the real node reports it), beside the bare
 *   client's receipt of its first message.
 * A loss or join not seen within DETECTION_DEADLINE_MS is recorded at that value (a finding, not a
 * failure of the run).
 */
export const membershipSim: Benchmark = {
  name: "membership",
  run: (ctx) => runDesign(ctx, "broadcast", SIZES),
};

/**
 * The same measurements of ring membership, the runtime's default (runtime/membership/ring-membership.ts,
 * docs/scale.md), at 1,000 and 10,000 members: the real node is an ActorSystem with the default
 * membership (maxNodes raised as above); the simulated members speak the protocol with the runtime's
 * code (bench/membership-sim-ring.ts): heartbeats to each member's monitors on the ring, `joined`,
 * `left` and `lost` notices, probes answered, the roster served, digests. Losses alternate a member
 * whose nearest monitor is the real node (it must find the loss itself) and one it does not monitor
 * (announced by the simulated monitors). Baseline: a bare nats.js client on the subjects the real node
 * receives on (its `membership.to.<node>` and `membership.changes`).
 */
export const membershipRing: Benchmark = {
  name: "membership-ring",
  run: (ctx) => runDesign(ctx, "ring", SIZES.slice(1)),
};

async function runDesign(ctx: BenchContext, design: Design, sizes: readonly number[]): Promise<Figure[]> {
  const monitorPort = await freePort();
  requireTool("nats-server");
  const nats = await startEmbeddedNats({ jetstream: false, args: ["-m", String(monitorPort)] });
  const stops: (() => Promise<void>)[] = [() => nats.stop()];
  try {
    const start = async <C extends { stop(): Promise<void> }>(child: Promise<C>): Promise<C> => {
      const started = await child;
      stops.push(() => started.stop());
      return started;
    };
    // The members first, so that they see the real node announce itself and answer its roster read.
    const members = await start(SimChild.start<Without<ToMembers>, FromMembers>("./membership-sim-members.ts", [nats.url, design], "the simulated members"));
    // Ring: the first size's members are there before the real node starts, so that its start-up
    // roster read (one member answers, in pages) brings them; their `joined` notices came before.
    if (design === "ring") await members.request({ type: "set", count: sizes[0]! }, "done");
    const startedAtMs = Date.now();
    const node = await start(SimChild.start<Without<ToObserver>, FromObserver>("./membership-sim-node.ts", ["troupe", nats.url, String(MAX_NODES), design], "the real node"));
    if (design === "ring") {
      const { members: read } = await node.request({ type: "count" }, "count");
      ctx.log(`  the real node started in ${Date.now() - startedAtMs} ms (process start included) and saw ${read.toLocaleString("en-US")} of ${sizes[0]!.toLocaleString("en-US")} members at once: its start-up roster read`);
    }
    const bare = await start(SimChild.start<Without<ToObserver>, FromObserver>("./membership-sim-node.ts", ["bare", nats.url, design], "the bare client"));
    ctx.log(`  the real node runs with membership.protocol ${design === "broadcast" ? '"all-to-all"' : '"ring" (the default)'} and maxNodes ${MAX_NODES.toLocaleString("en-US")} (default 1,000)`);
    const figures: Figure[] = [];
    for (const size of sizes) figures.push(...(await step(ctx, { design, nats, monitorPort, node, bare, members }, size)));
    return figures;
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

interface Sim {
  readonly design: Design;
  readonly nats: EmbeddedNats;
  readonly monitorPort: number;
  readonly node: Observer;
  readonly bare: Observer;
  readonly members: Members;
}

async function step(ctx: BenchContext, sim: Sim, size: number): Promise<Figure[]> {
  const { node, bare, members } = sim;
  const label = `membership (${sim.design}) ${size.toLocaleString("en-US")}`;
  await members.request({ type: "set", count: size }, "done");
  // A node that cannot keep up never sees them all (it loses members as fast as it finds them): that
  // is a finding, logged, and the figures are measured all the same.
  const seeing = async (): Promise<number> => (await node.request({ type: "count" }, "count")).members;
  const allSeen = await until(async () => (await seeing()) === size, SEE_ALL_DEADLINE_MS);
  const { members: seen } = await node.request({ type: "count" }, "count");
  if (!allSeen) ctx.log(`  ${label}: after ${SEE_ALL_DEADLINE_MS / 1000} s the real node sees ${seen.toLocaleString("en-US")} of ${size.toLocaleString("en-US")} members; measuring anyway`);
  // The joins are behind; let their after-effects (garbage, announcements) pass before measuring.
  await sleep(1_500);

  const windowMs = ctx.quick ? 2_000 : 3_000;
  const windows: Window[] = [];
  const windowRounds = Math.min(ctx.reps, 5);
  for (let round = 1; round <= windowRounds; round++) {
    const before = await sample(sim);
    await sleep(windowMs);
    const after = await sample(sim);
    // Each process is timed by its own clock reading: on a loaded machine the replies come late.
    const window: Window = {
      nodeCpu: cpuPercent(before.node, after.node),
      bareCpu: cpuPercent(before.bare, after.bare),
      inPerS: perSecond(before.inMsgs, after.inMsgs),
      outPerS: perSecond(before.outMsgs, after.outMsgs),
      membersCpu: cpuPercent(before.members, after.members),
      publishedPerS: perSecond(before.published, after.published),
      maxLagMs: after.maxLagMs,
      slowConsumers: after.slowConsumers - before.slowConsumers,
    };
    windows.push(window);
    ctx.log(
      `  ${label}: window ${round}/${windowRounds}: node ${window.nodeCpu.toFixed(2)}% of a core, bare client ${window.bareCpu.toFixed(2)}%; ` +
        `server in ${Math.round(window.inPerS).toLocaleString("en-US")}/s out ${Math.round(window.outPerS).toLocaleString("en-US")}/s` +
        `${window.slowConsumers > 0 ? ` (${window.slowConsumers} slow consumer events: the server dropped messages)` : ""}; ` +
        `simulator sent ${Math.round(window.publishedPerS).toLocaleString("en-US")} heartbeats/s (${window.membersCpu.toFixed(0)}% of a core, worst lag ${window.maxLagMs.toFixed(0)} ms)`,
    );
  }

  const losses: number[] = [];
  const joins: number[] = [];
  const bareJoins: number[] = [];
  const rounds = ctx.quick ? 2 : 3;
  for (let round = 1; round <= rounds; round++) {
    // In the ring design, alternate a member whose nearest monitor is the real node (its own
    // detection: silence, probe, notice) with one that simulated monitors announce.
    const { node: victim } = await members.request({ type: "pick", after: (round * 37) % size, watchedByReal: round % 2 === 1 }, "picked");
    const joiner = `joiner-${size}-r${round}x`;
    const [lostArmed, lost] = node.twice({ type: "await", node: victim, event: "lost" }, "armed", "seen");
    const [joinArmed, joined] = node.twice({ type: "await", node: joiner, event: "joined" }, "armed", "seen");
    const [bareArmed, bareJoined] = bare.twice({ type: "await", node: joiner, event: "joined" }, "armed", "seen");
    await Promise.all([lostArmed, joinArmed, bareArmed]);
    const stopped = await members.request({ type: "stop", node: victim }, "done");
    const started = await members.request({ type: "start", node: joiner }, "done");
    // A detection that does not come is a finding, recorded as the deadline, not a failure of the run.
    const deadline = sleep(DETECTION_DEADLINE_MS).then(() => undefined);
    const [lostAt, joinedAt, bareAt] = await Promise.all([lost, joined, bareJoined].map((seen) => Promise.race([seen, deadline])));
    losses.push(lostAt ? lostAt.atMs - stopped.atMs : DETECTION_DEADLINE_MS);
    joins.push(joinedAt ? joinedAt.atMs - started.atMs : DETECTION_DEADLINE_MS);
    if (bareAt) bareJoins.push(bareAt.atMs - started.atMs);
    const shown = (at: unknown, ms: number, digits: number): string => (at ? `${ms.toFixed(digits)} ms` : `not within ${DETECTION_DEADLINE_MS / 1000} s`);
    ctx.log(
      `  ${label}: round ${round}/${rounds}: ${victim} lost after ${shown(lostAt, losses.at(-1)!, 0)}, ${joiner} joined after ${shown(joinedAt, joins.at(-1)!, 1)}` +
        ` (bare client: ${shown(bareAt, bareJoins.at(-1) ?? 0, 1)})`,
    );
    await members.request({ type: "start", node: victim }, "done");
    // Not seen once means the node is overwhelmed: more rounds would only repeat the deadline.
    if (!lostAt || !joinedAt) break;
  }

  const m = (pick: (w: Window) => number): number => median(windows.map(pick));
  // Here only the real node and the bare client subscribe; with every member a real node, each
  // broadcast heartbeat would reach all size + 1 nodes, and each ring heartbeat its one monitor.
  const projected = m((w) => w.inPerS) * (sim.design === "broadcast" ? size + 1 : 1);
  const { refused } = await node.request({ type: "count" }, "count");
  const refusals = Object.entries(refused).map(([reason, n]) => `${n} ${reason}`).join(", ") || "none";
  ctx.log(`  ${label}: messages refused by the real node so far: ${refusals}; with all ${(size + 1).toLocaleString("en-US")} nodes real the server would deliver ${Math.round(projected).toLocaleString("en-US")} msgs/s`);
  if (sim.design === "ring") {
    const { ring } = await members.request({ type: "stats" }, "stats");
    if (ring) ctx.log(`  ${label}: the members saw so far: ${JSON.stringify(ring)}`);
  }
  const prefix = sim.design === "broadcast" ? "membership" : "membership-ring";
  const n = size.toLocaleString("en-US");
  return [
    {
      name: `${prefix}-cpu-${size}`,
      value: m((w) => w.nodeCpu),
      unit: `% of a core at ${n} members`,
      baseline: "bare nats.js client, same subscriptions",
      baselineValue: m((w) => w.bareCpu),
      target: size === 10_000 ? { op: "<=", value: 1 } : { op: "record" },
    },
    {
      name: `${prefix}-deliveries-${size}`,
      value: projected,
      unit: `msgs/s delivered if all ${n} were real (projected)`,
      baseline: "members",
      baselineValue: size,
      target: { op: "record" },
    },
    {
      name: `${prefix}-loss-${size}`,
      value: median(losses),
      unit: `ms at ${n} members`,
      baseline: "configured failure timeout",
      baselineValue: DEFAULT_FAILURE_TIMEOUT_MS,
      target: { op: "<=", value: 3_000 },
    },
    {
      name: `${prefix}-join-${size}`,
      value: median(joins),
      unit: `ms at ${n} members`,
      baseline: "bare client receiving its first message",
      baselineValue: bareJoins.length > 0 ? median(bareJoins) : Number.NaN,
      target: { op: "<=", value: 3_000 },
    },
  ];
}

/** A counter read at a time (ms since the epoch, by the reader's clock). */
interface Reading {
  readonly value: number;
  readonly atMs: number;
}

interface Sample {
  /** CPU microseconds used so far by each process. */
  readonly node: Reading;
  readonly bare: Reading;
  readonly members: Reading;
  readonly published: Reading;
  readonly maxLagMs: number;
  readonly inMsgs: Reading;
  readonly outMsgs: Reading;
  readonly slowConsumers: number;
}

async function sample(sim: Sim): Promise<Sample> {
  const [node, bare, members, varz] = await Promise.all([
    sim.node.request({ type: "cpu" }, "cpu"),
    sim.bare.request({ type: "cpu" }, "cpu"),
    sim.members.request({ type: "stats" }, "stats"),
    fetch(`http://127.0.0.1:${sim.monitorPort}/varz`).then((r) => r.json() as Promise<{ in_msgs: number; out_msgs: number; slow_consumers: number; now: string }>),
  ]);
  const varzAtMs = Date.parse(varz.now);
  return {
    node: { value: node.cpuUs, atMs: node.atMs },
    bare: { value: bare.cpuUs, atMs: bare.atMs },
    members: { value: members.cpuUs, atMs: members.atMs },
    published: { value: members.published, atMs: members.atMs },
    maxLagMs: members.maxLagMs,
    inMsgs: { value: varz.in_msgs, atMs: varzAtMs },
    outMsgs: { value: varz.out_msgs, atMs: varzAtMs },
    slowConsumers: varz.slow_consumers,
  };
}

/** CPU microseconds over wall milliseconds, as % of one core. */
function cpuPercent(before: Reading, after: Reading): number {
  return (after.value - before.value) / 10 / (after.atMs - before.atMs);
}

function perSecond(before: Reading, after: Reading): number {
  return ((after.value - before.value) * 1000) / (after.atMs - before.atMs);
}

/** A loopback port free right now, for nats-server's monitoring endpoint (`-m`). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls `condition` every 200 ms; false if it has not held within `timeoutMs`. */
async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await sleep(200);
  }
  return true;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
