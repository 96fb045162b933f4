import { expect } from "chai";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { ActorSystem, AskFailedError, MemoryNetwork, broadcast, defineActor, roundRobin, type ActorRef } from "../../runtime/index.js";
import { MemoryCacheStore, ResultCache } from "../../runtime/cache/index.js";
import { startTracing, type TracingHandle } from "../../runtime/tracing/index.js";
import { Ping, Pong } from "../../examples/ping-pong/messages.js";
import { Gate } from "../fixtures/recording-routee.js";
import { ManualMetricReader } from "../helpers/metric-points.js";
import { eventually } from "../helpers/conditions.js";
import { encodeEntry } from "../../runtime/cache/cache-entry.js";
import { encodeFrame } from "../../runtime/codec/frame-codec.js";
import { troupe } from "../../proto/gen/troupe.js";

/** Fails an ask with this seq: its node answers the asker with a Failure. */
const POISON = 13;

/** Counts each Ping it computes in `computed`; replies with a Pong of its seq (held while `gate` is closed). */
function squarer(computed: number[], gate: Gate) {
  return defineActor({
    kind: "cached-asks.squarer",
    messages: { Ping },
    init: () => ({}),
    handlers: {
      Ping: async (state, ping, ctx) => {
        computed.push(ping.seq);
        await gate.passed();
        if (ping.seq === POISON) throw new Error("poison");
        ctx.reply(Pong.create({ seq: ping.seq * ping.seq, node: ctx.nodeId }));
        return state;
      },
    },
  });
}

