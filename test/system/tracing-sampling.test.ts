import { expect } from "chai";
import { context, trace, type SpanContext } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { ActorSystem, MemoryNetwork, addressFromWire, defineActor } from "../../runtime/index.js";
import { decodeFrame, encodeFrame } from "../../runtime/codec/frame-codec.js";
import { TRACE_CONTEXT } from "../../runtime/codec/trace-context.js";
import type { RemoteEndpoint } from "../../runtime/remote-endpoint.js";
import { traceContextFromTraceparent } from "../../runtime/tracing/binary-context.js";
import { GetStats, Ping, Stats } from "../../examples/ping-pong/messages.js";
import { counter } from "../fixtures/counter.js";
import { eventually, eventuallyAsync } from "../helpers/conditions.js";
import { startTracing, type TracingHandle } from "../../runtime/tracing/index.js";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { ManualMetricReader } from "../helpers/metric-points.js";

/** Tells every Ping on to the actor at its `replyTo`: a second hop in the same trace. */
const forwarder = defineActor({
  messages: { Ping },
  init: () => ({}),
  handlers: {
    Ping: (_s, ping, ctx) => ctx.refFor(addressFromWire(ping.replyTo)!).tell(ping),
  },
});

/** As `forwarder`, after an await: its send must still be in the message's trace. */
const asyncForwarder = defineActor({
  messages: { Ping },
  init: () => ({}),
  handlers: {
    Ping: async (_s, ping, ctx) => {
      await new Promise((resolve) => setImmediate(resolve));
      ctx.refFor(addressFromWire(ping.replyTo)!).tell(ping);
    },
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

    it("wire: an unsampled trace travels as its decision alone (trace_context 00) until a handler asks for its ids; drawn there, they travel on from that node", async () => {
      const sniffer = network.connect("sniffer");
      const frames = { toB: [] as Uint8Array[], toC: [] as Uint8Array[] };
      sniffer.subscribe(systems[1]!.inboxSubject, (m) => void frames.toB.push(m.data));
      sniffer.subscribe(c.inboxSubject, (m) => void frames.toC.push(m.data));
      // b looks at the ids of the odd Pings (as a log line would) before it forwards them.
      const lookedAtOnB = new Map<number, SpanContext>();
      const looking = systems[1]!.spawn(
        defineActor({
          messages: { Ping },
          init: () => ({}),
          handlers: {
            Ping: (_s, ping, ctx) => {
              if (ping.seq % 2 === 1) lookedAtOnB.set(ping.seq, trace.getSpan(context.active())!.spanContext());
              ctx.refFor(addressFromWire(ping.replyTo)!).tell(ping);
            },
          },
        }),
        { name: "looking" },
      );
      const target = systems[0]!.refFor(looking.address);
      for (let seq = 0; seq < 60; seq++) target.tell(Ping.create({ seq, replyTo: witnessOnC.address }));
      await eventually("every Ping processed on c", () => seen.size === 60);
      const contextsOf = (list: Uint8Array[]) => new Map(list.flatMap((f) => decodeFrame(f)).filter((e) => e.type === "troupe.examples.pingpong.Ping").map((e) => [Ping.decode(e.payload!).seq, e.traceContext!] as const));
      const [toB, toC] = [contextsOf(frames.toB), contextsOf(frames.toC)];
      const unsampled = [...seen].filter(([, s]) => !(s.traceFlags & 1)).map(([seq]) => seq);
      expect(unsampled.length, "some of 60 unsampled at 0.5").to.be.within(5, 55);
      for (const seq of unsampled) {
        expect(Array.from(toB.get(seq)!), `Ping ${seq} from a: nobody asked`).to.deep.equal([0]);
        const onC = seen.get(seq)!;
        expect(onC.traceId, "ids drawn on c when its handler asked").to.match(/^[0-9a-f]{32}$/).and.not.match(/^0+$/);
        if (seq % 2 === 0) expect(Array.from(toC.get(seq)!), `Ping ${seq} from b: nobody asked on b either`).to.deep.equal([0]);
        else {
          expect(toC.get(seq)!.length, `Ping ${seq} from b: asked on b, so the ids travel`).to.equal(29);
          expect(onC).to.include({ traceId: lookedAtOnB.get(seq)!.traceId, spanId: lookedAtOnB.get(seq)!.spanId, traceFlags: 0 });
        }
      }
      for (const [seq, s] of seen) if (s.traceFlags & 1) expect(toB.get(seq)!.length, `sampled Ping ${seq}: with its ids`).to.equal(29);
      await tracing.forceFlush();
      for (const seq of unsampled) expect(spansOf(seen.get(seq)!.traceId)).to.deep.equal([]);
      await sniffer.close();
    });

    it("unsampled: a trace without ids gets its context when the handler first reads it: one per message, the same at every read and across awaits, told locally or from another node", async () => {
      const reads = new Map<string, string[]>();
      const read = (key: string) => {
        const { traceId, spanId, traceFlags } = trace.getSpan(context.active())!.spanContext();
        reads.set(key, [...(reads.get(key) ?? []), `${traceId}-${spanId}-${traceFlags}`]);
      };
      const readers = {
        sync: c.spawn(defineActor({ messages: { Ping }, init: () => ({}), handlers: { Ping: (_s, ping) => void (read(`sync ${ping.seq}`), read(`sync ${ping.seq}`)) } }), { name: "sync-reader" }),
        async: c.spawn(
          defineActor({
            messages: { Ping },
            init: () => ({}),
            handlers: {
              Ping: async (_s, ping) => {
                read(`async ${ping.seq}`);
                await new Promise((resolve) => setImmediate(resolve));
                read(`async ${ping.seq}`);
              },
            },
          }),
          { name: "async-reader" },
        ),
      };
      for (let seq = 0; seq < 40; seq++) {
        // Half told on c itself (a local tell from plain code), half from a; each starts a trace.
        for (const reader of [readers.sync, readers.async]) (seq % 2 ? c.refFor(reader.address) : systems[0]!.refFor(reader.address)).tell(Ping.create({ seq }));
      }
      await eventually("both reads of every Ping", () => reads.size === 80 && [...reads.values()].every((r) => r.length === 2));
      const unsampled = [...reads].filter(([, [first]]) => first!.endsWith("-0"));
      expect(unsampled.length, "some of 80 unsampled at 0.5").to.be.within(10, 70);
      for (const [key, [first, second]] of unsampled) {
        expect(second, `${key}: both reads`).to.equal(first);
        expect(first, `${key}: real ids`).to.match(/^[0-9a-f]{32}-[0-9a-f]{16}-0$/).and.not.match(/^0{32}|-0{16}-/);
      }
      expect(new Set(unsampled.map(([, [first]]) => first!.slice(0, 32))).size, "a trace of its own for every message").to.equal(unsampled.length);
    });

    it("unsampled: sends made before a handler reads its trace pass it on without ids (each receiver draws its own, locally as over the wire); sends after the read carry the handler's", async () => {
      const traceOf = () => trace.getSpan(context.active())!.spanContext();
      const ids = new Map<string, string>();
      const reader = defineActor({ messages: { Ping }, init: () => ({}), handlers: { Ping: (_s, ping, ctx) => void ids.set(`${ctx.self.address.path} ${ping.seq}`, traceOf().traceId) } });
      const [left, right] = [c.spawn(reader, { name: "left" }), c.spawn(reader, { name: "right" })];
      const fan = c.spawn(
        defineActor({
          messages: { Ping },
          init: () => ({}),
          handlers: {
            Ping: (_s, ping, ctx) => {
              const readFirst = ping.seq % 2 === 1;
              if (readFirst) ids.set(`fan ${ping.seq}`, traceOf().traceId);
              for (const to of [left, right]) ctx.refFor(to.address).tell(Ping.create({ seq: ping.seq }));
              if (!readFirst) ids.set(`fan ${ping.seq}`, traceOf().traceId);
            },
          },
        }),
        { name: "fan" },
      );
      for (let seq = 0; seq < 40; seq++) fan.tell(Ping.create({ seq }));
      await eventually("every Ping read three times", () => ids.size === 120);
      let checked = 0;
      for (let seq = 0; seq < 40; seq++) {
        const [f, l, r] = [ids.get(`fan ${seq}`)!, ids.get(`/user/left ${seq}`)!, ids.get(`/user/right ${seq}`)!];
        // A sampled trace has its ids from the start: all three agree. Unsampled, it depends on the order.
        if (f === l && l === r && seq % 2 === 0) continue;
        checked++;
        if (seq % 2 === 1) expect([l, r], `Ping ${seq}: read, then sent`).to.deep.equal([f, f]);
        else expect(new Set([f, l, r]).size, `Ping ${seq}: sent, then read`).to.equal(3);
      }
      expect(checked, "Pings checked").to.be.at.least(20);
    });

    it("unsampled: a failing handler's trace is its failure's too: the dead letter is reported under the context the handler read, sync, async or a returned promise that rejects after other messages ran", async () => {
      const inHandler = new Map<string, string>();
      const inDeadLetter = new Map<string, string>();
      const idOfActive = () => {
        const { traceId, spanId, traceFlags } = trace.getSpan(context.active())!.spanContext();
        return `${traceId}-${spanId}-${traceFlags}`;
      };
      const handlers = {
        async: async (_s: object, ping: Ping) => {
          await new Promise((resolve) => setImmediate(resolve));
          inHandler.set(`async ${ping.seq}`, idOfActive());
          throw new Error("fails on purpose");
        },
        sync: (_s: object, ping: Ping) => {
          inHandler.set(`sync ${ping.seq}`, idOfActive());
          throw new Error("fails on purpose");
        },
        // Not an `async` function: its context is read while it runs, and its promise rejects only
        // after other actors' handlers have run (and read theirs).
        promise: (_s: object, ping: Ping) => {
          inHandler.set(`promise ${ping.seq}`, idOfActive());
          return new Promise<void>((_resolve, reject) => setTimeout(() => reject(new Error("fails on purpose")), 5));
        },
      };
      const failing = (kind: keyof typeof handlers) => defineActor({ messages: { Ping }, init: () => ({}), handlers: { Ping: handlers[kind] } });
      // A parent that resumes its children after every failure, so that all of them fail in turn.
      c.spawn(
        defineActor({
          messages: { Ping },
          init: () => ({}),
          started: (state, ctx) => {
            for (const kind of ["sync", "async", "promise"] as const) ctx.spawn(failing(kind), { name: kind });
            return state;
          },
          handlers: { Ping: () => undefined },
        }),
        { name: "failing", supervisor: { decider: () => "resume" } },
      );
      await eventually("the children started", () => c.actors().filter((actor) => actor.path.startsWith("/user/failing/")).length === 3);
      const actors = (["sync", "async", "promise"] as const).map((kind) => c.refFor({ system: "hops", node: "c", path: `/user/failing/${kind}` }));
      const unsubscribe = c.deadLetters.subscribe((letter) => {
        if (letter.reason === "handler-failed" && letter.message instanceof Ping) inDeadLetter.set(`${letter.target!.path.slice("/user/failing/".length)} ${letter.message.seq}`, idOfActive());
      });
      try {
        for (let seq = 0; seq < 8; seq++) for (const actor of actors) systems[0]!.refFor(actor.address).tell(Ping.create({ seq }));
        await eventually("a dead letter for every Ping", () => inDeadLetter.size === 24);
      } finally {
        unsubscribe();
      }
      expect(inHandler.size).to.equal(24);
      for (const [key, id] of inHandler) expect(inDeadLetter.get(key), key).to.equal(id);
    });

    it("sampling: a message that arrives with no trace (a plain client's) begins one where it is processed, decided by the ratio: about half recorded from that node on, the rest with no span and ids drawn when asked", async () => {
      const client = network.connect("client");
      const frame = (seq: number) => encodeFrame([{ target: "/user/forwarder", typeName: "troupe.examples.pingpong.Ping", type: Ping, message: Ping.create({ seq, replyTo: witnessOnC.address }), sender: undefined, headers: undefined }]);
      // Every span the nodes ask the SDK for (its tracers are one per name): an unsampled arrival should ask for none.
      const tracer = trace.getTracer("troupe");
      const startSpan = tracer.startSpan.bind(tracer);
      let started = 0;
      tracer.startSpan = (...args: Parameters<typeof startSpan>) => {
        started++;
        return startSpan(...args);
      };
      try {
        for (let seq = 0; seq < 200; seq++) client.publish(systems[1]!.inboxSubject, frame(seq));
        await eventually("every Ping processed on c", () => seen.size === 200);
      } finally {
        delete (tracer as Partial<typeof tracer>).startSpan;
      }
      await tracing.forceFlush();
      const contexts = [...seen.values()];
      expect(new Set(contexts.map((s) => s.traceId)).size, "a trace of its own for every message").to.equal(200);
      const sampled = contexts.filter((s) => s.traceFlags & 1);
      // Binomial(200, 0.5): 100 +- 35 is five standard deviations.
      expect(sampled.length).to.be.within(65, 135);
      expect(started, "spans started: three for each sampled trace, none for an unsampled one").to.equal(sampled.length * 3);
      for (const s of sampled) {
        const spans = spansOf(s.traceId);
        expect(spans.map((span) => span.name).sort()).to.deep.equal(["process /user/forwarder", "process /user/witness", "send troupe.hops.node.{node}"]);
        expect(spans.find((span) => span.name === "process /user/forwarder")!.parentSpanContext, "the root: processing on b").to.equal(undefined);
      }
      for (const s of contexts.filter((s) => !(s.traceFlags & 1))) {
        expect(s.traceId).to.match(/^[0-9a-f]{32}$/).and.not.match(/^0+$/);
        expect(spansOf(s.traceId)).to.deep.equal([]);
      }
      await client.close();
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

    it("unsampled: a handler that is an async function keeps the message's context across its awaits; a synchronous one has it while it runs", async () => {
      systems[1]!.spawn(asyncForwarder, { name: "async-forwarder" });
      const client = network.connect("client");
      const to = (target: string, seq: number, traceparent: string) =>
        client.publish(systems[1]!.inboxSubject, encodeFrame([{ target, typeName: "troupe.examples.pingpong.Ping", type: Ping, message: Ping.create({ seq, replyTo: witnessOnC.address }), sender: undefined, headers: { [TRACE_CONTEXT]: binary(traceparent) } }]));
      to("/user/async-forwarder", 1, "00-c4f92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
      to("/user/forwarder", 2, "00-d4f92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
      await eventually("both Pings processed on c", () => seen.size === 2);
      expect(seen.get(1)).to.include({ traceId: "c4f92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 0 });
      expect(seen.get(2)).to.include({ traceId: "d4f92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 0 });
      await client.close();
    });

    /** Publishes a Ping for the forwarder on b from a plain client, with `headers` (a binary trace context under TRACE_CONTEXT). */
    const fromClient = (client: ReturnType<MemoryNetwork["connect"]>, seq: number, headers: Record<string, string> & { [TRACE_CONTEXT]?: Uint8Array }) =>
      client.publish(systems[1]!.inboxSubject, encodeFrame([{ target: "/user/forwarder", typeName: "troupe.examples.pingpong.Ping", type: Ping, message: Ping.create({ seq, replyTo: witnessOnC.address }), sender: undefined, headers }]));
    const binary = (traceparent: string) => traceContextFromTraceparent(traceparent)!;
    const ignoredOn = (system: ActorSystem) => (system as unknown as { endpoint: RemoteEndpoint }).endpoint.ignoredTraceContexts;

    it("wire: the context travels in binary (Envelope trace_context), no traceparent header; an unsampled message's bytes are passed on unchanged by its handler's send", async () => {
      const sniffer = network.connect("sniffer");
      const frames: Uint8Array[] = [];
      sniffer.subscribe(c.inboxSubject, (m) => void frames.push(m.data));
      const client = network.connect("client");
      const unsampled = binary("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
      fromClient(client, 1, { [TRACE_CONTEXT]: unsampled });
      await eventually("the Ping processed on c", () => seen.size === 1);
      expect(seen.get(1)).to.include({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 0 });
      const forwarded = frames.flatMap((f) => decodeFrame(f)).filter((e) => e.type === "troupe.examples.pingpong.Ping");
      expect(forwarded).to.have.length(1);
      expect(forwarded[0]!.headers, "no text header").to.equal(undefined);
      expect(Buffer.from(forwarded[0]!.traceContext!).equals(unsampled), "the same 29 bytes").to.equal(true);
      await tracing.forceFlush();
      expect(spansOf("4bf92f3577b34da6a3ce929d0e0e4736")).to.deep.equal([]);
      await client.close();
      await sniffer.close();
    });

    it("wire: the binary context wins over a traceparent header; a sampled one keeps its tracestate header across hops", async () => {
      const client = network.connect("client");
      // Both: the binary (unsampled, trace 6b...) is followed, the text (sampled, trace 7b...) is not.
      fromClient(client, 1, { [TRACE_CONTEXT]: binary("00-6bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), traceparent: "00-7bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });
      fromClient(client, 2, { [TRACE_CONTEXT]: binary("00-8bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), tracestate: "vendor=abc,other=1" });
      await eventually("both Pings processed on c", () => seen.size === 2);
      expect(seen.get(1)).to.include({ traceId: "6bf92f3577b34da6a3ce929d0e0e4736", traceFlags: 0 });
      expect(seen.get(2)).to.include({ traceId: "8bf92f3577b34da6a3ce929d0e0e4736", traceFlags: 1 });
      expect(seen.get(2)!.traceState?.serialize(), "tracestate after two hops").to.equal("vendor=abc,other=1");
      await tracing.forceFlush();
      expect(spansOf("7bf92f3577b34da6a3ce929d0e0e4736")).to.deep.equal([]);
      expect(spansOf("8bf92f3577b34da6a3ce929d0e0e4736").map((span) => span.name).sort()).to.deep.equal(["process /user/forwarder", "process /user/witness", "send troupe.hops.node.{node}"]);
      await client.close();
    });

    it("malformed: a binary trace context of the wrong length, layout or with an all-zero id is ignored and counted, never fatal; the message is processed as if it had none", async () => {
      const client = network.connect("client");
      const good = binary("00-9bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
      const zeroTrace = Uint8Array.from(good).fill(0, 2, 18);
      const zeroSpan = Uint8Array.from(good).fill(0, 19, 27);
      const badLayout = Uint8Array.from(good);
      badLayout[18] = 7;
      const malformed = [good.subarray(0, 28), Uint8Array.from([...good, 0]), new Uint8Array(0), zeroTrace, zeroSpan, badLayout];
      malformed.forEach((bytes, i) => fromClient(client, i + 1, { [TRACE_CONTEXT]: bytes }));
      // Malformed binary beside a valid traceparent header: the header is followed.
      fromClient(client, 99, { [TRACE_CONTEXT]: zeroSpan, traceparent: "00-abf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00" });
      await eventually("every Ping processed on c", () => seen.size === malformed.length + 1);
      expect(ignoredOn(systems[1]!)).to.equal(malformed.length + 1);
      for (let seq = 1; seq <= malformed.length; seq++) expect(seen.get(seq)!.traceId, `Ping ${seq}: a trace of its own`).to.not.equal("9bf92f3577b34da6a3ce929d0e0e4736").and.not.match(/^0+$/);
      expect(seen.get(99)).to.include({ traceId: "abf92f3577b34da6a3ce929d0e0e4736", traceFlags: 0 });
      expect(systems[1]!.deadLetters.countOf("malformed-frame")).to.equal(0);
      await client.close();
    });

    it("malformed: ignored trace contexts are a metric, troupe.trace_context.ignored, on the node that received them", async () => {
      const reader = new ManualMetricReader();
      const provider = new MeterProvider({ readers: [reader] });
      const d = await ActorSystem.start({ name: "hops", nodeId: "d", transport: network.connect("d"), tracing: true, membership: false, metrics: { meterProvider: provider } });
      const client = network.connect("client");
      try {
        d.spawn(witness, { name: "witness" });
        const zeroTrace = Uint8Array.from(binary("00-9bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")).fill(0, 2, 18);
        for (const seq of [1, 2, 3]) client.publish(d.inboxSubject, encodeFrame([{ target: "/user/witness", typeName: "troupe.examples.pingpong.Ping", type: Ping, message: Ping.create({ seq }), sender: undefined, headers: { [TRACE_CONTEXT]: seq === 2 ? binary("00-9bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00") : zeroTrace } }]));
        await eventually("the three Pings processed on d", () => seen.size === 3);
        const points = await reader.points();
        expect(points.value("troupe.trace_context.ignored", { "troupe.node.id": "d" })).to.equal(2);
      } finally {
        await client.close();
        await d.shutdown();
        await provider.shutdown();
      }
    });
  });
});
