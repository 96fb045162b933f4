// The child of bench/tracing-cpu.ts: node --import tsx bench/tracing-cpu-child.ts <ratio> <rounds>
// Prints one JSON line: { off, on } in µs of CPU per message, sender and receiver together.
import { createRequire } from "node:module";
import { ActorSystem, MemoryNetwork, defineActor, type ActorRef } from "../runtime/index.js";
import { rootSamplingIdGenerator, ratioSamplerFromEnv, setRootSampling } from "../runtime/tracing/root-sampling.js";
import { TroupeContextManager } from "../runtime/tracing/troupe-context-manager.js";
import { setFastContextManager } from "../runtime/tracing/context-manager-slot.js";
import { DropSpanExporter } from "./drop-span-exporter.js";
import { Blob } from "./messages.js";

const [ratio = "0.01", roundsArg = "3000"] = process.argv.slice(2);
const rounds = Number(roundsArg);
/** Messages per burst: small enough that machine-wide drift is the same for both sides of a pair of bursts. */
const BURST = 500;

// The SDK as bench/build-node.ts sets it up for `batch` (as startTracing({ file }) does), spans dropped.
process.env.OTEL_TRACES_SAMPLER = "parentbased_traceidratio";
process.env.OTEL_TRACES_SAMPLER_ARG = ratio;
const require = createRequire(import.meta.url);
const { NodeSDK } = require("@opentelemetry/sdk-node") as typeof import("@opentelemetry/sdk-node");
const { BatchSpanProcessor } = require("@opentelemetry/sdk-trace-base") as typeof import("@opentelemetry/sdk-trace-base");
const roots = setRootSampling(ratioSamplerFromEnv());
const contextManager = new TroupeContextManager();
setFastContextManager(contextManager);
new NodeSDK({ idGenerator: rootSamplingIdGenerator(roots!), contextManager, serviceName: "troupe", spanProcessors: [new BatchSpanProcessor(new DropSpanExporter(), { scheduledDelayMillis: 200 })], instrumentations: [] }).start();

let received = 0;
const sink = defineActor({ messages: { Blob }, init: () => ({}), handlers: { Blob: () => void received++ } });
const network = new MemoryNetwork();
/** A sender and a receiver node over the in-memory network; returns the sender's ref to the receiver's sink. */
async function pair(system: string, tracing: boolean): Promise<ActorRef<Blob>> {
  const start = (node: string) => ActorSystem.start({ name: system, nodeId: node, transport: network.connect(`${system}-${node}`), membership: false, tracing });
  const [sender, receiver] = [await start("sender"), await start("receiver")];
  return sender.refFor(receiver.spawn(sink, { name: "sink" }).address);
}
const targets = { off: await pair("bench-off", false), on: await pair("bench-pct", true) };
const payload = new Uint8Array(100).map((_, i) => i);
const blobs = Array.from({ length: 64 }, (_, seq) => Blob.create({ seq, data: payload }));
const cpu = { off: 0, on: 0 };
const warmup = Math.ceil(rounds / 4);
for (let round = 0; round < warmup + rounds; round++) {
  for (const side of round % 2 ? (["off", "on"] as const) : (["on", "off"] as const)) {
    const before = process.cpuUsage();
    const want = received + BURST;
    for (let i = 0; i < BURST; i++) targets[side].tell(blobs[i & 63]!);
    while (received < want) await new Promise((resolve) => setImmediate(resolve));
    const used = process.cpuUsage(before);
    if (round >= warmup) cpu[side] += used.user + used.system;
  }
}
const perMessage = (us: number): number => us / (rounds * BURST);
console.log(JSON.stringify({ off: perMessage(cpu.off), on: perMessage(cpu.on) }));
process.exit(0);
