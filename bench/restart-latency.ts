import { ActorSystem, MemoryNetwork, connectNats, defineActor, type ActorRef } from "../runtime/index.js";
import { alternate, within, type Benchmark, type BenchContext } from "./benchmark.js";
import { Ack, Blob, Run, blob } from "./messages.js";
import { median, nowMs } from "./stats.js";

/** A Blob with this seq makes the child throw. */
const POISON = -1;

/** Acks every Blob; throws on POISON, so its supervisor restarts it. */
const fragile = defineActor({
  kind: "bench-fragile",
  messages: { Blob },
  init: () => ({}),
  handlers: {
    Blob: (_s, message, ctx) => {
      if (message.seq === POISON) throw new Error("poison");
      ctx.reply(Ack.create({ seq: message.seq }));
    },
  },
});

/** Spawns one `fragile` child where `placement` says and hands its ref out. */
function parentOf(placement: "local" | { node: string }, ready: (child: ActorRef<Blob>) => void) {
  return defineActor({
    messages: { Run },
    init: () => ({}),
    started: (state, ctx) => {
      ready(ctx.spawn(fragile, { name: "child", placement }));
      return state;
    },
    handlers: { Run: () => undefined },
  });
}

/**
 * One round: `n` times, fail the child with a poison message and ask it right behind that; the ask is
 * answered by the new instance, so each sample is failure -> decision -> restart -> next message
 * handled (plus one ask round trip). Baseline: the same ask with no failure in front of it.
 */
async function measure(child: ActorRef<Blob>, n: number, fail: boolean): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = nowMs();
    if (fail) child.tell(blob(POISON));
    const ack = await child.ask(blob(i), Ack, { timeoutMs: 10_000 });
    samples.push(nowMs() - started);
    if (ack.seq !== i) throw new Error(`asked seq ${i}, got Ack ${ack.seq}`);
  }
  return median(samples) * 1000;
}

async function restartFigures(ctx: BenchContext, name: string, child: ActorRef<Blob>, where: string) {
  const n = ctx.quick ? 50 : 300;
  const runs = await alternate(ctx, name, () => measure(child, n, false), () => measure(child, n, true), { show: (us) => `${Math.round(us)} µs` });
  return {
    name,
    value: median(runs.troupe),
    unit: "µs",
    baseline: `ask round trip ${where} without a failure`,
    baselineValue: median(runs.baseline),
    target: { op: "record" as const },
  };
}

/**
 * Restart latency, from a child's failure to its new instance handling the next message: locally
 * (parent and child on one node) and across nodes (the child on a second node over a real nats-server).
 */
export const restartLatency: Benchmark = {
  name: "restart-latency",
  async run(ctx) {
    const supervisor = { maxRestarts: 1_000_000, withinMs: 1 };
    const local = await ActorSystem.start({ name: "bench-restart", nodeId: "local", transport: new MemoryNetwork().connect(), membership: false });
    let localFigure;
    try {
      const child = await new Promise<ActorRef<Blob>>((resolve) => local.spawn(parentOf("local", resolve), { supervisor }));
      localFigure = await restartFigures(ctx, "restart-latency-local", child, "on one node");
    } finally {
      await local.shutdown();
    }

    const { nats } = await ctx.remote();
    const connect = async (nodeId: string) =>
      ActorSystem.start({ name: "bench-restart", nodeId, transport: await connectNats({ servers: nats.url }), kinds: [fragile], types: [Blob, Ack, Run] });
    const host = await connect("host");
    const home = await connect("home");
    try {
      await within(waitForNode(home, "host"), 10_000, () => "the hosting node's first heartbeat");
      const child = await new Promise<ActorRef<Blob>>((resolve) => home.spawn(parentOf({ node: "host" }, resolve), { supervisor }));
      const remoteFigure = await restartFigures(ctx, "restart-latency-remote", child, "between two nodes over nats-server");
      return [localFigure, remoteFigure];
    } finally {
      await home.shutdown();
      await host.shutdown();
    }
  },
};

async function waitForNode(system: ActorSystem, node: string): Promise<void> {
  while (!system.nodes().some((n) => n.node === node)) await new Promise((resolve) => setTimeout(resolve, 20));
}
