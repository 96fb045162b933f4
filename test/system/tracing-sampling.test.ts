import { expect } from "chai";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { ActorSystem, MemoryNetwork } from "../../runtime/index.js";
import { GetStats, Ping, Stats } from "../../examples/ping-pong/messages.js";
import { counter } from "../fixtures/counter.js";
import { eventuallyAsync } from "../helpers/conditions.js";
import { startTracing, type TracingHandle } from "../../runtime/tracing/index.js";

describe("tracing: head sampling by trace-id ratio (system tier, in-memory network)", () => {
  let exporter: InMemorySpanExporter;
  let tracing: TracingHandle;
  const saved = { sampler: process.env.OTEL_TRACES_SAMPLER, arg: process.env.OTEL_TRACES_SAMPLER_ARG };

  before(() => {
    process.env.OTEL_TRACES_SAMPLER = "parentbased_traceidratio";
    process.env.OTEL_TRACES_SAMPLER_ARG = "0.5";
    exporter = new InMemorySpanExporter();
    tracing = startTracing({ exporter, serviceName: "sampling-test" });
  });
  after(async () => {
    await tracing.shutdown();
    for (const [key, value] of [["OTEL_TRACES_SAMPLER", saved.sampler], ["OTEL_TRACES_SAMPLER_ARG", saved.arg]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it("sampling: about half of 400 new traces are recorded, each whole (its send and its processing on the other node), none in part", async () => {
    const network = new MemoryNetwork();
    const a = await ActorSystem.start({ name: "sampled", nodeId: "a", transport: network.connect("a"), tracing: true, membership: false });
    const b = await ActorSystem.start({ name: "sampled", nodeId: "b", transport: network.connect("b"), tracing: true, membership: false });
    try {
      const local = b.spawn(counter, { name: "counter" });
      const target = a.refFor(local.address);
      for (let i = 0; i < 400; i++) target.tell(Ping.create({ seq: i }));
      await eventuallyAsync("every Ping processed", async () => (await local.ask(GetStats.create(), Stats)).pings === 400);
      await tracing.forceFlush();
      const spans = exporter.getFinishedSpans().filter((s) => s.attributes["troupe.message.type"] === "troupe.examples.pingpong.Ping");
      const sends = spans.filter((s) => s.attributes["messaging.operation.type"] === "send");
      const processes = spans.filter((s) => s.attributes["messaging.operation.type"] === "process");
      // Binomial(400, 0.5): 200 +- 50 is five standard deviations.
      expect(sends.length).to.be.within(150, 250);
      expect(new Set(processes.map((s) => s.spanContext().traceId))).to.deep.equal(new Set(sends.map((s) => s.spanContext().traceId)));
      expect(processes.every((p) => sends.some((s) => s.spanContext().spanId === p.parentSpanContext?.spanId))).to.equal(true);
    } finally {
      await a.shutdown();
      await b.shutdown();
    }
  });
});
