// A Troupe node of a given build, for benchmarks that compare builds or tracing modes:
//   node --import tsx bench/build-node.ts --root <dir> --nats <url> --system <name> --node <id> [--tracing off|on] [--processor batch|simple]
// The runtime and the generated messages come from <dir> (this checkout, or the no-tracing build's
// worktree); the harness (bench/tell-flow.ts and what follows) is this file's, the same for every
// build. The driver (bench/build-nodes.ts) starts it and sends it commands over the IPC channel; it
// exits when told to, and by itself when the driver goes away.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { Address, ActorRef, ActorSystem } from "../runtime/index.js";
import type { FromBuildNode, SendResult, ToBuildNode } from "./build-node-protocol.js";
import { DropSpanExporter } from "./drop-span-exporter.js";
import { nowMs } from "./stats.js";
import { startBenchMeters } from "./bench-meters.js";
import { Credit, Receiver, sendBlobs } from "./tell-flow.js";

type Runtime = typeof import("../runtime/index.js");
type BenchProto = typeof import("../proto/gen/examples/bench.js");

const USAGE = "usage: node --import tsx bench/build-node.ts --root <dir> --nats <url> --system <name> --node <id> [--tracing off|on] [--processor batch|simple] [--metrics off|on]";
const { values } = parseArgs({
  options: {
    root: { type: "string" },
    nats: { type: "string" },
    system: { type: "string" },
    node: { type: "string" },
    tracing: { type: "string", default: "off" },
    processor: { type: "string", default: "batch" },
    metrics: { type: "string", default: "off" },
  },
});
const { root, nats, system: systemName, node: nodeId, tracing, processor, metrics } = values;
if (!root || !nats || !systemName || !nodeId || !process.send || !["off", "on"].includes(tracing) || !["batch", "simple"].includes(processor) || !["off", "on"].includes(metrics)) {
  console.error(`${USAGE}\n(bench/build-node.ts is started by bench/run.ts: it needs an IPC channel)`);
  process.exit(2);
}
process.on("disconnect", () => process.exit(0));
const post = (message: FromBuildNode): void => void process.send?.(message);
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const runtime = (await import(pathToFileURL(join(root, "runtime/index.ts")).href)) as Runtime;
// Builds since the packaging change have startTracing in the tracing entry point, older ones in the main one.
const tracingEntry = join(root, "runtime/tracing/index.ts");
const { startTracing } = (existsSync(tracingEntry) ? await import(pathToFileURL(tracingEntry).href) : runtime) as Partial<typeof import("../runtime/tracing/index.js")>;
const { Blob, Ack, Run } = ((await import(pathToFileURL(join(root, "proto/gen/examples/bench.js")).href)) as BenchProto).troupe.bench;
type Blob = InstanceType<typeof Blob>;

const exporter = new DropSpanExporter();
const spans = tracing === "off" ? undefined : await startSpans();
// Only this checkout's runtime has metrics (bench/metrics-on.ts runs no other build with them).
const meterProvider = metrics === "on" ? await startBenchMeters(root) : undefined;

/**
 * Tracing as a deployment has it: the OpenTelemetry SDK for Node, set up before the system starts,
 * with the sampler read from `OTEL_TRACES_SAMPLER` (set by the driver). `simple` goes through
 * `startTracing({ exporter })`, which exports span by span; `batch` (the default) sets up the SDK as
 * `startTracing({ file })` does, a BatchSpanProcessor, with the file exporter replaced by one that drops.
 */
