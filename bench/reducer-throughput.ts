import { ActorSystem, CountingStore, MemoryNetwork, type ActorRef } from "../runtime/index.js";
import { GcsStore } from "../runtime/gcs/index.js";
import { troupe } from "../proto/gen/troupe.js";
import { SumResult, SumState, sumReducer } from "../test/fixtures/sum-job.js";
import { startFakeGcs } from "../test/helpers/fake-gcs.js";
import { alternate, type Benchmark, type BenchContext, type Figure } from "./benchmark.js";
import { expectedTotal, initialSum, isSumOfSquares, loopRate, mergeSum } from "./sum-baseline.js";
import { median, nowMs } from "./stats.js";

const { TaskResult, AppliedTasksRequest, AppliedTasks, ReducerStateRequest, ReducerState, Flush, Flushed } = troupe.work;

/** The reducer's default: at most one checkpoint per object per second (GCS's per-object write rate). */
const FLUSH_EVERY_MS = 1_000;
const JOB_ID = "bench";
/** A baseline round folds the results again until this long has passed. */
const BASELINE_MIN_MS = 200;
/** Results told per turn of the event loop, as results arriving from workers would come. */
const CHUNK = 1_000;

interface Round {
  readonly writesPerSecond: number;
  /** The most writes the rate allows in a round this long: per object, one at the start and one per flushEveryMs. */
  readonly allowedPerSecond: number;
  /** From the first tell until the reducer had merged them all (in memory). */
  readonly mergedMs: number;
  /** Shortest time between two writes of one object, ms (Infinity with one write per object). */
  readonly minGapMs: number;
  readonly writes: number;
  /** When each write started, ms after the first tell. */
  readonly writesAtMs: readonly number[];
  /** The checkpoints' size at the end (all objects). */
  readonly checkpointBytes: number;
  readonly ms: number;
}

/**
 * Results merged per second by one reducer whose store is GCS (a real fake-gcs-server over HTTP),
 * from the first TaskResult told to the moment all are durable (an asked Flush answers with the durable
 * count), with the default flushEveryMs. Also its GCS writes per second, beside the rate it is allowed.
 * Baseline: the same merge folded over the same results, already decoded, in a plain loop.
 */
export const reducerThroughput: Benchmark = {
  name: "reducer-throughput",
  async run(ctx) {
    const n = ctx.quick ? 200_000 : 1_000_000;
    const gcs = await startFakeGcs({ bucket: "troupe-bench" });
    const store = new GcsStore(gcs.bucket, "bench", { apiEndpoint: gcs.endpoint });
    const system = await ActorSystem.start({ name: "bench-reducer", nodeId: "reducer", transport: new MemoryNetwork().connect(), membership: false });
    try {
      // Built once: every round writes to a fresh object, so the same job and task ids are new to it.
      const results = Array.from({ length: n }, (_, i) => SumResult.encode({ n: i + 1, square: (i + 1) ** 2 }).finish());
      const input: Input = {
        messages: results.map((result, i) => TaskResult.create({ jobId: JOB_ID, taskId: `t${i + 1}`, resultType: "troupe.examples.sum.SumResult", result })),
        decoded: results.map((bytes) => SumResult.decode(bytes)),
      };
      const figures: Figure[] = [];
      for (const shards of [1, 4]) figures.push(...(await variant(ctx, system, store, input, shards)));
      return figures;
    } finally {
      await system.shutdown();
      await store.close();
      await gcs.stop();
    }
  },
};

/** The same results twice: as TaskResult messages for the reducer, and decoded for the bare fold. */
interface Input {
  readonly messages: readonly troupe.work.TaskResult[];
  readonly decoded: readonly ReturnType<typeof SumResult.decode>[];
}

