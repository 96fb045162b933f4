import type { Address } from "../runtime/index.js";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { rotate, within, type BenchContext, type Benchmark, type Figure } from "./benchmark.js";
import { BuildNode } from "./build-nodes.js";
import type { ReceiveResult } from "./build-node-protocol.js";
import { median } from "./stats.js";

/** The processes of one system: two receiver nodes and two sender nodes, each its own process. */
const RECEIVERS = ["r1", "r2"] as const;
const SENDERS = ["s1", "s2"] as const;
type NodeName = (typeof RECEIVERS)[number] | (typeof SENDERS)[number];

/** One stream of a round: a sender telling `n` Blobs to a sink on a receiver (several streams may share a process). */
interface Stream {
  readonly sender: (typeof SENDERS)[number];
  readonly receiver: (typeof RECEIVERS)[number];
}

/** The three shapes compared; every round moves the same total of messages. */
const SHAPES = {
  "1x1": [{ sender: "s1", receiver: "r1" }],
  "2 senders to 1 receiver": [
    { sender: "s1", receiver: "r1" },
    { sender: "s2", receiver: "r1" },
  ],
  "1 sender to 2 receivers": [
    { sender: "s1", receiver: "r1" },
    { sender: "s1", receiver: "r2" },
  ],
} as const satisfies Record<string, readonly Stream[]>;
type Shape = keyof typeof SHAPES;

/** One round of a shape: messages per second over all its streams, and each busy process's CPU time per message. */
interface ScalingRound {
  readonly rate: number;
  readonly cpuUs: Partial<Record<NodeName, number>>;
}

/**
 * Issue 7's "throughput scaling: two sender nodes to one receiver, one sender to two receivers —
 * recorded, with the CPU of each process". Four node processes of this checkout in one system over the
 * suite's nats-server, running bench/build-node.ts (the harness of bench/remote-tell.ts and
 * tracing-off). Each round moves n 100-byte Blobs by remote tell in one of three shapes, rounds taking
 * the shapes in turn: one sender to one receiver (the baseline); two senders to one receiver node (n/2
 * each, to a sink each); one sender to two receiver nodes (n/2 to each, in turn). The figure is messages
 * per second from the first message received anywhere to the last; CPU time per message (user +
 * system, process.cpuUsage()) of every process that took part, divided by all n messages.
 */
export const throughputScaling: Benchmark = {
  name: "throughput-scaling",
  async run(ctx) {
    const { nats } = await ctx.remote();
    const execArgv = ctx.childExecArgv ?? [];
    const names = [...RECEIVERS, ...SENDERS];
    const started = await Promise.allSettled(names.map((nodeId) => BuildNode.start({ root: PROJECT_ROOT, natsUrl: nats.url, system: "bench-scale", nodeId, tracing: "off", execArgv })));
    const nodes = Object.fromEntries(started.flatMap((s, i) => (s.status === "fulfilled" ? [[names[i]!, s.value]] : []))) as Record<NodeName, BuildNode>;
    try {
      const failure = started.find((s) => s.status === "rejected");
      if (failure) throw failure.reason;
      if (execArgv.length > 0) ctx.log(`  throughput-scaling: pids ${names.map((name) => `${name} ${nodes[name].pid}`).join(", ")}`);
      const n = ctx.quick ? 100_000 : 400_000;
      const sizeOf = (warmup: boolean): number => (warmup ? n / 4 : n);
      const sides = Object.fromEntries(Object.entries(SHAPES).map(([shape, streams]) => [shape, (warmup: boolean) => scalingRound(nodes, streams, sizeOf(warmup))])) as Record<Shape, (warmup: boolean) => Promise<ScalingRound>>;
      const rounds = await rotate(ctx, "throughput-scaling", sides, { show: (r) => Math.round(r.rate).toLocaleString("en-US"), reverseEveryOther: true });
      for (const shape of Object.keys(SHAPES) as Shape[]) logCpu(ctx, shape, rounds[shape]);
      const single = median(rounds["1x1"].map((r) => r.rate));
      const baseline = "1 sender to 1 receiver, same run";
      return [
        { name: "throughput-scaling-2-senders", value: median(rounds["2 senders to 1 receiver"].map((r) => r.rate)), unit: "msg/s", baseline, baselineValue: single, target: { op: "record" } },
        { name: "throughput-scaling-2-receivers", value: median(rounds["1 sender to 2 receivers"].map((r) => r.rate)), unit: "msg/s", baseline, baselineValue: single, target: { op: "record" } },
        ...(["2 senders to 1 receiver", "1 sender to 2 receivers"] as const).flatMap((shape) => cpuFigures(shape, rounds[shape], rounds["1x1"])),
      ];
    } finally {
      await Promise.all(Object.values(nodes).map((node) => node.stop()));
    }
  },
};