async function startSpans(): Promise<{ flush(): Promise<void> }> {
  if (typeof startTracing !== "function") throw new Error(`the build at ${root} has no tracing`);
  if (processor === "simple") {
    const handle = startTracing({ exporter, nodeId, system: systemName });
    return { flush: () => handle.forceFlush() };
  }
  const { NodeSDK } = await import("@opentelemetry/sdk-node");
  const { BatchSpanProcessor } = await import("@opentelemetry/sdk-trace-base");
  const { resourceFromAttributes } = await import("@opentelemetry/resources");
  const batch = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 200 });
  // As startTracing does: with a trace-id-ratio sampler, new traces are decided by Troupe (builds that have it).
  const rootSamplingModule = join(root!, "runtime/tracing/root-sampling.ts");
  const sampling = existsSync(rootSamplingModule) ? ((await import(pathToFileURL(rootSamplingModule).href)) as typeof import("../runtime/tracing/root-sampling.js")) : undefined;
  const roots = sampling?.setRootSampling(sampling.ratioSamplerFromEnv());
  // And its context manager (builds that have it).
  const contextManagerModule = join(root!, "runtime/tracing/troupe-context-manager.ts");
  const contextManager = existsSync(contextManagerModule) ? await troupeContextManager(contextManagerModule) : undefined;
  new NodeSDK({
    ...(roots && sampling ? { idGenerator: sampling.rootSamplingIdGenerator(roots) } : {}),
    ...(contextManager ? { contextManager } : {}),
    serviceName: "troupe",
    resource: resourceFromAttributes({ "troupe.node.id": nodeId, "troupe.system": systemName }),
    spanProcessors: [batch],
    instrumentations: [],
  }).start();
  return { flush: () => batch.forceFlush() };
}

/** startTracing's context manager of the build at `root`, registered for its systems to find. */
async function troupeContextManager(file: string): Promise<import("@opentelemetry/api").ContextManager> {
  const { TroupeContextManager } = (await import(pathToFileURL(file).href)) as typeof import("../runtime/tracing/troupe-context-manager.js");
  const slot = (await import(pathToFileURL(join(root!, "runtime/tracing/context-manager-slot.ts")).href)) as typeof import("../runtime/tracing/context-manager-slot.js");
  const manager = new TroupeContextManager();
  slot.setFastContextManager(manager);
  return manager;
}

const payload = new Uint8Array(100).map((_, i) => i);
const blob = (seq: number): Blob => Blob.create({ seq, data: payload });

const system: ActorSystem = await runtime.ActorSystem.start({
  name: systemName,
  nodeId,
  transport: await runtime.connectNats({ servers: nats }),
  types: [Blob, Ack],
  ...(spans ? { tracing: true } : {}),
  ...(meterProvider ? { metrics: { meterProvider } } : {}),
});

/** Hands every Blob to a Receiver. */
const sink = runtime.defineActor({
  messages: { Blob },
  init: (receiver: Receiver) => receiver,
  handlers: {
    Blob: (receiver, message) => receiver.receive(message.seq),
  },
});

const credit = new Credit();

async function receive(id: number, n: number): Promise<Address> {
  const receiver = new Receiver(n, (count) => post({ type: "progress", id, count }));
  const ref = system.spawn(sink, { name: `sink-${id}`, props: receiver, mailbox: { capacity: Infinity } });
  const cpu = process.cpuUsage();
  void (async () => {
    try {
      const rate = await receiver.finished;
      const used = process.cpuUsage(cpu);
      await system.stop(ref);
      post({ type: "received", id, rate, cpuUs: used.user + used.system, ...receiver.span });
    } catch (error) {
      post({ type: "unreceived", id, error: messageOf(error) });
    }
  })();
  return ref.address;
}

/** n Blobs to the targets in turn: the i-th target gets Blobs 1..n/k, in order. */
async function send(targets: readonly Address[], n: number): Promise<SendResult> {
  credit.reset();
  const refs = targets.map((target) => system.refFor<Blob>(target));
  const k = refs.length;
  const publish = k === 1 ? (seq: number) => refs[0]!.tell(blob(seq)) : (seq: number) => refs[(seq - 1) % k]!.tell(blob(Math.ceil(seq / k)));
  const cpu = process.cpuUsage();
  const ms = await sendBlobs(n, publish, () => system.transport.flush(), credit);
  const used = process.cpuUsage(cpu);
  return { sent: n, ms, cpuUs: used.user + used.system };
}

/** Distinct messages reused cyclically, as bench/local-tell.ts does. */
const POOL_SIZE = 1024;
const pool = Array.from({ length: POOL_SIZE }, (_, i) => blob(i));
let local: ActorSystem | undefined;

