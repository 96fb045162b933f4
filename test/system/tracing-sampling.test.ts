import { expect } from "chai";
import { context, trace, type SpanContext } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { ActorSystem, MemoryNetwork, addressFromWire, defineActor } from "../../runtime/index.js";
import { encodeFrame } from "../../runtime/codec/frame-codec.js";
import { GetStats, Ping, Stats } from "../../examples/ping-pong/messages.js";
import { counter } from "../fixtures/counter.js";
import { eventually, eventuallyAsync } from "../helpers/conditions.js";
import { startTracing, type TracingHandle } from "../../runtime/tracing/index.js";

/** Tells every Ping on to the actor at its `replyTo`: a second hop in the same trace. */
const forwarder = defineActor({
  messages: { Ping },
  init: () => ({}),
  handlers: {
    Ping: (_s, ping, ctx) => ctx.refFor(addressFromWire(ping.replyTo)!).tell(ping),
  },
});

/** The span context each Ping was processed in, by seq. */
const seen = new Map<number, SpanContext>();
const witness = defineActor({
  messages: { Ping },
  init: () => ({}),
  handlers: {
    Ping: (_s, ping) => {
      const current = trace.getSpan(context.active());
      if (current) seen.set(ping.seq, current.spanContext());
    },
  },
});

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

  describe("over two hops (a sends, b forwards, c processes)", () => {
    let network: MemoryNetwork;
    let systems: ActorSystem[];
    let c: ActorSystem;
    let viaB: ReturnType<ActorSystem["spawn"]>;
    let witnessOnC: ReturnType<ActorSystem["spawn"]>;
    beforeEach(async () => {
      exporter.reset();
      seen.clear();
      network = new MemoryNetwork();
      systems = await Promise.all(["a", "b", "c"].map((nodeId) => ActorSystem.start({ name: "hops", nodeId, transport: network.connect(nodeId), tracing: true, membership: false })));
      c = systems[2]!;
      viaB = systems[1]!.spawn(forwarder, { name: "forwarder" });
      witnessOnC = c.spawn(witness, { name: "witness" });
    });
    afterEach(() => Promise.all(systems.map((s) => s.shutdown())));

    const spansOf = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);

    it("sampling: each of 200 new traces is recorded on every node or on none, and every hop runs in its trace with its decision", async () => {
      const target = systems[0]!.refFor(viaB.address);
      for (let seq = 0; seq < 200; seq++) target.tell(Ping.create({ seq, replyTo: witnessOnC.address }));
      await eventually("every Ping processed on c", () => seen.size === 200);
      await tracing.forceFlush();
      const contexts = [...seen.values()];
      expect(new Set(contexts.map((s) => s.traceId)).size).to.equal(200);
      expect(contexts.every((s) => /^[0-9a-f]{32}$/.test(s.traceId) && !/^0+$/.test(s.traceId))).to.equal(true);
      const sampled = contexts.filter((s) => s.traceFlags & 1);
      // Binomial(200, 0.5): 100 +- 35 is five standard deviations.
      expect(sampled.length).to.be.within(65, 135);
      for (const s of sampled) {
        const names = spansOf(s.traceId).map((span) => `${span.name} on ${String(span.attributes["troupe.node.id"])}`);
        expect(names.sort()).to.deep.equal(["process /user/forwarder on b", "process /user/witness on c", "send troupe.hops.node.{node} on a", "send troupe.hops.node.{node} on b"]);
      }
      for (const s of contexts.filter((s) => !(s.traceFlags & 1))) expect(spansOf(s.traceId)).to.deep.equal([]);
    });

    it("unsampled: a plain NATS client's unsampled traceparent is the trace of both hops, passed on unchanged, and nothing is recorded", async () => {
      const client = network.connect("client");
      const send = (seq: number, traceparent: string) =>
        client.publish(systems[1]!.inboxSubject, encodeFrame([{ target: "/user/forwarder", typeName: "troupe.examples.pingpong.Ping", type: Ping, message: Ping.create({ seq, replyTo: witnessOnC.address }), sender: undefined, headers: { traceparent } }]));
      send(1, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
      // Sampled by the client: recorded on both nodes, under the client's span.
      send(2, "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
      await eventually("both Pings processed on c", () => seen.size === 2);
      expect(seen.get(1)).to.include({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 0 });
      expect(seen.get(2)).to.include({ traceId: "5bf92f3577b34da6a3ce929d0e0e4736", traceFlags: 1 });
      await tracing.forceFlush();
      expect(spansOf("4bf92f3577b34da6a3ce929d0e0e4736")).to.deep.equal([]);
      const recorded = spansOf("5bf92f3577b34da6a3ce929d0e0e4736");
      expect(recorded.map((span) => span.name).sort()).to.deep.equal(["process /user/forwarder", "process /user/witness", "send troupe.hops.node.{node}"]);
      expect(recorded.find((span) => span.name === "process /user/forwarder")?.parentSpanContext?.spanId).to.equal("00f067aa0ba902b7");
      await client.close();
    });
  });
});
