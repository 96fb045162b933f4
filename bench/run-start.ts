import { loadavg } from "node:os";
import { startEmbeddedNats } from "../runtime/index.js";
import type { Benchmark } from "./benchmark.js";
import { cpuMsOf, readyEvent, spawnUntilReady, startedMsOf, type Probed } from "./process-probe.js";
import { BARE, BIN, cleanEnv, probeOnce, startBenchmark } from "./process-start.js";

/** Worker nodes of the figure (issue 17: `troupe run --nodes 16 word-count` ready in under 5 s on this machine). */
const RUN_NODES = 16;

interface RunStart {
  readonly readyMs: number;
  /** CPU of the processes started (not the nats-server) until ready. */
  readonly cpuMs: number;
  /** From the parent's start to the last of its 16 children's: how long spawning them took. */
  readonly spawnSpreadMs: number;
}

const BASELINE = `a nats-server and ${RUN_NODES} bare nats.js client processes started at once`;

/**
 * `troupe run --nodes 16 word-count` as a user types it (the compiled CLI, its private nats-server),
 * from spawn to its "workers ready" line, when the job starts. Baseline, alternately in the same run:
 * a nats-server started the same way (startEmbeddedNats) and 16 bare nats.js client processes
 * (bench/bare-nats-client.mjs) spawned at once, until all have subscribed. Each round also shows the
 * CPU of the processes and how long the 16 spawns took.
 */
export const runStart: Benchmark = startBenchmark<RunStart>({
  name: "run-start",
  reads: "CPU and start times",
  rounds: (ctx) => (ctx.quick ? 3 : Math.min(ctx.reps, 5)),
  async sides(_ctx, cwd) {
    const env = cleanEnv();
    // SIGTERM: the run stops its workers and its nats-server, and exits.
    const troupe = (): Promise<RunStart> =>
      probeOnce([BIN, "run", "word-count", "--nodes", String(RUN_NODES)], { cwd, env, ready: (line) => line.startsWith("workers ready"), graceMs: 30_000 }, (run) => {
        const workers = [...(/\(pids ([\d, ]+)\)/.exec(run.line)?.[1] ?? "").matchAll(/\d+/g)].map((m) => Number(m[0]));
        if (workers.length !== RUN_NODES) throw new Error(`expected ${RUN_NODES} worker pids in ${JSON.stringify(run.line)}`);
        const pids = [run.child.pid!, ...workers];
        return { readyMs: run.readyMs, cpuMs: pids.reduce((sum, pid) => sum + cpuMsOf(pid), 0), spawnSpreadMs: spread(run.child.pid!, workers) };
      });
    const baseline = async (): Promise<RunStart> => {
      const started = performance.now();
      const nats = await startEmbeddedNats();
      const clients: Probed[] = [];
      try {
        const spawned = Array.from({ length: RUN_NODES }, () => spawnUntilReady([BARE], { cwd, env: { ...env, NATS_URL: nats.url }, ready: readyEvent }).then((c) => void clients.push(c)));
        await Promise.all(spawned);
        const readyMs = performance.now() - started;
        return { readyMs, cpuMs: clients.reduce((sum, c) => sum + cpuMsOf(c.child.pid!), 0), spawnSpreadMs: spread(process.pid, clients.map((c) => c.child.pid!)) };
      } finally {
        await Promise.all(clients.map((c) => c.stop()));
        await nats.stop();
      }
    };
    return { baseline, troupe };
  },
  show: (s) => `${s.readyMs.toFixed(0)} ms (cpu ${s.cpuMs} ms, spawns over ${s.spawnSpreadMs} ms; load ${loadavg()[0]!.toFixed(1)})`,
  figures: [
    { name: `run-${RUN_NODES}-ready`, unit: "ms", pick: (s) => s.readyMs, baseline: `${BASELINE}, all subscribed`, target: { op: "<=", value: 5000 } },
    { name: `run-${RUN_NODES}-ready-cpu`, unit: "ms", pick: (s) => s.cpuMs, baseline: `${BASELINE}: their CPU`, target: { op: "record" } },
  ],
});

/** The last child's start after the parent's (for the bench's own process: after the first child's). */
function spread(parent: number, children: readonly number[]): number {
  const starts = children.map(startedMsOf);
  const from = parent === process.pid ? Math.min(...starts) : startedMsOf(parent);
  return Math.max(...starts) - from;
}
