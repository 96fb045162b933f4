import { expect } from "chai";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { ActorSystem, MemoryNetwork, addressFromWire, defineActor } from "../../runtime/index.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { eventually } from "../helpers/conditions.js";
import { startTracing, type TracingHandle } from "../../runtime/tracing/index.js";

const POISON = -1;

/** Forwards a Ping to the address inside it (as a Pong to that actor), inside a span of its own after an await. */
const relay = defineActor({
  messages: { Ping, GetStats },
  init: () => ({}),
  handlers: {
    Ping: async (_s, ping, ctx) => {
      if (ping.seq === POISON) throw new Error("poisoned relay");
      await Promise.resolve();
      // The user's own span: nests under the processing span, even after the await.
      ctx.tracer!.startActiveSpan("user work", (span) => {
        ctx.refFor(addressFromWire(ping.replyTo)!).tell(Pong.create({ seq: ping.seq }));
        span.end();
      });
    },
    GetStats: (_s, _m, ctx) => ctx.reply(Stats.create({ pings: 1 })),
  },
});
const sink = defineActor({ messages: { Pong }, init: () => ({}), handlers: { Pong: () => undefined } });

describe("tracing (system tier, in-memory network, InMemorySpanExporter)", () => {
  let exporter: InMemorySpanExporter;
  let tracing: TracingHandle;
  let network: MemoryNetwork;
  let a: ActorSystem;
  let b: ActorSystem;

  before(() => {
    exporter = new InMemorySpanExporter();
    tracing = startTracing({ exporter, serviceName: "tracing-test" });
  });
  after(() => tracing.shutdown());
  beforeEach(async () => {
    exporter.reset();
    network = new MemoryNetwork();
    a = await ActorSystem.start({ name: "traced", nodeId: "a", transport: network.connect("a"), tracing: true, membership: false });
    b = await ActorSystem.start({ name: "traced", nodeId: "b", transport: network.connect("b"), tracing: true, membership: false });
  });
  afterEach(async () => {
    await a.shutdown();
    await b.shutdown();
  });

  const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
  const named = (name: string): ReadableSpan[] => spans().filter((s) => s.name === name);
  const parentOf = (span: ReadableSpan): ReadableSpan | undefined => spans().find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId);

  it("spans: a send across nodes is a PRODUCER span, its processing a CONSUMER child, user spans nest, one trace id throughout", async () => {
    const target = a.spawn(sink, { name: "sink" });
    const relayOnB = a.refFor(b.spawn(relay, { name: "relay" }).address);
    trace.getTracer("test").startActiveSpan("root", (root) => {
      relayOnB.tell(Ping.create({ seq: 1, replyTo: target.address }));
      root.end();
    });
    await eventually("the Pong processed on a", () => named("process troupe.examples.pingpong.Pong").length === 1);
    const [root] = named("root");
    const [sendPing] = named("send troupe.examples.pingpong.Ping");
    const [processPing] = named("process troupe.examples.pingpong.Ping");
    const [userWork] = named("user work");
    const [sendPong] = named("send troupe.examples.pingpong.Pong");
    const [processPong] = named("process troupe.examples.pingpong.Pong");
    expect(sendPing!.kind).to.equal(SpanKind.PRODUCER);
    expect(processPing!.kind).to.equal(SpanKind.CONSUMER);
    expect(parentOf(sendPing!)).to.equal(root);
    expect(parentOf(processPing!)).to.equal(sendPing);
    expect(parentOf(userWork!)).to.equal(processPing);
    expect(parentOf(sendPong!)).to.equal(userWork);
    expect(parentOf(processPong!)).to.equal(sendPong);
    expect(new Set(spans().map((s) => s.spanContext().traceId)).size).to.equal(1);
    expect(sendPing!.attributes).to.include({ "messaging.system": "nats", "messaging.destination.name": "troupe.traced.node.b", "messaging.operation.type": "send", "troupe.message.type": "troupe.examples.pingpong.Ping", "troupe.actor.path": "/user/relay", "troupe.node.id": "a" });
    expect(processPing!.attributes).to.include({ "messaging.operation.type": "process", "troupe.actor.path": "/user/relay", "troupe.node.id": "b" });
  });

  it("spans: an ask is a span over its request and reply", async () => {
    const relayRef = b.spawn(relay, { name: "relay" });
    await relayRef.ask(GetStats.create(), Stats);
    const [ask] = named("ask troupe.examples.pingpong.GetStats");
    expect(ask!.kind).to.equal(SpanKind.CLIENT);
    const [sendRequest] = named("send troupe.examples.pingpong.GetStats");
    const [sendReply] = named("send troupe.examples.pingpong.Stats");
    expect(parentOf(sendRequest!)).to.equal(ask);
    expect(parentOf(parentOf(sendReply!)!)).to.equal(sendRequest);
  });

  it("spans: a failed message's span has an error status, the exception and the supervisor's decision; dead letters are error spans", async () => {
    const relayRef = b.spawn(relay, { name: "relay" });
    relayRef.tell(Ping.create({ seq: POISON }));
    await eventually("failure recorded", () => named("process troupe.examples.pingpong.Ping").length === 1 && named("dead-letter troupe.examples.pingpong.Ping").length === 1);
    const [failed] = named("process troupe.examples.pingpong.Ping");
    expect(failed!.status).to.deep.include({ code: SpanStatusCode.ERROR, message: "poisoned relay" });
    expect(failed!.events.map((e) => e.name)).to.include.members(["exception", "troupe.supervision"]);
    expect(failed!.events.find((e) => e.name === "troupe.supervision")!.attributes).to.include({ "troupe.directive": "restart", "troupe.backoff_ms": 0 });
    const [letter] = named("dead-letter troupe.examples.pingpong.Ping");
    expect(letter!.status.code).to.equal(SpanStatusCode.ERROR);
    expect(letter!.attributes).to.include({ "troupe.reason": "handler-failed" });
  });

  it("off: a system without tracing makes no spans", async () => {
    const quiet = await ActorSystem.start({ name: "quiet", nodeId: "q", transport: network.connect("q"), membership: false });
    try {
      const ref = quiet.spawn(relay, { name: "relay" });
      await ref.ask(GetStats.create(), Stats);
      expect(spans().filter((s) => s.attributes["troupe.node.id"] === "q")).to.deep.equal([]);
      expect(spans()).to.deep.equal([]);
    } finally {
      await quiet.shutdown();
    }
  });
});
