import { expect } from "chai";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { ActorSystem, AskTimeoutError, MemoryNetwork, MemoryStore, defineActor, runJob, type ActorRef, type ActorSystemOptions } from "../../runtime/index.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { POISON as COUNTER_POISON, counter } from "../fixtures/counter.js";
import { troupe } from "../../proto/gen/troupe.js";
import { SumResult, SumTask, sumReducer, sumTasks, sumWorker } from "../fixtures/sum-job.js";
import { eventually } from "../helpers/conditions.js";
import { ManualMetricReader } from "../helpers/metric-points.js";

const POISON = -1;
const SILENT = -2;

/** Answers a Ping with a Pong of its seq; throws on POISON, stays silent on SILENT. */
const echo = defineActor({
  kind: "test.echo",
  messages: { Ping },
  init: () => ({ handled: 0 }),
  handlers: {
    Ping: (state, ping, ctx) => {
      if (ping.seq === POISON) throw new Error("poison");
      if (ping.seq !== SILENT) ctx.reply(Pong.create({ seq: ping.seq, node: ctx.nodeId }));
      return { handled: state.handled + 1 };
    },
  },
});

/** Holds its first Ping until `release` resolves: what arrives meanwhile waits in its mailbox. */
const gate = defineActor({
  kind: "test.gate",
  messages: { Ping },
  init: (release: Promise<void>) => ({ release }),
  handlers: { Ping: async ({ release }) => void (await release) },
});