/** Counts Blobs and calls `done` on the n-th (bench/local-tell.ts's actor). */
const counter = runtime.defineActor({
  messages: { Blob },
  init: (props: { n: number; done: () => void }) => ({ count: 0, ...props }),
  handlers: {
    Blob: (state) => {
      if (++state.count === state.n) state.done();
    },
  },
});

/** Answers every Blob with an Ack of the same seq (bench/echo.ts's actor). */
const echo = runtime.defineActor({
  messages: { Blob },
  init: () => undefined,
  handlers: {
    Blob: (_state, message, ctx) => ctx.reply(Ack.create({ seq: message.seq })),
  },
});

/** On Run, asks `target` `count` times in sequence, then calls `done` (bench/local-ask.ts's actor). */
const asker = runtime.defineActor({
  messages: { Run },
  init: (props: { target: ActorRef<Blob>; done: (error?: Error) => void }) => props,
  handlers: {
    Run: async ({ target, done }, run) => {
      for (let i = 0; i < run.count; i++) {
        const request = pool[i & (POOL_SIZE - 1)]!;
        const ack = await target.ask(request, Ack);
        if (ack.seq !== request.seq) return done(new Error(`asked seq ${request.seq}, got Ack ${ack.seq}`));
      }
      done();
    },
  },
});

async function localSystem(): Promise<ActorSystem> {
  return (local ??= await runtime.ActorSystem.start({ name: "local", nodeId: "local", transport: new runtime.MemoryNetwork().connect(), ...(spans ? { tracing: true } : {}), ...(meterProvider ? { metrics: { meterProvider } } : {}) }));
}

/** Actor A asks actor B n times, one ask in flight, on an in-memory node (bench/local-ask.ts); round trips per second. */
async function localAsk(n: number): Promise<number> {
  const system = await localSystem();
  let done!: (error?: Error) => void;
  const finished = new Promise<void>((resolve, reject) => (done = (error) => (error ? reject(error) : resolve())));
  const b = system.spawn(echo);
  const a = system.spawn(asker, { props: { target: b, done } });
  const started = nowMs();
  a.tell(Run.create({ count: n }));
  await finished;
  const rate = n / ((nowMs() - started) / 1000);
  await Promise.all([system.stop(a), system.stop(b)]);
  return rate;
}

/** One sender tells one actor n messages in a synchronous loop, on an in-memory node (bench/local-tell.ts). */
async function localTell(n: number, perCpuSecond = false): Promise<number> {
  const system = await localSystem();
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const ref = system.spawn(counter, { props: { n, done }, mailbox: { capacity: Infinity } });
  const cpu = process.cpuUsage();
  const started = nowMs();
  for (let i = 0; i < n; i++) ref.tell(pool[i & (POOL_SIZE - 1)]!);
  await finished;
  const used = process.cpuUsage(cpu);
  // Per CPU second: what the process spent, whatever else the machine ran meanwhile.
  const rate = perCpuSecond ? n / ((used.user + used.system) / 1e6) : n / ((nowMs() - started) / 1000);
  await system.stop(ref);
  return rate;
}

async function answer(id: number, work: () => Promise<Address | SendResult | number>): Promise<void> {
  try {
    post({ type: "reply", id, value: await work() });
  } catch (error) {
    post({ type: "failed", id, error: messageOf(error) });
  }
}

async function exit(): Promise<void> {
  try {
    await local?.shutdown();
    await system.shutdown();
  } finally {
    process.exit(0);
  }
}

process.on("message", (message: ToBuildNode) => {
  switch (message.type) {
    case "receive":
      void answer(message.id, () => receive(message.id, message.n));
      break;
    case "send":
      void answer(message.id, () => send(message.targets, message.n));
      break;
    case "ack":
      credit.ack(message.count);
      break;
    case "local":
      void answer(message.id, () => (message.kind === "ask" ? localAsk(message.n) : localTell(message.n, message.kind === "tell-cpu")));
      break;
    case "spans":
      void answer(message.id, async () => {
        await spans?.flush();
        return exporter.exported;
      });
      break;
    case "exit":
      void exit();
      break;
  }
});
post({ type: "ready" });
