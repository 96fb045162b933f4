import { expect } from "chai";
import { ActorSystem, MemoryNetwork, defineActor, openStateStore, runJob, type ActorRef, type JobProgress, type StateStore } from "../../runtime/index.js";
import { troupe } from "../../proto/gen/troupe.js";
import { SumResult, SumState, SumTask, expectedSum, sumReducer, sumTasks, sumWorker } from "../fixtures/sum-job.js";
import { eventually } from "../helpers/conditions.js";

const { TaskResult, ResultDurable, ReducerStateRequest, ReducerState, Flush, Flushed } = troupe.work;

/** Reads a reducer's merged state. */
async function sumOf(reducer: ActorRef<any>): Promise<{ total: number; count: number; durable: number }> {
  const reply = await reducer.ask(ReducerStateRequest.create(), ReducerState);
  const state = SumState.decode(reply.state);
  return { total: state.total, count: state.count, durable: reply.durable };
}

describe("work supervisor and reducer (system tier, in-memory network and store)", function () {
  this.timeout(30_000);
  let network: MemoryNetwork;
  let coordinator: ActorSystem;
  let workers: ActorSystem[];
  let store: StateStore;

  const node = (nodeId: string, kinds: boolean): Promise<ActorSystem> =>
    ActorSystem.start({
      name: "work",
      nodeId,
      transport: network.connect(nodeId),
      kinds: kinds ? [sumWorker] : [],
      types: [SumTask, SumResult],
      membership: { intervalMs: 50, failureTimeoutMs: 300 },
    });

  beforeEach(async () => {
    network = new MemoryNetwork();
    store = openStateStore("memory:");
    workers = await Promise.all(["w1", "w2", "w3"].map((id) => node(id, true)));
    coordinator = await node("coordinator", false);
    await eventually("workers seen", () => coordinator.nodes().filter((n) => n.kinds.includes("sum-worker")).length === 3);
  });
  afterEach(async () => {
    await coordinator.shutdown();
    await Promise.all(workers.map((w) => w.shutdown()));
    await store.close();
  });

  const reducerOn = (system: ActorSystem, name = "sum", flushEveryMs = 20): ActorRef<any> =>
    system.spawn(sumReducer, { name, props: { store, key: "jobs/sum", flushEveryMs } });

  it("job: 2,000 tasks over three worker nodes end in exactly the expected state, each result durable once", async () => {
    const reducer = reducerOn(coordinator);
    const progress: JobProgress[] = [];
    let hosting: number[] = [];
    const onProgress = (p: JobProgress): void => {
      progress.push(p);
      if (p.done > 0 && hosting.length === 0) hosting = workers.map((w) => w.actors().filter((a) => a.kind === "sum-worker").length);
    };
    const result = await runJob(coordinator, { id: "squares", tasks: sumTasks(2_000), total: 2_000, taskType: SumTask, worker: sumWorker, reducer, workers: 3, onProgress, progressEveryMs: 0 });
    expect(result).to.include({ done: 2_000, skipped: 0, failed: 0, dispatched: 2_000, retried: 0 });
    expect(await sumOf(reducer)).to.deep.equal({ ...expectedSum(2_000), durable: 2_000 });
    expect(progress.at(-1)).to.include({ done: 2_000, inFlight: 0 });
    // The workers were spread round-robin: one on each worker node.
    expect(hosting).to.deep.equal([1, 1, 1]);
  });

  it("job: poison tasks are set aside after maxAttempts with their errors, and the rest is exact", async () => {
    const reducer = reducerOn(coordinator);
    const poison = new Set([7, 300]);
    const result = await runJob(coordinator, { id: "with-poison", tasks: sumTasks(500, poison), taskType: SumTask, worker: sumWorker, reducer, workers: 2, maxAttempts: 3 });
    expect(result).to.include({ done: 498, failed: 2 });
    expect(result.setAside.map((t) => [t.taskId, t.attempts, t.errors.length])).to.have.deep.members([
      ["t7", 3, 3],
      ["t300", 3, 3],
    ]);
    expect(result.setAside[0]!.errors[0]).to.match(/attempt 1: task (7|300) is poison/);
    expect(await sumOf(reducer)).to.include(expectedSum(500, poison));
  });

  it("resume: running a job again with the same id hands out only what is not durable yet", async () => {
    const reducer = reducerOn(coordinator);
    const first = await runJob(coordinator, { id: "again", tasks: sumTasks(300), taskType: SumTask, worker: sumWorker, reducer, workers: 2 });
    expect(first.dispatched).to.equal(300);
    await coordinator.stop(reducer);
    const reloaded = reducerOn(coordinator, "sum-2");
    const second = await runJob(coordinator, { id: "again", tasks: sumTasks(400), taskType: SumTask, worker: sumWorker, reducer: reloaded, workers: 2 });
    expect(second).to.include({ skipped: 300, dispatched: 100, done: 400 });
    expect(await sumOf(reloaded)).to.include(expectedSum(400));
  });

  it("node loss: a worker node that disappears mid-job loses nothing; its tasks are handed out again", async () => {
    const reducer = reducerOn(coordinator);
    let killed = false;
    const result = await runJob(coordinator, {
      id: "loss",
      tasks: sumTasks(3_000),
      taskType: SumTask,
      worker: sumWorker,
      reducer,
      workers: 3,
      placement: "round-robin",
      onProgress: (p) => {
        if (!killed && p.done > 500) {
          killed = true;
          // Gone without a word: its transport closes under it, as when its process dies.
          void workers[1]!.transport.close();
        }
      },
      progressEveryMs: 0,
    });
    expect(killed).to.equal(true);
    expect(result).to.include({ done: 3_000, failed: 0 });
    expect(await sumOf(reducer)).to.include(expectedSum(3_000));
  });

  it("reducer: a repeated task id is acknowledged as a duplicate and not merged again", async () => {
    const reducer = reducerOn(coordinator);
    const acks: troupe.work.ResultDurable[] = [];
    const sink = coordinator.spawn(defineActor({ messages: { ResultDurable }, init: () => ({}), handlers: { ResultDurable: (_s, m) => void acks.push(m) } }));
    const result = (n: number) => TaskResult.create({ jobId: "j", taskId: `t${n}`, resultType: "troupe.examples.sum.SumResult", result: SumResult.encode({ n, square: n * n }).finish(), ackTo: sink.address });
    reducer.tell(result(3));
    reducer.tell(result(3));
    await eventually("two acks", () => acks.length === 2);
    reducer.tell(result(3));
    await eventually("three acks", () => acks.length === 3);
    // The first two arrived before the checkpoint: one merge, both told once it was durable. The third
    // came after: a duplicate, acknowledged at once and ignored.
    expect(acks.map((a) => a.duplicate)).to.deep.equal([false, false, true]);
    expect(await sumOf(reducer)).to.include({ total: 9, count: 1 });
  });

  it("reducer: two reducers racing on one object both land their contributions", async () => {
    const a = reducerOn(workers[0]!, "a", 5);
    const b = reducerOn(workers[1]!, "b", 5);
    const result = (n: number) => TaskResult.create({ jobId: "race", taskId: `t${n}`, resultType: "troupe.examples.sum.SumResult", result: SumResult.encode({ n, square: n * n }).finish() });
    for (let n = 1; n <= 200; n++) (n % 2 ? a : b).tell(result(n));
    await Promise.all([a.ask(Flush.create(), Flushed), b.ask(Flush.create(), Flushed)]);
    const fresh = reducerOn(coordinator, "reader");
    expect(await sumOf(fresh)).to.include(expectedSum(200));
  });
});
