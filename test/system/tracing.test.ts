import { expect } from "chai";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, type SpanContext } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { ActorSystem, MemoryNetwork, addressFromWire, defineActor } from "../../runtime/index.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { eventually } from "../helpers/conditions.js";
import { startTracing, type TracingHandle } from "../../runtime/tracing/index.js";
import { encodeFrame } from "../../runtime/codec/frame-codec.js";
import { TRACE_CONTEXT } from "../../runtime/codec/trace-context.js";
import { traceContextFromSpan } from "../../runtime/tracing/binary-context.js";

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

/** The span contexts its handler ran in, one per Pong. */
const seen: SpanContext[] = [];
const witness = defineActor({
  messages: { Pong },
  init: () => ({}),
  handlers: {
    Pong: () => {
      const current = trace.getSpan(context.active());
      if (current) seen.push(current.spanContext());
    },
  },
});

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
  /** Spans of one messaging operation on one message type (their names say where, not what). */
  const op = (operation: "send" | "process", type: string): ReadableSpan[] =>
    spans().filter((s) => s.attributes["messaging.operation.type"] === operation && s.attributes["troupe.message.type"] === type);
  const parentOf = (span: ReadableSpan): ReadableSpan | undefined => spans().find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId);

  it("spans: a send across nodes is a PRODUCER span, its processing a CONSUMER child, user spans nest, one trace id throughout", async () => {
    const target = a.spawn(sink, { name: "sink" });
    const relayOnB = a.refFor(b.spawn(relay, { name: "relay" }).address);
    trace.getTracer("test").startActiveSpan("root", (root) => {
      relayOnB.tell(Ping.create({ seq: 1, replyTo: target.address }));
      root.end();
    });
    await eventually("the Pong processed on a", () => op("process", "troupe.examples.pingpong.Pong").length === 1);
    const [root] = named("root");
    const [sendPing] = op("send", "troupe.examples.pingpong.Ping");
    const [processPing] = op("process", "troupe.examples.pingpong.Ping");
    const [userWork] = named("user work");
    const [sendPong] = op("send", "troupe.examples.pingpong.Pong");
    const [processPong] = op("process", "troupe.examples.pingpong.Pong");
    expect(sendPing!.kind).to.equal(SpanKind.PRODUCER);
    expect(processPing!.kind).to.equal(SpanKind.CONSUMER);
    expect(parentOf(sendPing!)).to.equal(root);
    expect(parentOf(processPing!)).to.equal(sendPing);
    expect(parentOf(userWork!)).to.equal(processPing);
    expect(parentOf(sendPong!)).to.equal(userWork);
    expect(parentOf(processPong!)).to.equal(sendPong);
    expect(new Set(spans().map((s) => s.spanContext().traceId)).size).to.equal(1);
    // Messaging conventions: names by destination template (low cardinality), the subject, a message id both sides share, the body size.
    expect(sendPing!.name).to.equal("send troupe.traced.node.{node}");
    expect(sendPing!.attributes).to.include({ "messaging.system": "nats", "messaging.destination.name": "troupe.traced.node.b", "messaging.destination.template": "troupe.traced.node.{node}", "messaging.operation.type": "send", "messaging.operation.name": "send", "troupe.message.type": "troupe.examples.pingpong.Ping", "troupe.actor.path": "/user/relay", "troupe.node.id": "a" });
    expect(sendPing!.attributes["messaging.message.body.size"], "the Ping's encoded size").to.equal(Ping.encode(Ping.create({ seq: 1, replyTo: target.address })).finish().length);
    expect(processPing!.name).to.equal("process /user/relay");
    expect(processPing!.attributes).to.include({ "messaging.operation.type": "process", "messaging.operation.name": "process", "troupe.actor.path": "/user/relay", "troupe.node.id": "b" });
    expect(processPing!.attributes["messaging.message.id"]).to.be.a("string").and.equal(sendPing!.attributes["messaging.message.id"]);
    expect(sendPing!.attributes["messaging.message.id"], "the id of the message's PRODUCER span, which its trace context carries").to.equal(sendPing!.spanContext().spanId);
    expect(sendPong!.attributes["messaging.message.id"]).to.not.equal(sendPing!.attributes["messaging.message.id"]);
  });

  it("spans: a message's id is its send span's, locally, under a sampled remote context made current (a send span each), and from an older node's header", async () => {
    const local = a.spawn(sink, { name: "local" });
    const remote = a.refFor(b.spawn(sink, { name: "remote" }).address);
    trace.getTracer("test").startActiveSpan("root", (root) => {
      local.tell(Pong.create({ seq: 1 }));
      root.end();
    });
    // A context from elsewhere (a service's cached answer runs under one): each send is a message of its own.
    const remoteParent = trace.setSpanContext(ROOT_CONTEXT, { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1, isRemote: true });
    context.with(remoteParent, () => {
      remote.tell(Pong.create({ seq: 2 }));
      remote.tell(Pong.create({ seq: 3 }));
    });
    await eventually("three processed", () => op("process", "troupe.examples.pingpong.Pong").length === 3);
    const sends = op("send", "troupe.examples.pingpong.Pong");
    expect(sends.map((s) => s.kind)).to.deep.equal([SpanKind.PRODUCER, SpanKind.PRODUCER, SpanKind.PRODUCER]);
    for (const processed of op("process", "troupe.examples.pingpong.Pong")) {
      const send = parentOf(processed)!;
      expect(sends, "each processing is a child of its own send").to.include(send);
      expect(processed.attributes["messaging.message.id"]).to.equal(send.spanContext().spanId).and.equal(send.attributes["messaging.message.id"]);
    }
    expect(new Set(sends.map((s) => s.attributes["messaging.message.id"])).size).to.equal(3);
    // A node before the id came from the span sent it as a header: still read.
    const bytes = traceContextFromSpan({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "00f067aa0ba902b7", traceFlags: 1 })!;
    const frame = encodeFrame([{ target: "/user/remote", typeName: "troupe.examples.pingpong.Pong", type: Pong, message: Pong.create({ seq: 4 }), sender: undefined, headers: { "troupe-message-id": "old-7", [TRACE_CONTEXT]: bytes } }]);
    network.connect("older").publish("troupe.traced.node.b", frame);
    await eventually("the older node's message processed", () => op("process", "troupe.examples.pingpong.Pong").length === 4);
    const older = op("process", "troupe.examples.pingpong.Pong").find((s) => s.parentSpanContext?.spanId === "00f067aa0ba902b7");
    expect(older!.attributes["messaging.message.id"]).to.equal("old-7");
  });

  it("spans: an ask is a span over its request and reply", async () => {
    const relayRef = b.spawn(relay, { name: "relay" });
    await relayRef.ask(GetStats.create(), Stats);
    const [ask] = named("ask troupe.examples.pingpong.GetStats");
    expect(ask!.kind).to.equal(SpanKind.CLIENT);
    const [sendRequest] = op("send", "troupe.examples.pingpong.GetStats");
    const [sendReply] = op("send", "troupe.examples.pingpong.Stats");
    expect(parentOf(sendRequest!)).to.equal(ask);
    expect(parentOf(parentOf(sendReply!)!)).to.equal(sendRequest);
  });

  it("spans: a failed message's span has an error status, the exception and the supervisor's decision; dead letters are error spans", async () => {
    const relayRef = b.spawn(relay, { name: "relay" });
    relayRef.tell(Ping.create({ seq: POISON }));
    await eventually("failure recorded", () => op("process", "troupe.examples.pingpong.Ping").length === 1 && named("dead-letter troupe.examples.pingpong.Ping").length === 1);
    const [failed] = op("process", "troupe.examples.pingpong.Ping");
    expect(failed!.status).to.deep.include({ code: SpanStatusCode.ERROR, message: "poisoned relay" });
    expect(failed!.events.map((e) => e.name)).to.include.members(["exception", "troupe.supervision"]);
    expect(failed!.events.find((e) => e.name === "troupe.supervision")!.attributes).to.include({ "troupe.directive": "restart", "troupe.backoff_ms": 0 });
    const [letter] = named("dead-letter troupe.examples.pingpong.Ping");
    expect(letter!.status.code).to.equal(SpanStatusCode.ERROR);
    expect(letter!.attributes).to.include({ "troupe.reason": "handler-failed" });
  });

  it("spans: a message a full mailbox drops (drop-oldest) is a dead-letter span in its own trace, under its send", async () => {
    const small = b.spawn(sink, { name: "small", mailbox: { capacity: 1, overflow: "drop-oldest" } });
    for (let seq = 1; seq <= 3; seq++) small.tell(Pong.create({ seq }));
    await eventually("two dead letters", () => named("dead-letter troupe.examples.pingpong.Pong").length === 2);
    for (const letter of named("dead-letter troupe.examples.pingpong.Pong")) {
      expect(letter.attributes).to.include({ "troupe.reason": "mailbox-overflow" });
      const send = parentOf(letter);
      expect(send?.attributes["messaging.operation.type"], "its parent is its send").to.equal("send");
      expect(send!.spanContext().traceId).to.equal(letter.spanContext().traceId);
    }
  });

  it("unsampled: under an unsampled span nothing is recorded on any node, yet every hop runs in that trace, its decision passed on", async () => {
    seen.length = 0;
    const target = a.spawn(witness, { name: "witness" });
    const relayOnB = a.refFor(b.spawn(relay, { name: "relay" }).address);
    const unsampled = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 0 };
    context.with(trace.setSpanContext(ROOT_CONTEXT, unsampled), () => relayOnB.tell(Ping.create({ seq: 2, replyTo: target.address })));
    // The relay's Pong reaches a (through b's handler, after an await, inside a user span that is not sampled either).
    await eventually("the Pong processed on a", () => seen.length === 1);
    expect(seen[0]).to.include({ traceId: unsampled.traceId, traceFlags: 0 });
    await tracing.forceFlush();
    expect(spans().filter((s) => s.spanContext().traceId === unsampled.traceId).map((s) => s.name)).to.deep.equal([]);
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