describe("metrics (system tier, in-memory network, manual reader)", () => {
  let reader: ManualMetricReader;
  let provider: MeterProvider;
  let network: MemoryNetwork;
  let a: ActorSystem;
  let b: ActorSystem;

  beforeEach(async () => {
    reader = new ManualMetricReader();
    provider = new MeterProvider({ readers: [reader] });
    network = new MemoryNetwork();
    [a, b] = await Promise.all([start("a"), start("b")]);
  });
  afterEach(async () => {
    await Promise.all([a.shutdown(), b.shutdown()]);
    await provider.shutdown();
  });

  const start = (nodeId: string, kinds: NonNullable<ActorSystemOptions["kinds"]> = []): Promise<ActorSystem> =>
    ActorSystem.start({
      name: "metered",
      nodeId,
      transport: network.connect(nodeId),
      types: [Ping, Pong, SumTask, SumResult],
      kinds,
      membership: { intervalMs: 20 },
      metrics: { meterProvider: provider },
    });
  const on = (node: string, extra: Record<string, string> = {}): Record<string, string> => ({ "troupe.node.id": node, ...extra });
  const ofKind = (node: string, kind: string): Record<string, string> => on(node, { "troupe.actor.kind": kind });

  it("metrics: local tells are counted as received and processed by kind, with a processing-time histogram", async () => {
    const ref = a.spawn(echo, { name: "echo" });
    for (let seq = 1; seq <= 100; seq++) ref.tell(Ping.create({ seq }));
    await eventually("100 processed", () => a.stats!.kind("test.echo").processed === 100);
    const points = await reader.points();
    expect(points.value("troupe.actor.messages.received", ofKind("a", "test.echo"))).to.equal(100);
    expect(points.value("troupe.actor.messages.processed", ofKind("a", "test.echo"))).to.equal(100);
    expect(points.value("messaging.process.duration", ofKind("a", "test.echo"))).to.equal(100);
    expect(points.unitOf("messaging.process.duration")).to.equal("s");
    expect(points.value("troupe.actors", ofKind("a", "test.echo"))).to.equal(1);
    // Nothing went over the network, and node b saw none of it.
    expect(points.value("messaging.client.sent.messages", on("a"))).to.equal(0);
    expect(points.value("troupe.actor.messages.received", ofKind("b", "test.echo"))).to.equal(undefined);
  });

  it("metrics: remote tells are counted as sent by one node and consumed by the other; live nodes", async () => {
    b.spawn(echo, { name: "echo" });
    const remote = a.refFor<Ping>({ system: "metered", node: "b", path: "/user/echo" });
    for (let seq = 1; seq <= 20; seq++) remote.tell(Ping.create({ seq, replyTo: undefined }));
    // SILENT: the Pongs of the tells above go to no one (no sender); this one is the last to arrive.
    await remote.ask(Ping.create({ seq: 21 }), Pong);
    await eventually("both nodes see each other", () => a.nodes().length === 2 && b.nodes().length === 2);
    const points = await reader.points();
    expect(points.value("messaging.client.sent.messages", on("a", { "messaging.system": "nats", "messaging.operation.name": "send" }))).to.equal(21);
    expect(points.value("messaging.client.consumed.messages", on("b"))).to.equal(21);
    // b's 20 replies to no sender were dead letters; the 21st went back to a.
    expect(points.value("messaging.client.sent.messages", on("b"))).to.equal(1);
    expect(points.value("troupe.actor.messages.processed", ofKind("b", "test.echo"))).to.equal(21);
    expect(points.value("troupe.dead_letters", on("b", { "troupe.dead_letter.reason": "no-sender" }))).to.equal(20);
    expect(points.value("troupe.nodes", on("a"))).to.equal(2);
  });

  it("metrics: dead letters by reason, a failure, its restart and the supervisor's decision", async () => {
    const ref = a.spawn(echo, { name: "echo", restart: "permanent" }) as ActorRef<Ping | GetStats>;
    ref.tell(GetStats.create());
    ref.tell(Ping.create({ seq: POISON }));
    a.refFor<Ping>({ system: "metered", node: "a", path: "/user/nobody" }).tell(Ping.create({ seq: 1 }));
    await eventually("the restart", () => a.actors()[0]?.restarts === 1);
    const points = await reader.points();
    expect(points.value("troupe.dead_letters", on("a", { "troupe.dead_letter.reason": "unhandled" }))).to.equal(1);
    expect(points.value("troupe.dead_letters", on("a", { "troupe.dead_letter.reason": "handler-failed" }))).to.equal(1);
    expect(points.value("troupe.dead_letters", on("a", { "troupe.dead_letter.reason": "unknown-target" }))).to.equal(1);
    expect(points.value("troupe.actor.failures", ofKind("a", "test.echo"))).to.equal(1);
    expect(points.value("troupe.actor.restarts", ofKind("a", "test.echo"))).to.equal(1);
    expect(points.value("troupe.supervision.decisions", ofKind("a", "test.echo"))).to.equal(1);
    expect(points.value("troupe.supervision.decisions", { "troupe.supervision.directive": "restart" })).to.equal(1);
  });

  it("metrics: a child on another node that fails is its kind's failure where it ran, and its kind's decision where its parent is", async () => {
    const host = await start("h", [{ definition: counter, options: { props: Stats } }]);
    try {
      await eventually("h seen hosting counters", () => a.nodes().some((n) => n.node === "h" && n.kinds.includes("counter")));
      const parent = defineActor({
        messages: { Ping },
        init: () => ({}),
        started: (state, ctx) => {
          ctx.spawn(counter, { name: "w", placement: { node: "h" }, props: Stats.create({ node: "w" }) });
          return state;
        },
        handlers: { Ping: () => undefined },
      });
      a.spawn(parent, { name: "sup" });
      await eventually("the child on h", () => host.actors().some((actor) => actor.path.endsWith("/sup/w")));
      a.refFor<Ping>({ system: "metered", node: "h", path: "/remote/a/user/sup/w" }).tell(Ping.create({ seq: COUNTER_POISON }));
      await eventually("the child restarted", () => host.actors().find((actor) => actor.path.endsWith("/sup/w"))?.restarts === 1);
      const points = await reader.points();
      expect(points.value("troupe.actor.failures", ofKind("h", "counter"))).to.equal(1);
      expect(points.value("troupe.supervision.decisions", { ...ofKind("a", "counter"), "troupe.supervision.directive": "restart" })).to.equal(1);
    } finally {
      await host.shutdown();
    }
  });

  it("metrics: asks by outcome (replied, timed out) and their duration", async () => {
    const ref = b.spawn(echo, { name: "echo" });
    const remote = a.refFor<Ping>(ref.address);
    await remote.ask(Ping.create({ seq: 1 }), Pong);
    await remote.ask(Ping.create({ seq: 2 }), Pong);
    const timedOut = await remote.ask(Ping.create({ seq: SILENT }), Pong, { timeoutMs: 30 }).catch((error: unknown) => error);
    expect(timedOut).to.be.instanceOf(AskTimeoutError);
    const points = await reader.points();
    expect(points.value("troupe.asks", on("a", { "troupe.ask.outcome": "replied" }))).to.equal(2);
    expect(points.value("troupe.asks", on("a", { "troupe.ask.outcome": "timed_out" }))).to.equal(1);
    expect(points.value("troupe.asks.pending", on("a"))).to.equal(0);
    expect(points.value("troupe.ask.duration", on("a"))).to.equal(3);
    expect(points.value("troupe.asks", on("b", { "troupe.ask.outcome": "replied" }))).to.equal(undefined);
  });

  it("metrics: mailbox depth and the longest mailbox of a kind", async () => {
    let release!: () => void;
    const ref = a.spawn(gate, { props: new Promise<void>((resolve) => (release = resolve)) });
    for (let seq = 1; seq <= 6; seq++) ref.tell(Ping.create({ seq }));
    await eventually("the first Ping in its handler", () => a.actors()[0]?.mailboxSize === 5);
    const held = await reader.points();
    expect(held.value("troupe.actor.mailbox.depth", ofKind("a", "test.gate"))).to.equal(5);
    expect(held.value("troupe.actor.mailbox.max_depth", ofKind("a", "test.gate"))).to.equal(5);
    release();
    await eventually("the mailbox drained", () => a.actors()[0]?.mailboxSize === 0);
    const drained = await reader.points();
    expect(drained.value("troupe.actor.mailbox.depth", ofKind("a", "test.gate"))).to.equal(0);
  });

  it("metrics: a reducer's checkpoint that meets another writer's object counts a conflict (412), then a write", async () => {
    const store = new MemoryStore();
    const { TaskResult, Flush, Flushed } = troupe.work;
    const result = (n: number) => TaskResult.create({ jobId: "race", taskId: `t${n}`, resultType: "troupe.examples.sum.SumResult", result: SumResult.encode({ n, square: n * n }).finish() });
    const first = a.spawn(sumReducer, { props: { store, key: "sum", flushEveryMs: 0 } });
    // Started (its load found nothing) before the other writes the object.
    await first.ask(Flush.create(), Flushed);
    const second = b.spawn(sumReducer, { props: { store, key: "sum", flushEveryMs: 0 } });
    second.tell(result(1));
    await second.ask(Flush.create(), Flushed);
    first.tell(result(2));
    await first.ask(Flush.create(), Flushed);
    const points = await reader.points();
    expect(points.value("troupe.store.writes", on("a", { "troupe.store.write.outcome": "conflict" }))).to.equal(1);
    expect(points.value("troupe.store.writes", on("a", { "troupe.store.write.outcome": "written" }))).to.equal(1);
    expect(points.value("troupe.store.writes", on("b", { "troupe.store.write.outcome": "written" }))).to.equal(1);
  });

  it("metrics: a job's tasks by outcome, none left in flight once it has ended", async () => {
    const worker = await start("w", [sumWorker]);
    try {
      await eventually("the worker node seen", () => a.nodes().some((n) => n.kinds.includes("sum-worker")));
      const reducer = a.spawn(sumReducer, { props: { store: new MemoryStore(), key: "jobs/sum", flushEveryMs: 5 } });
      const job = runJob(a, { id: "metered", tasks: sumTasks(40, new Set([7])), taskType: SumTask, worker: sumWorker, reducer, workers: 1, maxAttempts: 2 });
      const running = await reader.points();
      expect(running.value("troupe.jobs.active", on("a"))).to.equal(1);
      const ended = await job;
      const points = await reader.points();
      expect(points.value("troupe.job.tasks", on("a", { "troupe.task.outcome": "done" }))).to.equal(39).and.equal(ended.done);
      expect(points.value("troupe.job.tasks", on("a", { "troupe.task.outcome": "failed" }))).to.equal(1);
      expect(points.value("troupe.job.tasks", on("a", { "troupe.task.outcome": "retried" }))).to.equal(ended.retried);
      expect(points.value("troupe.job.tasks.in_flight", on("a"))).to.equal(0);
      expect(points.value("troupe.jobs.active", on("a"))).to.equal(0);
      expect(points.value("troupe.actor.messages.processed", ofKind("w", "sum-worker"))).to.be.at.least(40);
    } finally {
      await worker.shutdown();
    }
  });

  it("metrics: a stopped node's histograms are gone (its counters keep their last values), and a node without metrics keeps no counters", async () => {
    const plain = await ActorSystem.start({ name: "metered", nodeId: "plain", transport: new MemoryNetwork().connect(), membership: false });
    expect(plain.stats).to.equal(undefined);
    await plain.shutdown();
    b.spawn(echo, { name: "echo" }).tell(Ping.create({ seq: 1 }));
    await eventually("b's Ping processed", () => b.stats!.kind("test.echo").processed === 1);
    expect((await reader.points()).value("messaging.process.duration", ofKind("b", "test.echo"))).to.equal(1);
    await b.shutdown();
    const points = await reader.points();
    expect(points.value("messaging.process.duration", ofKind("b", "test.echo"))).to.equal(undefined);
    expect(points.value("troupe.actor.messages.processed", ofKind("b", "test.echo"))).to.equal(1);
  });
});