describe("routers and services with a result cache (system tier, in-memory network, InMemorySpanExporter, manual metric reader)", () => {
  let exporter: InMemorySpanExporter;
  let tracing: TracingHandle;
  let network: MemoryNetwork;
  let nodes: ActorSystem[];
  let computed: number[];
  let gate: Gate;
  let reader: ManualMetricReader;
  let provider: MeterProvider;
  /** One store shared by every node: as a NATS KV bucket or a Redis server is among processes. */
  let store: MemoryCacheStore;

  before(() => {
    exporter = new InMemorySpanExporter();
    tracing = startTracing({ exporter, serviceName: "cached-asks-test" });
  });
  after(() => tracing.shutdown());

  beforeEach(async () => {
    exporter.reset();
    network = new MemoryNetwork();
    computed = [];
    gate = new Gate();
    store = new MemoryCacheStore();
    reader = new ManualMetricReader();
    provider = new MeterProvider({ readers: [reader] });
    nodes = await Promise.all(
      ["a", "b", "c"].map((nodeId) =>
        ActorSystem.start({ name: "cached", nodeId, transport: network.connect(nodeId), types: [Ping, Pong], membership: false, tracing: true, metrics: { meterProvider: provider } }),
      ),
    );
  });
  afterEach(async () => {
    gate.open();
    await Promise.all(nodes.map((n) => n.shutdown()));
    await provider.shutdown();
  });

  /** A cache of its own on each node, over the shared store. */
  const cacheOn = (): ResultCache => new ResultCache(store, { log: () => undefined });
  const [a, b, c] = [() => nodes[0]!, () => nodes[1]!, () => nodes[2]!];
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  const router = (): ActorRef<Ping> =>
    a().spawn(a().defineRouter<Ping>({ strategy: roundRobin(), routees: { pool: { definition: squarer(computed, gate), size: 3 } }, cache: { use: cacheOn(), version: 1 } }), { name: "r" });
  const serveOn = (node: ActorSystem, use = cacheOn()) => node.serve(squarer(computed, gate), { name: "square", cache: { use, version: 1 } });

  it("router cache: repeated asks are answered from the cache, each computed once; tells always reach a routee; metrics and spans say how", async () => {
    const remote = b().refFor<Ping>(router().address);
    for (let round = 0; round < 3; round++) {
      const pongs = await Promise.all(range(10).map((seq) => remote.ask(Ping.create({ seq }), Pong, { timeoutMs: 2_000 })));
      expect(pongs.map((p) => p.seq)).to.deep.equal(range(10).map((n) => n * n));
    }
    expect(computed.sort((x, y) => x - y)).to.deep.equal(range(10));
    // Tells have no result: never cached.
    for (let i = 0; i < 4; i++) remote.tell(Ping.create({ seq: 1 }));
    await eventually("the four tells computed", () => computed.length === 14);

    const owner = { "troupe.node.id": "a", "troupe.cache.owner": "router /user/r" };
    const points = await reader.points();
    expect(points.value("troupe.cache.asks", { ...owner, "troupe.cache.outcome": "hit" })).to.equal(20);
    expect(points.value("troupe.cache.asks", { ...owner, "troupe.cache.outcome": "miss" })).to.equal(10);
    expect(points.value("troupe.cache.saved_time", owner)).to.be.a("number");

    await tracing.forceFlush();
    const hits = exporter.getFinishedSpans().filter((s) => s.name === "cache hit");
    expect(hits).to.have.length(20);
    expect(hits[0]!.attributes).to.include({ "troupe.cache.owner": "router /user/r", "troupe.cache.store": "memory:" });
    // Each in the trace of its ask: a child of the router's processing span.
    const processing = new Set(exporter.getFinishedSpans().filter((s) => s.name.startsWith("process")).map((s) => s.spanContext().spanId));
    expect(hits.every((s) => processing.has(s.parentSpanContext?.spanId ?? ""))).to.equal(true);
  });

  it("router cache: 100 identical asks at once reach one routee once (single flight), and all get the answer", async () => {
    const ref = router();
    gate.close();
    const asks = range(100).map(() => c().refFor<Ping>(ref.address).ask(Ping.create({ seq: 7 }), Pong, { timeoutMs: 5_000 }));
    await eventually("one ask held at the gate", () => gate.held === 1);
    gate.open();
    const pongs = await Promise.all(asks);
    expect(pongs.every((p) => p.seq === 49)).to.equal(true);
    expect(computed).to.deep.equal([7]);
    const points = await reader.points();
    const owner = { "troupe.cache.owner": "router /user/r" };
    expect(points.value("troupe.cache.asks", { ...owner, "troupe.cache.outcome": "miss" })).to.equal(1);
    expect(points.value("troupe.cache.asks", { ...owner, "troupe.cache.outcome": "wait" })).to.equal(99);
  });

  it("router cache: a Failure reply reaches the asker and is not cached (the next identical ask is computed again)", async () => {
    const remote = b().refFor<Ping>(router().address);
    for (let i = 0; i < 2; i++) {
      const error = await remote.ask(Ping.create({ seq: POISON }), Pong, { timeoutMs: 2_000 }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(AskFailedError);
    }
    expect(computed).to.deep.equal([POISON, POISON]);
    const points = await reader.points();
    expect(points.value("troupe.cache.asks", { "troupe.cache.owner": "router /user/r", "troupe.cache.outcome": "failure" })).to.equal(2);
  });

  it("router cache: a router that stops fails the cached asks waiting in it (stopped-target), and the cache is not left waiting on them", async () => {
    const cache = cacheOn();
    // A group router: its routee outlives it, so the ask waiting in the router is still there when it stops.
    const routee = a().spawn(squarer(computed, gate), { name: "routee" });
    const spawnRouter = (name: string): ActorRef<Ping> =>
      a().spawn(a().defineRouter<Ping>({ strategy: roundRobin(), routees: { group: [routee] }, messages: [Ping], maxInFlightPerRoutee: 1, cache: { use: cache, version: 1 } }), { name });
    const first = b().refFor<Ping>(spawnRouter("r1").address);
    gate.close();
    const held = first.ask(Ping.create({ seq: 1 }), Pong, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    await eventually("one ask held at the gate", () => gate.held === 1);
    const queued = first.ask(Ping.create({ seq: 2 }), Pong, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    await eventually("the second ask waiting in the router", () => cache.counters.misses === 2);
    await a().stop(a().refFor(first.address));
    const error = await queued;
    expect(error).to.be.instanceOf(AskFailedError);
    expect((error as AskFailedError).reason).to.equal("stopped-target");
    gate.open();
    // The ask already at the routee is answered: its relay outlives the router.
    expect(await held).to.deep.include({ seq: 1 });
    // The same cache behind another router: the key is computed, not stuck on the first router's flight.
    const pong = await b().refFor<Ping>(spawnRouter("r2").address).ask(Ping.create({ seq: 2 }), Pong, { timeoutMs: 2_000 });
    expect(pong.seq).to.equal(4);
  });

  it("router cache: a broadcast router refuses a cache (every routee is to receive each message)", () => {
    expect(() => a().defineRouter<Ping>({ strategy: broadcast(), routees: { pool: { definition: squarer(computed, gate), size: 2 } }, cache: { use: cacheOn(), version: 1 } })).to.throw(/broadcast/);
  });

  it("service cache: 100 identical asks at once over two members (one shared store) are computed once; later asks are hits; tells are not cached", async () => {
    const members = [serveOn(a()), serveOn(b())];
    const square = c().serviceRef<Ping>("square");
    gate.close();
    const asks = range(100).map(() => square.ask(Ping.create({ seq: 9 }), Pong, { timeoutMs: 5_000 }));
    await eventually("one ask held at the gate", () => gate.held === 1);
    gate.open();
    expect((await Promise.all(asks)).every((p) => p.seq === 81)).to.equal(true);
    expect(computed).to.deep.equal([9]);
    // Both members took asks (NATS spread them); the one that did not compute waited on the other's lease.
    const counters = members.map((m) => m.cache!.counters);
    expect(counters.map((k) => k.hits + k.misses + k.waits).every((n) => n > 0)).to.equal(true);
    expect(counters.reduce((sum, k) => sum + k.misses, 0)).to.equal(1);
    expect(counters.reduce((sum, k) => sum + k.hits + k.waits, 0)).to.equal(99);

    for (const seq of [9, 9, 9, 9]) expect((await square.ask(Ping.create({ seq }), Pong)).seq).to.equal(81);
    expect(computed).to.deep.equal([9]);
    for (let i = 0; i < 4; i++) square.tell(Ping.create({ seq: 9 }));
    await eventually("the four tells computed", () => computed.length === 5);

    const points = await reader.points();
    const hitsOnNodes = ["a", "b"].map((node) => points.value("troupe.cache.asks", { "troupe.node.id": node, "troupe.cache.owner": "service square", "troupe.cache.outcome": "hit" }) ?? 0);
    expect(hitsOnNodes.reduce((x, y) => x + y)).to.be.at.least(4);
  });

  it("service cache: an ask that carries a trace context gets a cache span in that trace; one without gets none", async () => {
    serveOn(a());
    const square = c().serviceRef<Ping>("square");
    await square.ask(Ping.create({ seq: 5 }), Pong);
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const parentId = "b7ad6b7169203331";
    const frame = encodeFrame([{ target: "", typeName: "troupe.examples.pingpong.Ping", type: Ping, message: Ping.create({ seq: 5 }), sender: undefined, headers: { traceparent: `00-${traceId}-${parentId}-01` } }]);
    const reply = troupe.wire.Frame.decode(await c().transport.request(c().subjects.service("square"), frame, 2_000)).envelopes[0]!;
    expect(Pong.decode(reply.payload!).seq).to.equal(25);
    await tracing.forceFlush();
    const spans = exporter.getFinishedSpans().filter((s) => s.name.startsWith("cache "));
    expect(spans.map((s) => [s.name, s.spanContext().traceId, s.parentSpanContext?.spanId])).to.deep.equal([["cache hit", traceId, parentId]]);
    expect(spans[0]!.attributes).to.include({ "troupe.cache.owner": "service square", "troupe.cache.outcome": "hit" });
  });

  it("service cache: a Failure reply reaches the asker and is not cached; a stored entry of an unknown reply type is a miss, counted as corrupt", async () => {
    const cache = cacheOn();
    const member = serveOn(a(), cache);
    const square = c().serviceRef<Ping>("square");
    for (let i = 0; i < 2; i++) {
      const error = await square.ask(Ping.create({ seq: POISON }), Pong, { timeoutMs: 2_000 }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(AskFailedError);
    }
    expect(computed).to.deep.equal([POISON, POISON]);
    expect(member.cache!.counters).to.include({ failures: 2, hits: 0 });

    // An entry whose reply type no node knows: overwrite every stored value's type name.
    expect((await square.ask(Ping.create({ seq: 3 }), Pong)).seq).to.equal(9);
    const [key] = [...(store as unknown as { slots: Map<string, unknown> }).slots.keys()];
    const entry = Buffer.from((await store.get(key!))!);
    const typeLength = entry.readUInt16BE(24);
    entry.fill("x".charCodeAt(0), 26, 26 + typeLength);
    // Rewritten through the cache's own framing: a valid entry of the type "xxx...".
    await store.set(key!, encodeEntry({ expiresAtMs: Date.now() + 60_000, computeMs: 1, type: entry.toString("utf8", 26, 26 + typeLength), result: entry.subarray(26 + typeLength) }), 60_000);
    expect((await square.ask(Ping.create({ seq: 3 }), Pong)).seq).to.equal(9);
    expect(computed).to.deep.equal([POISON, POISON, 3, 3]);
    expect(cache.counters.corrupt).to.equal(1);
  });

  it("service cache: draining a member waits for the asks its cache holds", async () => {
    const member = serveOn(a());
    gate.close();
    const pending = c().serviceRef<Ping>("square").ask(Ping.create({ seq: 4 }), Pong, { timeoutMs: 5_000 });
    await eventually("one ask held at the gate", () => gate.held === 1);
    const drained = a().unserve("square");
    expect(member.cache!.pending).to.equal(1);
    gate.open();
    await drained;
    expect((await pending).seq).to.equal(16);
  });
});
