import { ActorSystem, connectNats, runJob, type ActorRef, type JobResult, type JobTask } from "../../runtime/index.js";
import { startWorker, type WorkerProcess } from "../../runtime/cli/worker-processes.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { troupe } from "../../proto/gen/troupe.js";
import { SumResult, SumState, SumTask, expectedSum, sumReducer, sumWorker } from "../fixtures/sum-job.js";
import { startPersistentFakeGcs, type PersistentFakeGcs } from "../helpers/chaos-gcs.js";
import { ResultDuplicator } from "../helpers/chaos-duplicator.js";
import { eventually } from "../helpers/conditions.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";
import { SeededRandom } from "../helpers/seeded-random.js";
import { inject, planFaults, type ChaosWorker, type FaultRecord, type FaultTargets } from "./chaos-faults.js";
import { GcsStore } from "../../runtime/gcs/index.js";

const SYSTEM = "chaos";
const MODULE = `${PROJECT_ROOT}/test/fixtures/sum-topology.ts`;

export interface ChaosOptions {
  readonly seed: number;
  readonly jobs: number;
  readonly tasksPerJob: number;
  /** Tasks released per second: a job lasts at least tasks / rate, so its faults land mid-job on any machine. */
  readonly tasksPerSecond: number;
  readonly faultsPerJob: number;
  readonly workers: number;
  /** A result not durable this long is handed out again (a message lost with a connection). */
  readonly taskTimeoutMs: number;
  readonly log: (line: string) => void;
}

/** What one job ended with, from its state object read back from GCS. */
export interface JobOutcome {
  readonly id: string;
  readonly result: JobResult;
  readonly state: { total: number; count: number };
  readonly expected: { total: number; count: number };
  /** Tasks of the job missing from the durable state. */
  readonly lost: number;
  /** Merges beyond one per task: the state's count minus the distinct tasks recorded with it. */
  readonly countedTwice: number;
  /** Start and end of the job, from the start of the run. */
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly durationMs: number;
}

export interface ChaosReport {
  readonly seed: number;
  readonly faults: readonly FaultRecord[];
  readonly jobs: readonly JobOutcome[];
  readonly duplicatesSent: number;
  readonly lost: number;
  readonly countedTwice: number;
  readonly durationMs: number;
  /** The lines to print: faults injected, jobs completed, lost, counted twice, seed. */
  readonly summary: string;
}

