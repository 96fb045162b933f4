import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { trace } from "@opentelemetry/api";
import { ActorSystem, addressFromWire, Terminated, connectNats, defineActor, runJob, type EmbeddedNats } from "../../runtime/index.js";
import { startWorker, type WorkerProcess } from "../../runtime/cli/worker-processes.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { labelOf, readSpans } from "../../runtime/tracing/trace-file.js";
import { GetStats, Ping, Stats } from "../../examples/ping-pong/messages.js";
import { POISON, counter } from "../fixtures/counter.js";
import { SumResult, SumTask, sumReducer, sumTasks, sumWorker } from "../fixtures/sum-job.js";
import { eventually } from "../helpers/conditions.js";
import { fakeGcsFor, type FakeGcs } from "../helpers/fake-gcs.js";
import { natsServerFor } from "../helpers/nats.js";
import { GcsStore } from "../../runtime/gcs/index.js";
import { startTracing, type SpanRecord, type TracingHandle } from "../../runtime/tracing/index.js";

const SYSTEM = "it-trace";
const MODULE = `${PROJECT_ROOT}/test/fixtures/sum-topology.ts`;

describe("tracing across node processes (integration: three processes, one trace file)", function () {
  this.timeout(120_000);
  let nats: EmbeddedNats;
  let gcs: FakeGcs;
  let dir: string;
  let file: string;
  let tracing: TracingHandle;
  let workers: WorkerProcess[] = [];
  let coordinator: ActorSystem;
  let spans: SpanRecord[] = [];
  let jobTraceId = "";
  let poisonTraceId = "";

  before(async function () {
    nats = await natsServerFor(this);
    gcs = await fakeGcsFor(this);
    dir = mkdtempSync(join(tmpdir(), "troupe-trace-"));
    file = join(dir, "trace.jsonl");
    tracing = startTracing({ file, nodeId: "coordinator", system: SYSTEM, serviceName: "tracing-it" });
    workers = await Promise.all(["w1", "w2"].map((nodeId) => startWorker({ system: SYSTEM, nodeId, servers: [nats.url], modulePath: MODULE, traceFile: file, log: () => undefined })));
    coordinator = await ActorSystem.start({ name: SYSTEM, nodeId: "coordinator", transport: await connectNats({ servers: nats.url }), types: [SumTask, SumResult, Ping, GetStats, Stats], tracing: true });
    await eventually("both workers", () => coordinator.nodes().filter((n) => n.kinds.includes("sum-worker")).length === 2, 10_000);

    // A job, whose trace starts at its root span.
    const reducer = coordinator.spawn(sumReducer, { name: "sum", props: { store: new GcsStore(gcs.bucket, "traced", { apiEndpoint: gcs.endpoint }), key: "squares", flushEveryMs: 100 } });
    const result = await runJob(coordinator, { id: "traced-squares", tasks: sumTasks(40), taskType: SumTask, worker: sumWorker, reducer, workers: 2 });
    expect(result.done).to.equal(40);

    // A remote child that fails on purpose, in a trace of its own.
    let child: Ping | undefined;
    const seen: Terminated[] = [];
    const sup = defineActor({
      messages: { Ping, Terminated },
      init: () => ({}),
      started: (state, ctx) => {
        const ref = ctx.spawn(counter, { name: "fragile", placement: { node: "w1" }, props: Stats.create({ node: "fragile" }) });
        child = Ping.create({ seq: POISON, replyTo: ref.address });
        return state;
      },
      handlers: { Ping: () => undefined, Terminated: (_s, t) => void seen.push(t) },
    });
    coordinator.spawn(sup, { name: "sup" });
    await eventually("child spawned", () => child !== undefined);
    const fragile = coordinator.refFor<Ping | GetStats>(addressFromWire(child!.replyTo)!);
    await fragile.ask(GetStats.create(), Stats);
    trace.getTracer("test").startActiveSpan("poison", (span) => {
      poisonTraceId = span.spanContext().traceId;
      fragile.tell(Ping.create({ seq: POISON }));
      span.end();
    });
    await eventually("restart done", () => spansNow().some((s) => s.traceId === poisonTraceId && s.name === "ask troupe.system.Supervise"), 10_000).catch((e) => {
      console.log(spansNow().filter((s) => s.traceId === poisonTraceId).map((s) => `${s.name} ${String(s.attributes["troupe.node.id"])} ${s.spanId} <- ${s.parentSpanId}`));
      throw e;
    });

    await coordinator.shutdown();
    await Promise.all(workers.map((w) => w.stop()));
    await tracing.forceFlush();
    spans = readSpans(file);
    jobTraceId = spans.find((s) => s.name === "job traced-squares")!.traceId;
  });

  /** What the file holds so far (nothing before the first batch is exported). */
  function spansNow(): SpanRecord[] {
    void tracing.forceFlush();
    return existsSync(file) ? readSpans(file) : [];
  }

  after(async () => {
    await tracing?.shutdown();
    await Promise.all(workers.map((w) => w.stop()));
    await gcs?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const byId = (id: string | undefined): SpanRecord | undefined => spans.find((s) => s.spanId === id);
  const nodeOf = (s: SpanRecord): unknown => s.attributes["troupe.node.id"] ?? s.resource["troupe.node.id"];
  const inJob = (): SpanRecord[] => spans.filter((s) => s.traceId === jobTraceId);
  /** Span names are low-cardinality (`send troupe.<system>.node.{node}`): the label puts back the message type, key or object. */
  const labelled = (label: string) => (s: SpanRecord): boolean => labelOf(s) === label;

  it("trace: one trace id from the job's root span through the supervisor, workers on two nodes, the reducer and its GCS checkpoint", () => {
    const names = new Set(inJob().map((s) => `${labelOf(s)}@${String(nodeOf(s))}`));
    for (const expected of [
      "job traced-squares@coordinator",
      "send troupe.work.Task@coordinator",
      "process troupe.work.Task@w1",
      "process troupe.work.Task@w2",
      "process troupe.work.TaskResult@coordinator",
      "checkpoint squares@coordinator",
      "gcs write traced/squares@coordinator",
    ]) {
      expect(names, expected).to.include(expected);
    }
    // Messaging conventions: a low-cardinality name, the subject and the server it went through.
    const send = inJob().find(labelled("send troupe.work.Task"))!;
    expect(send.name).to.match(/^send troupe\.[\w-]+\.node\.\{node\}$/);
    expect(send.attributes).to.include({ "messaging.system": "nats", "messaging.operation.type": "send", "server.address": "127.0.0.1" });
    expect(send.attributes["server.port"]).to.be.a("number");
    expect(send.attributes["messaging.message.body.size"]).to.be.a("number").above(0);
    // Every process wrote into the file, each span saying where it ran.
    expect(new Set(inJob().map((s) => s.resource["troupe.node.id"]))).to.deep.equal(new Set(["coordinator", "w1", "w2"]));
  });

  it("trace: parents are right: task sends under the job, processing under its send, the GCS call inside the checkpoint, which links the results it merged", () => {
    const job = inJob().find((s) => s.name === "job traced-squares")!;
    const taskSends = inJob().filter(labelled("send troupe.work.Task"));
    expect(taskSends.length).to.be.at.least(40);
    expect(taskSends.every((s) => s.parentSpanId === job.spanId)).to.equal(true);
    for (const processing of inJob().filter(labelled("process troupe.work.Task"))) {
      expect(labelOf(byId(processing.parentSpanId)!)).to.equal("send troupe.work.Task");
      expect(processing.kind).to.equal("CONSUMER");
    }
    const checkpoints = inJob().filter(labelled("checkpoint squares"));
    expect(checkpoints.length).to.be.at.least(1);
    const merged = checkpoints.reduce((n, c) => n + Number(c.attributes["troupe.reducer.merged"]), 0);
    expect(merged).to.equal(40);
    for (const checkpoint of checkpoints) {
      // The first merged result is the parent, the others links: none twice.
      expect(checkpoint.links.length).to.equal(Number(checkpoint.attributes["troupe.reducer.merged"]) - 1);
      expect(checkpoint.links.map((l) => l.spanId)).to.not.include(checkpoint.parentSpanId);
      expect(labelOf(byId(checkpoint.parentSpanId)!)).to.equal("process troupe.work.TaskResult");
      for (const link of checkpoint.links) expect(labelOf(spans.find((s) => s.spanId === link.spanId)!)).to.equal("process troupe.work.TaskResult");
      expect(inJob().some((s) => labelOf(s) === "gcs write traced/squares" && s.parentSpanId === checkpoint.spanId)).to.equal(true);
    }
  });

  it("trace: a restart is visible on the failed message's span: error status, then the supervisor's decision and directives under it", () => {
    const mine = spans.filter((s) => s.traceId === poisonTraceId);
    const failed = mine.find((s) => labelOf(s) === "process troupe.examples.pingpong.Ping" && nodeOf(s) === "w1")!;
    expect(failed.status).to.deep.equal({ code: "ERROR", message: "fragile swallowed poison" });
    expect(failed.events.some((e) => e.name === "exception")).to.equal(true);
    const descends = (s: SpanRecord, ancestor: SpanRecord): boolean => {
      for (let p = byId(s.parentSpanId); p; p = byId(p.parentSpanId)) if (p.spanId === ancestor.spanId) return true;
      return false;
    };
    const decision = mine.find((s) => s.name === "supervision restart")!;
    expect(decision.attributes).to.include({ "troupe.directive": "restart", "troupe.actor.path": "/remote/coordinator/user/sup/fragile" });
    expect(descends(decision, failed), "the decision descends from the failed message's span").to.equal(true);
    const directives = mine.filter((s) => s.name === "ask troupe.system.Supervise");
    expect(directives.length).to.be.at.least(2);
    expect(directives.every((d) => descends(d, failed))).to.equal(true);
  });
});
