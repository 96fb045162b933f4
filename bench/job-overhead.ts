import { join } from "node:path";
import { ActorSystem, MemoryNetwork, connectNats, openStateStore, runJob, type ActorRef, type Transport } from "../runtime/index.js";
import { startWorker, type WorkerProcess } from "../runtime/cli/worker-processes.js";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { troupe } from "../proto/gen/troupe.js";
import { SumResult, SumState, SumTask, sumReducer, sumTasks, sumWorker } from "../test/fixtures/sum-job.js";
import { alternate, within, type Benchmark, type BenchContext, type Figure } from "./benchmark.js";
import { expectedTotal, initialSum, isSumOfSquares, loopRate, mergeSum, square } from "./sum-baseline.js";
import { median, nowMs } from "./stats.js";

const { ReducerStateRequest, ReducerState } = troupe.work;

const SYSTEM = "bench-job";
/** Worker nodes, and worker actors in the job (one per node, round-robin). */
const WORKERS = 3;
/** The reducer checkpoints to its (in-memory) store at most this often. */
const FLUSH_EVERY_MS = 50;
/** A baseline round runs the loop again until this long has passed. */
const BASELINE_MIN_MS = 200;
const SUM_TOPOLOGY = join(PROJECT_ROOT, "test", "fixtures", "sum-topology.ts");

/**
 * The cost of running tasks as a job: N sum-of-squares tasks (test/fixtures/sum-job.ts) through
 * `runJob` (work supervisor, three workers on three worker nodes, the sum reducer on a MemoryStore,
 * checkpoints every 50 ms), from the `runJob` call until it resolves (every result durable, workers
 * stopped). Two setups: all nodes in this process on the in-memory transport, and worker node
 * processes (`troupe node --module test/fixtures/sum-topology.ts`) over a real nats-server. Baseline:
 * the same tasks, squared and merged in a plain loop.
 */
export const jobOverhead: Benchmark = {
  name: "job-overhead",
  async run(ctx) {
    const figures: Figure[] = [];
    const memory = await memoryCluster();
    try {
      figures.push(await measure(ctx, "job-overhead-memory", memory, ctx.quick ? 10_000 : 50_000));
    } finally {
      await memory.close();
    }
    const { nats } = await ctx.remote();
    const processes = await processCluster(nats.url, (line) => ctx.log(line));
    try {
      figures.push(await measure(ctx, "job-overhead-nats", processes, ctx.quick ? 10_000 : 50_000));
    } catch (error) {
      for (const line of processes.tail?.() ?? []) ctx.log(`  ${line}`);
      throw error;
    } finally {
      await processes.close();
    }
    return figures;
  },
};

interface Cluster {
  readonly coordinator: ActorSystem;
  /** The worker processes' last stderr lines, for a failure's report. */
  readonly tail?: () => string[];
  close(): Promise<void>;
}

async function memoryCluster(): Promise<Cluster> {
  const network = new MemoryNetwork();
  const start = (nodeId: string, kinds: boolean) =>
    ActorSystem.start({ name: SYSTEM, nodeId, transport: network.connect(nodeId), kinds: kinds ? [sumWorker] : [], types: [SumTask, SumResult] });
  const workers = await Promise.all(Array.from({ length: WORKERS }, (_, i) => start(`w${i + 1}`, true)));
  const coordinator = await start("coordinator", false);
  const close = async () => {
    await coordinator.shutdown();
    await Promise.all(workers.map((w) => w.shutdown()));
  };
  await waitForWorkers(coordinator, close);
  return { coordinator, close };
}

async function processCluster(natsUrl: string, log: (line: string) => void): Promise<Cluster> {
  const started: WorkerProcess[] = [];
  const lines: string[] = [];
  const keep = (line: string) => {
    lines.push(line);
    if (lines.length > 100) lines.shift();
  };
  let coordinator: ActorSystem | undefined;
  const close = async () => {
    await coordinator?.shutdown();
    await Promise.all(started.map((w) => w.stop()));
  };
  try {
    for (let i = 1; i <= WORKERS; i++) {
      started.push(await startWorker({ system: SYSTEM, nodeId: `w${i}`, servers: [natsUrl], modulePath: SUM_TOPOLOGY, log: (line) => keep(`[worker w${i}] ${line}`) }));
    }
    const transport: Transport = await connectNats({ servers: natsUrl });
    coordinator = await ActorSystem.start({ name: SYSTEM, nodeId: "coordinator", transport, types: [SumTask, SumResult] });
  } catch (error) {
    for (const line of lines) log(`  ${line}`);
    await close();
    throw error;
  }
  await waitForWorkers(coordinator, close);
  return { coordinator, close, tail: () => [...lines] };
}

/** Waits until the coordinator has heard from every worker node (their first heartbeats). */
async function waitForWorkers(coordinator: ActorSystem, close: () => Promise<void>): Promise<void> {
  const ready = async () => {
    while (coordinator.nodes().filter((n) => n.kinds.includes(sumWorker.kind!)).length < WORKERS) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  try {
    await within(ready(), 15_000, () => `${WORKERS} worker nodes joining`);
  } catch (error) {
    await close();
    throw error;
  }
}

async function measure(ctx: BenchContext, name: string, cluster: Cluster, n: number): Promise<Figure> {
  let round = 0;
  const loop = async (warmup: boolean): Promise<number> => {
    const count = warmup ? n / 10 : n;
    return loopRate(BASELINE_MIN_MS, () => {
      let state = initialSum();
      for (const task of sumTasks(count)) state = mergeSum(state, square(task.payload));
      if (!isSumOfSquares(state.total, count)) throw new Error(`plain loop: total ${state.total}, expected ${expectedTotal(count)}`);
      return count;
    });
  };

  // The warm-up job is full size: worker processes need thousands of tasks before their code is optimised.
  const job = async (): Promise<number> => {
    const id = `${name}-${++round}`;
    const store = openStateStore("memory:");
    const reducer: ActorRef<any> = cluster.coordinator.spawn(sumReducer, { name: `sum-${round}`, props: { store, key: `jobs/${id}`, flushEveryMs: FLUSH_EVERY_MS } });
    try {
      const started = nowMs();
      const result = await within(runJob(cluster.coordinator, { id, tasks: sumTasks(n), total: n, taskType: SumTask, worker: sumWorker, reducer, workers: WORKERS }), 600_000, () => `${name}: job ${id}`);
      const ms = nowMs() - started;
      if (result.done !== n || result.failed !== 0) throw new Error(`${name}: job ${id} ended with ${JSON.stringify({ done: result.done, failed: result.failed, retried: result.retried })}`);
      const state = SumState.decode((await reducer.ask(ReducerStateRequest.create(), ReducerState, { timeoutMs: 30_000 })).state);
      if (!isSumOfSquares(state.total, n) || state.count !== n) throw new Error(`${name}: state ${JSON.stringify(state.toJSON())}, expected total ${expectedTotal(n)} of ${n}`);
      if (result.retried > 0) ctx.log(`  ${name}: job ${id} handed ${result.retried} tasks out again`);
      return n / (ms / 1000);
    } finally {
      await cluster.coordinator.stop(reducer);
      await store.close();
    }
  };

  const runs = await alternate(ctx, name, loop, job, { show: (perSecond) => `${Math.round(perSecond).toLocaleString("en-US")} tasks/s` });
  return {
    name,
    value: median(runs.troupe),
    unit: "tasks/s",
    baseline: "plain loop: the same tasks squared and merged",
    baselineValue: median(runs.baseline),
    target: { op: "record" },
  };
}