async function variant(ctx: BenchContext, system: ActorSystem, store: GcsStore, input: Input, shards: number): Promise<Figure[]> {
  const suffix = shards === 1 ? "" : `-${shards}-shards`;
  const label = `reducer-throughput${suffix}`;
  const n = input.messages.length;
  let round = 0;
  const rounds: Round[] = [];

  const fold = async (warmup: boolean): Promise<number> => {
    const results = warmup ? input.decoded.slice(0, n / 10) : input.decoded;
    return loopRate(BASELINE_MIN_MS, () => {
      let state = initialSum();
      for (const result of results) state = mergeSum(state, result);
      if (!isSumOfSquares(state.total, results.length)) throw new Error(`bare fold: total ${state.total}, expected ${expectedTotal(results.length)}`);
      return results.length;
    });
  };

  const reducer = async (warmup: boolean): Promise<number> => {
    const count = warmup ? n / 10 : n;
    const key = `throughput/${label}-${++round}`;
    const counting = new CountingStore(store);
    const all = warmup ? input.messages.slice(0, count) : input.messages;
    const ref: ActorRef<any> = system.spawn(sumReducer, { props: { store: counting, key, shards, flushEveryMs: FLUSH_EVERY_MS }, mailbox: { capacity: Infinity } });
    // Answered once `started` has loaded the (absent) checkpoint: the reducer is ready.
    await ref.ask(AppliedTasksRequest.create({ jobId: JOB_ID }), AppliedTasks, { timeoutMs: 30_000 });

    const started = nowMs();
    const startedAt = Date.now(); // CountingStore's clock
    for (let i = 0; i < all.length; i += CHUNK) {
      for (let j = i; j < Math.min(i + CHUNK, all.length); j++) ref.tell(all[j]!);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Queued behind the results: answered once all are merged in memory (not yet durable).
    const merged = await ref.ask(ReducerStateRequest.create(), ReducerState, { timeoutMs: 300_000 });
    const mergedMs = nowMs() - started;
    if (merged.applied !== count) throw new Error(`${label}: ${merged.applied} results applied, expected ${count}`);
    const flushed = await ref.ask(Flush.create(), Flushed, { timeoutMs: 300_000 });
    const ms = nowMs() - started;

    if (flushed.durable !== count) throw new Error(`${label}: ${flushed.durable} results durable, expected ${count}`);
    const state = SumState.decode((await ref.ask(ReducerStateRequest.create(), ReducerState, { timeoutMs: 30_000 })).state);
    if (!isSumOfSquares(state.total, count) || state.count !== count) throw new Error(`${label}: state ${JSON.stringify(state.toJSON())}, expected total ${expectedTotal(count)} of ${count}`);
    await system.stop(ref);

    const writes = counting.totalWrites;
    let minGapMs = Number.POSITIVE_INFINITY;
    let checkpointBytes = 0;
    const writesAtMs: number[] = [];
    for (const k of counting.keysWritten()) {
      const at = counting.writesTo(k).map((w) => w.atMs);
      for (let i = 1; i < at.length; i++) minGapMs = Math.min(minGapMs, at[i]! - at[i - 1]!);
      writesAtMs.push(...at.map((t) => t - startedAt));
      checkpointBytes += (await store.read(k))?.bytes.length ?? 0;
    }
    writesAtMs.sort((a, b) => a - b);
    const allowed = shards * (1 + Math.floor(ms / FLUSH_EVERY_MS));
    if (!warmup) rounds.push({ writesPerSecond: writes / (ms / 1000), allowedPerSecond: allowed / (ms / 1000), mergedMs, minGapMs, writes, writesAtMs, checkpointBytes, ms });
    return count / (ms / 1000);
  };

  const runs = await alternate(ctx, label, fold, reducer, { show: (perSecond) => `${Math.round(perSecond).toLocaleString("en-US")}/s` });
  for (const [i, r] of rounds.entries()) {
    ctx.log(
      `  ${label}: round ${i + 1}: all merged after ${Math.round(r.mergedMs)} ms, durable after ${Math.round(r.ms)} ms; ` +
        `${r.writes} GCS writes (${r.writesPerSecond.toFixed(2)}/s) starting at ${r.writesAtMs.map((t) => Math.round(t)).join(", ")} ms, ` +
        `shortest gap between writes of one object ${Number.isFinite(r.minGapMs) ? `${Math.round(r.minGapMs)} ms` : "-"}; checkpoint ${(r.checkpointBytes / 1e6).toFixed(2)} MB`,
    );
  }
  return [
    {
      name: label,
      value: median(runs.troupe),
      unit: "results/s",
      baseline: "bare fold of the same merge over the decoded results",
      baselineValue: median(runs.baseline),
      target: { op: "record" },
    },
    {
      name: `reducer-gcs-writes${suffix}`,
      value: median(rounds.map((r) => r.writesPerSecond)),
      unit: "writes/s",
      baseline: `most the rate allows: ${shards} object${shards === 1 ? "" : "s"} x (1 + 1 per ${FLUSH_EVERY_MS} ms) in the round`,
      baselineValue: median(rounds.map((r) => r.allowedPerSecond)),
      target: { op: "record" },
    },
  ];
}
