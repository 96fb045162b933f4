import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedNats } from "../runtime/index.js";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { rotate, type Benchmark, type BenchContext, type Figure } from "./benchmark.js";
import { BARE, BIN, cleanEnv } from "./node-start.js";
import { cpuMsOf, readyEvent, spawnUntilReady, startedMsOf, type Probed } from "./process-probe.js";
import { median } from "./stats.js";

/** Worker nodes of the figure (issue 17: `troupe run --nodes 16 word-count` ready in under 5 s on this machine). */
const RUN_NODES = 16;

interface RunStart {
  readonly readyMs: number;
  /** CPU of the processes started (not the nats-server) until ready. */
  readonly cpuMs: number;
  /** From the parent's start to the last of its 16 children's: how long spawning them took. */
  readonly spawnSpreadMs: number;
}

/**
 * `troupe run --nodes 16 word-count` as a user types it (the compiled CLI, its private nats-server),
 * from spawn to its "workers ready" line, when the job starts. Baseline, alternately in the same run:
 * a nats-server started the same way (startEmbeddedNats) and 16 bare nats.js client processes
 * (bench/bare-nats-client.mjs) spawned at once, until all have subscribed. Each round also shows the
 * CPU of the processes and how long the 16 spawns took; the load average is logged before and after,
 * since on a shared machine it decides most of the wall time.
 */
export const runStart: Benchmark = {
  name: "run-start",
  async run(ctx) {
    if (!existsSync(join(PROJECT_ROOT, "dist", "runtime", "cli", "main.js"))) throw new Error("dist/ is missing: run `npm run build` (setup does) first");
    if (!existsSync("/proc/self/stat")) throw new Error("run-start reads /proc for CPU and start times: Linux only");
    const work = mkdtempSync(join(tmpdir(), "troupe-run-start-"));
    ctx.log(`  run-start: load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} before`);
    try {
      return await runOf16(ctx, work);
    } finally {
      ctx.log(`  run-start: load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} after`);
      rmSync(work, { recursive: true, force: true });
    }
  },
};

async function runOf16(ctx: BenchContext, cwd: string): Promise<Figure[]> {
  const env = cleanEnv();
  const troupe = async (): Promise<RunStart> => {
    const run = await spawnUntilReady([BIN, "run", "word-count", "--nodes", String(RUN_NODES)], { cwd, env, ready: (line) => line.startsWith("workers ready") });
    try {
      const workers = [...(/\(pids ([\d, ]+)\)/.exec(run.line)?.[1] ?? "").matchAll(/\d+/g)].map((m) => Number(m[0]));
      if (workers.length !== RUN_NODES) throw new Error(`expected ${RUN_NODES} worker pids in ${JSON.stringify(run.line)}`);
      const pids = [run.child.pid!, ...workers];
      return { readyMs: run.readyMs, cpuMs: pids.reduce((sum, pid) => sum + cpuMsOf(pid), 0), spawnSpreadMs: spread(run.child.pid!, workers) };
    } finally {
      // SIGTERM: the run stops its workers and its nats-server, and exits.
      await run.stop(30_000);
    }
  };
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
  const show = (s: RunStart): string => `${s.readyMs.toFixed(0)} ms (cpu ${s.cpuMs} ms, spawns over ${s.spawnSpreadMs} ms; load ${loadavg()[0]!.toFixed(1)})`;
  const sides = await rotate(ctx, `run-${RUN_NODES}-ready`, { baseline, troupe }, { rounds: ctx.quick ? 3 : Math.min(ctx.reps, 5), reverseEveryOther: true, show });
  const what = `a nats-server and ${RUN_NODES} bare nats.js client processes started at once`;
  return [
    { name: `run-${RUN_NODES}-ready`, value: median(sides.troupe.map((s) => s.readyMs)), unit: "ms", baseline: `${what}, all subscribed`, baselineValue: median(sides.baseline.map((s) => s.readyMs)), target: { op: "<=", value: 5000 } },
    { name: `run-${RUN_NODES}-ready-cpu`, value: median(sides.troupe.map((s) => s.cpuMs)), unit: "ms", baseline: `${what}: their CPU`, baselineValue: median(sides.baseline.map((s) => s.cpuMs)), target: { op: "record" } },
  ];
}

/** The last child's start after the parent's (for the bench's own process: after the first child's). */
function spread(parent: number, children: readonly number[]): number {
  const starts = children.map(startedMsOf);
  const from = parent === process.pid ? Math.min(...starts) : startedMsOf(parent);
  return Math.max(...starts) - from;
}
