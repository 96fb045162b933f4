import { expect } from "chai";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { ActorSystem, MemoryNetwork, defineWorker, formatProgress, openStateStore, runJob, type JobProgress, type JobTask } from "../../runtime/index.js";
import { MemoryCacheStore, ResultCache } from "../../runtime/cache/index.js";
import { startTracing, type TracingHandle } from "../../runtime/tracing/index.js";
import { SumResult, SumTask, sumReducer } from "../fixtures/sum-job.js";
import { eventually } from "../helpers/conditions.js";

describe("a worker with a result cache (system tier, in-memory network, InMemorySpanExporter)", () => {
  let exporter: InMemorySpanExporter;
  let tracing: TracingHandle;

  before(() => {
    exporter = new InMemorySpanExporter();
    tracing = startTracing({ exporter, serviceName: "cache-test" });
  });
  after(() => tracing.shutdown());

  it("cached worker: repeated tasks are answered from the cache, and job progress, the job's result and each task's span say so", async () => {
    const network = new MemoryNetwork();
    const cache = new ResultCache(new MemoryCacheStore(), { log: () => undefined });
    let computed = 0;
    const squarer = defineWorker({
      kind: "cached-squarer",
      task: SumTask,
      result: SumResult,
      cache: { use: cache, version: 1 },
      run: (task) => {
        computed++;
        return SumResult.create({ n: task.n, square: task.n * task.n });
      },
    });
    const start = (nodeId: string, kinds: boolean): Promise<ActorSystem> =>
      ActorSystem.start({ name: "cached", nodeId, transport: network.connect(nodeId), kinds: kinds ? [squarer] : [], types: [SumTask, SumResult], tracing: true, membership: { intervalMs: 50, failureTimeoutMs: 1_000 } });
    const worker = await start("w", true);
    const coordinator = await start("c", false);
    const state = openStateStore("memory:");
    try {
      await eventually("the worker node seen", () => coordinator.nodes().some((n) => n.kinds.includes("cached-squarer")));
      const reducer = coordinator.spawn(sumReducer, { name: "sum", props: { store: state, key: "jobs/cached", flushEveryMs: 10 } });
      // Three distinct tasks, each three times: one worker, one task at a time, so the repeats are hits.
      const tasks = (): JobTask<SumTask>[] => Array.from({ length: 9 }, (_, i) => ({ id: `t${i}`, payload: SumTask.create({ n: i % 3 }) }));
      const progress: JobProgress[] = [];
      const result = await runJob(coordinator, { id: "cached", tasks, taskType: SumTask, worker: squarer, reducer, workers: 1, maxInFlightPerWorker: 1, onProgress: (p) => progress.push(p), progressEveryMs: 0 });
      expect(computed).to.equal(3);
      expect(result.cache).to.include({ hits: 6, misses: 3, waits: 0, bypassed: 0 });
      expect(Object.keys(result.cached).sort()).to.deep.equal(["t3", "t4", "t5", "t6", "t7", "t8"]);
      expect(progress.at(-1)?.cache).to.include({ hits: 6, misses: 3 });
      expect(formatProgress(progress.at(-1)!, false)).to.match(/cache 6 hits 0 waits 3 misses \(saved \d+\.\d s\)$/);

      await tracing.forceFlush();
      const processed = exporter.getFinishedSpans().filter((s) => s.name === "process cached-squarer");
      expect(processed.map((s) => s.attributes["troupe.cache.outcome"]).sort()).to.deep.equal([...Array(6).fill("hit"), ...Array(3).fill("miss")]);
      expect(processed[0]!.attributes["troupe.cache.store"]).to.equal("memory:");
      expect(processed.flatMap((s) => s.events.map((e) => e.name)).filter((name) => name === "cache hit")).to.have.length(6);
      const job = exporter.getFinishedSpans().find((s) => s.name === "job cached");
      expect(job?.attributes).to.include({ "troupe.job.cache.hits": 6, "troupe.job.cache.misses": 3 });
    } finally {
      await coordinator.shutdown();
      await worker.shutdown();
      await state.close();
    }
  });
});
