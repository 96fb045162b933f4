import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { expect } from "chai";
import { ActorSystem, CountingStore, connectNats, runJob, type ActorRef, type EmbeddedNats, type JobResult } from "../../runtime/index.js";
import { startWorker, type WorkerProcess } from "../../runtime/cli/worker-processes.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { troupe } from "../../proto/gen/troupe.js";
import { SumResult, SumState, SumTask, expectedSum, sumReducer, sumTasks, sumWorker } from "../fixtures/sum-job.js";
import { eventually } from "../helpers/conditions.js";
import { fakeGcsFor, type FakeGcs } from "../helpers/fake-gcs.js";
import { natsServerFor } from "../helpers/nats.js";
import { GcsStore } from "../../runtime/gcs/index.js";

const SYSTEM = "it-work";
const MODULE = `${PROJECT_ROOT}/test/fixtures/sum-topology.ts`;
const COORDINATOR = `${PROJECT_ROOT}/test/fixtures/sum-coordinator.ts`;
const { TaskResult, ReducerStateRequest, ReducerState, Flush, Flushed } = troupe.work;

describe("jobs with state in GCS (integration: nats-server, fake-gcs-server, worker processes)", function () {
  this.timeout(120_000);
  let nats: EmbeddedNats;
  let gcs: FakeGcs;
  let workers: WorkerProcess[] = [];
  const stderr: string[] = [];
  const systems: ActorSystem[] = [];

  before(async function () {
    nats = await natsServerFor(this);
    gcs = await fakeGcsFor(this);
  });
  after(async () => {
    await gcs?.stop();
    await nats?.stop();
  });
  beforeEach(async () => {
    workers = await Promise.all(["w1", "w2", "w3"].map((nodeId) => startWorker({ system: SYSTEM, nodeId, servers: [nats.url], modulePath: MODULE, log: (line) => stderr.push(line) })));
  });
  afterEach(async () => {
    await Promise.all(systems.splice(0).map((s) => s.shutdown()));
    await Promise.all(workers.map((w) => w.stop()));
  });

  const node = async (): Promise<ActorSystem> => {
    const system = await ActorSystem.start({ name: SYSTEM, transport: await connectNats({ servers: nats.url }), types: [SumTask, SumResult] });
    systems.push(system);
    return system;
  };
  const gcsStore = (): GcsStore => new GcsStore(gcs.bucket, "jobs", { apiEndpoint: gcs.endpoint });

  /** The state as a fresh reducer loads it from GCS: what is durable, nothing else. */
  async function durableSum(key: string): Promise<{ total: number; count: number }> {
    const system = await node();
    const reader: ActorRef<any> = system.spawn(sumReducer, { props: { store: gcsStore(), key } });
    const state = SumState.decode((await reader.ask(ReducerStateRequest.create(), ReducerState)).state);
    return { total: state.total, count: state.count };
  }

  it("reducers: two reducers on different nodes racing on one GCS object both land their contributions", async () => {
    const [a, b] = [await node(), await node()];
    const [sa, sb] = [new CountingStore(gcsStore()), new CountingStore(gcsStore())];
    const ra = a.spawn(sumReducer, { props: { store: sa, key: "race/sum", flushEveryMs: 200 } });
    const rb = b.spawn(sumReducer, { props: { store: sb, key: "race/sum", flushEveryMs: 200 } });
    const result = (n: number) => TaskResult.create({ jobId: "race", taskId: `t${n}`, resultType: "troupe.examples.sum.SumResult", result: SumResult.encode({ n, square: n * n }).finish() });
    // A reducer answers only once its `started` has loaded the object: both have seen it absent.
    await Promise.all([ra.ask(ReducerStateRequest.create(), ReducerState), rb.ask(ReducerStateRequest.create(), ReducerState)]);
    for (let n = 1; n <= 400; n++) (n % 2 ? ra : rb).tell(result(n));
    await Promise.all([ra.ask(Flush.create(), Flushed, { timeoutMs: 30_000 }), rb.ask(Flush.create(), Flushed, { timeoutMs: 30_000 })]);
    expect(await durableSum("race/sum")).to.deep.equal(expectedSum(400));
    // Both loaded the object while it was absent, so whichever wrote second was refused (412) and merged again.
    const conflicts = [...sa.writesTo("race/sum"), ...sb.writesTo("race/sum")].filter((w) => w.outcome === "conflict");
    expect(conflicts.length).to.be.at.least(1);
  });

  it("job: 10,000 tasks over three worker processes, one killed with SIGKILL mid-job, end exact; poison set aside; at most one write per object per second", async () => {
    const coordinator = await node();
    await eventually("three worker nodes", () => coordinator.nodes().filter((n) => n.kinds.includes("sum-worker")).length === 3, 10_000);
    const store = new CountingStore(gcsStore());
    const reducer = coordinator.spawn(sumReducer, { name: "sum", props: { store, key: "big/sum" } });
    const poison = new Set([17, 4_242, 9_999]);
    // Killed once 3,000 results have come back, counted before they are durable: `done` moves in steps of
    // one checkpoint a second, which at full speed can be most of the job.
    let killedAtComputed = 0;
    const result = await runJob(coordinator, {
      id: "big",
      tasks: sumTasks(10_000, poison),
      total: 10_000,
      taskType: SumTask,
      worker: sumWorker,
      reducer,
      workers: 3,
      progressEveryMs: 50,
      onProgress: (p) => {
        if (killedAtComputed === 0 && p.done + p.awaitingDurable >= 3_000) {
          killedAtComputed = p.done + p.awaitingDurable;
          workers[1]!.child.kill("SIGKILL");
        }
      },
    });
    expect(killedAtComputed, "a worker was killed mid-job").to.be.within(3_000, 9_000);
    expect(result).to.include({ done: 9_997, failed: 3 });
    // Each poison task is retried twice (three attempts); anything beyond that is the killed worker's tasks.
    expect(result.retried, "the killed worker's tasks were handed out again").to.be.greaterThan(poison.size * 2);
    expect(result.setAside.map((t) => t.taskId).sort()).to.deep.equal(["t17", "t4242", "t9999"]);
    expect(result.setAside.every((t) => t.errors.every((e) => /is poison/.test(e)))).to.equal(true);
    expect(await durableSum("big/sum")).to.deep.equal(expectedSum(10_000, poison));

    const written = store.writesTo("big/sum").filter((w) => w.outcome === "written");
    expect(written.length).to.be.greaterThan(1);
    const gaps = written.slice(1).map((w, i) => w.atMs - written[i]!.atMs);
    expect(Math.min(...gaps), "ms between two checkpoints of one object").to.be.at.least(999);
  });

  it("resume: a coordinator killed mid-job and started again finishes exact without recomputing durable tasks", async () => {
    // Checkpoints every 100 ms, so that progress (durable tasks) grows steadily and the kill lands mid-job.
    const first = await runCoordinator("resume", 10_000, (line, child) => {
      if (line.progress && line.progress.done >= 1_000) child.kill("SIGKILL");
    });
    expect(first.exit).to.equal("SIGKILL");
    const doneBeforeKill = first.lastProgress!.done;

    const second = await runCoordinator("resume", 10_000);
    const result = second.final!.result;
    expect(second.exit).to.equal(0);
    // Everything acknowledged as durable before the kill is skipped, and nothing else is handed out twice.
    expect(result.skipped).to.be.at.least(doneBeforeKill);
    expect(result.skipped).to.be.below(10_000);
    expect(result.dispatched).to.equal(10_000 - result.skipped);
    expect(result.done).to.equal(10_000);
    expect(second.final!.state).to.include(expectedSum(10_000));
    expect(await durableSum("resume/sum")).to.deep.equal(expectedSum(10_000));
  });

  interface CoordinatorLine {
    readonly progress?: { done: number };
    readonly result?: JobResult;
    readonly state?: { total: number; count: number };
  }

  /** Runs the coordinator fixture in its own process; `onLine` sees each JSON line as it comes. */
  function runCoordinator(jobId: string, tasks: number, onLine?: (line: CoordinatorLine, child: ReturnType<typeof spawn>) => void) {
    const child = spawn(process.execPath, ["--import", "tsx", COORDINATOR, nats.url, gcs.endpoint, gcs.bucket, jobId, String(tasks), "3", "100"], { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const out = { lastProgress: undefined as { done: number } | undefined, final: undefined as { result: JobResult; state: { total: number; count: number } } | undefined, exit: undefined as number | string | undefined };
    createInterface({ input: child.stderr }).on("line", (line) => stderr.push(`[coordinator] ${line}`));
    createInterface({ input: child.stdout }).on("line", (text) => {
      const line = JSON.parse(text) as CoordinatorLine;
      if (line.progress) out.lastProgress = line.progress;
      if (line.result) out.final = { result: line.result, state: line.state! };
      onLine?.(line, child);
    });
    return new Promise<typeof out>((resolve) => child.once("exit", (code, signal) => resolve({ ...out, exit: signal ?? code ?? undefined })));
  }
});