/**
 * A chaos run: a 3-server NATS cluster, fake-gcs-server (filesystem backend), `workers` worker node
 * processes and an in-process coordinator, the sum job run `jobs` times while faults planned from the
 * seed are injected; each job's state is read back from GCS and compared with the exact answer.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { seed, log } = options;
  const random = new SeededRandom(seed);
  const t0 = Date.now();
  const now = (): number => Date.now() - t0;
  const events: { atMs: number; text: string }[] = [];
  const workerLog: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  log(`chaos: seed ${seed} (replay with TROUPE_CHAOS_SEED=${seed}); ${options.jobs} job(s) of ${options.tasksPerJob} tasks at ${options.tasksPerSecond}/s, ${options.faultsPerJob} faults per job, ${options.workers} worker processes`);
  try {
    const cluster: NatsCluster = await startNatsCluster();
    cleanups.push(() => cluster.stop());
    const gcs: PersistentFakeGcs = await startPersistentFakeGcs();
    cleanups.push(() => gcs.close());
    // Node i puts server i first; the coordinator keeps that order (noRandomize). `troupe node` cannot be
    // told not to shuffle, so nats.js may put a worker on any of the three: each still has all three to fail over to.
    const serversFor = (i: number): string[] => cluster.urls.map((_, j) => cluster.urls[(i + j) % cluster.urls.length]!);

    const coordinator = await ActorSystem.start({
      name: SYSTEM,
      nodeId: "coordinator",
      transport: await connectNats({ servers: serversFor(0), noRandomize: true, name: "chaos coordinator" }),
      types: [SumTask, SumResult],
    });
    cleanups.unshift(() => coordinator.shutdown());
    coordinator.onEvent((event) => {
      if (event.type === "membership") events.push({ atMs: now(), text: `${event.event.node.node} ${event.event.type}` });
      if (event.type === "transport" && event.event.type === "reconnect") events.push({ atMs: now(), text: `coordinator reconnect` });
    });

    let started = 0;
    const live = new Map<string, { process: WorkerProcess; worker: ChaosWorker }>();
    const held = new Set<string>();
    const launch = async (): Promise<ChaosWorker> => {
      const index = started++;
      const nodeId = `w${index + 1}`;
      const process = await startWorker({
        system: SYSTEM,
        nodeId,
        servers: serversFor(index + 1),
        modulePath: MODULE,
        log: (line) => {
          workerLog.push(line);
          if (line.endsWith("nats: reconnect") || / nats: reconnect /.test(line)) events.push({ atMs: now(), text: `${nodeId} reconnect` });
        },
      });
      const exited = new Promise<void>((resolve) => (process.child.exitCode !== null || process.child.signalCode !== null ? resolve() : process.child.once("exit", () => resolve())));
      const worker: ChaosWorker = { nodeId, pid: process.child.pid!, signal: (name) => void process.child.kill(name), exited: () => exited };
      live.set(nodeId, { process, worker });
      await eventually(`the coordinator to see ${nodeId}`, () => coordinator.nodes().some((n) => n.node === nodeId && n.kinds.includes("sum-worker")), 15_000);
      return worker;
    };
    cleanups.unshift(() => Promise.all([...live.values()].map(({ process, worker }) => (worker.signal("SIGCONT"), process.stop(5_000)))));
    await Promise.all(Array.from({ length: options.workers }, () => launch()));

    const duplicator = await ResultDuplicator.start(serversFor(1), coordinator.inboxSubject, new SeededRandom(seed ^ 0x5eed));
    cleanups.unshift(() => duplicator.close());

    const targets: FaultTargets = {
      cluster,
      gcs,
      duplicator,
      takeWorker: async (pick) => {
        await eventually("a worker no other fault holds", () => [...live.keys()].some((id) => !held.has(id)), 60_000);
        const free = [...live.keys()].filter((id) => !held.has(id)).sort();
        const id = free[pick % free.length]!;
        held.add(id);
        return live.get(id)!.worker;
      },
      releaseWorker: (worker) => void held.delete(worker.nodeId),
      replaceWorker: async (killed) => {
        live.delete(killed.nodeId);
        held.delete(killed.nodeId);
        const worker = await launch();
        held.add(worker.nodeId);
        return worker;
      },
      seenLive: (node) => eventually(`the coordinator to see ${node} live again`, () => coordinator.nodes().some((n) => n.node === node), 20_000),
      eventsSince: (sinceMs) => events.filter((e) => e.atMs >= sinceMs).map((e) => e.text),
      now,
    };

    const faults: FaultRecord[] = [];
    const jobs: JobOutcome[] = [];
    const jobMs = (options.tasksPerJob / options.tasksPerSecond) * 1_000;
    for (let j = 1; j <= options.jobs; j++) {
      const id = `chaos-${seed}-${j}`;
      const key = `${id}/sum`;
      const store = new GcsStore(gcs.bucket, "jobs", { apiEndpoint: gcs.endpoint });
      const reducer: ActorRef<any> = coordinator.spawn(sumReducer, { name: `sum-${j}`, props: { store, key } });
      // Faults between 5 % and 70 % of the job's paced length, so each one ends while tasks are still coming.
      const plan = planFaults(random, options.faultsPerJob, Math.round(jobMs * 0.05), Math.round(jobMs * 0.7));
      const jobStart = now();
      const injections = plan.map(async (fault) => {
        await new Promise((resolve) => setTimeout(resolve, fault.atMs));
        const startedAtMs = now();
        const detail = await inject(fault, targets);
        const record: FaultRecord = { ...fault, job: j, startedAtMs, endedAtMs: now(), detail };
        faults.push(record);
        log(`chaos: job ${j} +${((startedAtMs - jobStart) / 1000).toFixed(1)} s ${fault.kind}: ${detail}`);
      });
      const result = await runJob(coordinator, {
        id,
        tasks: () => pacedSumTasks(options.tasksPerJob, options.tasksPerSecond),
        total: options.tasksPerJob,
        taskType: SumTask,
        worker: sumWorker,
        reducer,
        workers: options.workers,
        taskTimeoutMs: options.taskTimeoutMs,
        // Loss and timeouts count as attempts: a task can meet several faults in one run.
        maxAttempts: 10,
      });
      const finishedAt = now();
      await Promise.all(injections);
      const outcome = await readBack(gcs, key, id, options.tasksPerJob, result, jobStart, finishedAt);
      jobs.push(outcome);
      await store.close();
      for (const task of result.setAside) log(`chaos: job ${j} set aside ${task.taskId} after ${task.attempts} attempts: ${task.errors.join(" | ")}`);
      log(
        `chaos: job ${j} ${id}: ${result.done} done, ${result.retried} retried, ${result.failed} set aside, ${(outcome.durationMs / 1000).toFixed(1)} s; ` +
          `state read back from GCS ${JSON.stringify(outcome.state)}, expected ${JSON.stringify(outcome.expected)}; lost ${outcome.lost}, counted twice ${outcome.countedTwice}`,
      );
    }

    const lost = jobs.reduce((n, o) => n + o.lost, 0);
    const countedTwice = jobs.reduce((n, o) => n + o.countedTwice, 0);
    const byKind = new Map<string, number>();
    for (const f of faults) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
    const completed = jobs.filter((o) => o.lost === 0 && o.countedTwice === 0 && o.result.failed === 0).length;
    const summary = [
      `chaos: faults injected ${faults.length} (${[...byKind].map(([k, n]) => `${k} ${n}`).join(", ")}); duplicate results sent ${duplicator.sent}`,
      `chaos: jobs completed ${completed} of ${jobs.length}; results lost ${lost}; results counted twice ${countedTwice}; ${(now() / 1000).toFixed(1)} s; seed ${seed}`,
    ];
    for (const line of summary) log(line);
    return { seed, faults, jobs, duplicatesSent: duplicator.sent, lost, countedTwice, durationMs: now(), summary: summary.join("\n") };
  } catch (error) {
    log(`chaos: run failed (seed ${seed}, replay with TROUPE_CHAOS_SEED=${seed}); last worker lines:\n${workerLog.slice(-30).join("\n")}`);
    throw error;
  } finally {
    for (const cleanup of cleanups) await cleanup().catch((error: unknown) => log(`chaos: cleanup: ${String(error)}`));
  }
}

/** Tasks 1..count, released `perSecond` a second in 50 ms steps (the job's pace, not a wait for anything). */
async function* pacedSumTasks(count: number, perSecond: number): AsyncGenerator<JobTask<SumTask>> {
  const start = Date.now();
  for (let n = 1; n <= count; n++) {
    const due = start + ((n - 1) * 1_000) / perSecond;
    if (due > Date.now() + 50) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    yield { id: `t${n}`, payload: SumTask.create({ n }) };
  }
}

/** Reads the job's checkpoint straight from GCS with a new client and counts what is missing or doubled. */
async function readBack(gcs: PersistentFakeGcs, key: string, jobId: string, tasks: number, result: JobResult, startedAtMs: number, endedAtMs: number): Promise<JobOutcome> {
  const store = new GcsStore(gcs.bucket, "jobs", { apiEndpoint: gcs.endpoint });
  try {
    const stored = await store.read(key);
    if (stored === undefined) throw new Error(`no state object ${key} in GCS`);
    const checkpoint = troupe.work.Checkpoint.decode(stored.bytes);
    const state = SumState.decode(checkpoint.state);
    const applied = new Set(checkpoint.applied[jobId]?.ids ?? []);
    let lost = 0;
    for (let n = 1; n <= tasks; n++) if (!applied.has(`t${n}`)) lost++;
    const countedTwice = state.count - applied.size;
    return { id: jobId, result, state: { total: state.total, count: state.count }, expected: expectedSum(tasks), lost, countedTwice, startedAtMs, endedAtMs, durationMs: endedAtMs - startedAtMs };
  } finally {
    await store.close();
  }
}