/** Runs one round: a sink per stream, every sender's streams started at once, acks relayed per sender. */
async function scalingRound(nodes: Record<NodeName, BuildNode>, streams: readonly Stream[], n: number): Promise<ScalingRound> {
  const perStream = n / streams.length;
  const sinks = await Promise.all(streams.map((s) => nodes[s.receiver].receive(perStream)));
  // Each sender's credit is what its own sinks have counted, together.
  const counts = new Map<Address, number>();
  const senderOf = new Map<Address, (typeof SENDERS)[number]>(streams.map((s, i) => [sinks[i]!.address, s.sender]));
  for (const name of RECEIVERS) {
    nodes[name].onProgress = (count, sink) => {
      counts.set(sink, count);
      const sender = senderOf.get(sink);
      if (sender === undefined) return;
      let total = 0;
      for (const [address, c] of counts) if (senderOf.get(address) === sender) total += c;
      nodes[sender].ack(total);
    };
  }
  const senders = [...new Set(streams.map((s) => s.sender))];
  const sends = senders.map((sender) => {
    const targets = sinks.filter((_, i) => streams[i]!.sender === sender).map((sink) => sink.address);
    return nodes[sender].send(targets, perStream * targets.length).then((sent) => [sender, sent.cpuUs] as const);
  });
  const received = within(
    Promise.all(sinks.map((sink) => sink.finished)),
    60_000,
    () => `throughput-scaling: receiving ${n} Blobs`,
  );
  const [sent, ends] = await Promise.all([Promise.all(sends), received]);
  const first = Math.min(...ends.map((e) => e.firstAtMs));
  const last = Math.max(...ends.map((e) => e.lastAtMs));
  const cpuUs: Partial<Record<NodeName, number>> = {};
  for (const [sender, us] of sent) cpuUs[sender] = us / n;
  // A receiver with two sinks: each sink's CPU runs from its spawn to its end; the later end covers the round.
  streams.forEach((s, i) => (cpuUs[s.receiver] = Math.max(cpuUs[s.receiver] ?? 0, (ends[i] as ReceiveResult).cpuUs / n)));
  return { rate: (n - 1) / ((last - first) / 1000), cpuUs };
}

/**
 * CPU figures of a shape: all its processes together, then each process, against the 1x1 round's
 * (a sender against s1's, a receiver against r1's).
 */
function cpuFigures(shape: Shape, rounds: readonly ScalingRound[], single: readonly ScalingRound[]): Figure[] {
  const prefix = `throughput-scaling-${shape === "2 senders to 1 receiver" ? "2-senders" : "2-receivers"}-cpu`;
  const of = (rs: readonly ScalingRound[], name: NodeName): number => median(rs.map((r) => r.cpuUs[name] ?? 0));
  const names = Object.keys(rounds[0]!.cpuUs) as NodeName[];
  return [
    { name: prefix, value: totalCpu(rounds), unit: "µs/msg", baseline: "1 sender to 1 receiver; CPU of all processes", baselineValue: totalCpu(single), target: { op: "record" } },
    ...names.map((name): Figure => {
      const peer = name.startsWith("s") ? "s1" : "r1";
      return { name: `${prefix}-${name}`, value: of(rounds, name), unit: "µs/msg", baseline: `1 sender to 1 receiver; ${peer}'s CPU`, baselineValue: of(single, peer), target: { op: "record" } };
    }),
  ];
}

/** The median CPU time per message of every process that took part in all rounds together, in µs. */
function totalCpu(rounds: readonly ScalingRound[]): number {
  return median(rounds.map((r) => Object.values(r.cpuUs).reduce((a, b) => a + b, 0)));
}

/** Logs each process's median CPU time per message for a shape. */
function logCpu(ctx: BenchContext, shape: Shape, rounds: readonly ScalingRound[]): void {
  const names = Object.keys(rounds[0]!.cpuUs) as NodeName[];
  const each = names.map((name) => `${name} ${median(rounds.map((r) => r.cpuUs[name] ?? 0)).toFixed(2)} µs`);
  ctx.log(`  ${shape}: CPU per message (median): ${each.join(", ")}; all ${totalCpu(rounds).toFixed(2)} µs`);
}
