import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedNats } from "../runtime/index.js";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { rotate, type Benchmark, type BenchContext, type Figure } from "./benchmark.js";
import { startBenchNats } from "./nats-server.js";
import { cpuMsOf, readyEvent, rssMbOf, spawnUntilReady, type Probed } from "./process-probe.js";
import { median } from "./stats.js";

const BIN = join(PROJECT_ROOT, "bin", "troupe.mjs");
const BARE = join(PROJECT_ROOT, "bench", "bare-nats-client.mjs");
/** How long a started process idles before its RSS is read: a few heartbeats, the first GCs. */
const IDLE_MS = 2_000;
/** Worker nodes of the `troupe run` figure (issue 17: ready in under 5 s on this machine). */
const RUN_NODES = 16;

interface Start {
  readonly readyMs: number;
  readonly cpuMs: number;
  readonly rssMb: number;
}

/**
 * A node process as the package runs it: the compiled CLI (`bin/troupe.mjs` over dist/, as installed,
 * never the sources through tsx), `troupe node --module word-count` as `troupe run` starts its workers.
 * Figures: spawn to its `{"event":"ready"}` line, the CPU it used by then, and its RSS after idling
 * 2 s. Baseline: bench/bare-nats-client.mjs (connect, subscribe, flush, print ready) spawned alternately
 * in the same run against the same nats-server. Then `troupe run --nodes 16 word-count` (its private
 * nats-server, as a user types it) from spawn to "workers ready", when the job starts, beside a
 * nats-server started the same way plus 16 bare clients spawned at once, all ready.
 */
export const nodeStart: Benchmark = {
  name: "node-start",
  async run(ctx) {
    if (!existsSync(join(PROJECT_ROOT, "dist", "runtime", "cli", "main.js"))) throw new Error("dist/ is missing: run `npm run build` (setup does) first");
    if (!existsSync("/proc/self/stat")) throw new Error("node-start reads /proc for CPU and RSS: Linux only");
    const work = mkdtempSync(join(tmpdir(), "troupe-node-start-"));
    try {
      return [...(await singleNode(ctx, work)), ...(await runOf16(ctx, work))];
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};

/** The compiled CLI whatever the caller's environment says, and no NATS or telemetry settings inherited. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([key]) => key !== "NATS_URL" && !key.startsWith("OTEL_"));
  return { ...Object.fromEntries(inherited), TROUPE_CLI_FROM_SOURCE: "0", ...extra };
}

async function singleNode(ctx: BenchContext, cwd: string): Promise<Figure[]> {
  const nats = await startBenchNats();
  try {
    const env = cleanEnv({ NATS_URL: nats.url });
    const measure = (args: readonly string[]) => async (): Promise<Start> => {
      const probed = await spawnUntilReady(args, { cwd, env, ready: readyEvent });
      try {
        const cpuMs = cpuMsOf(probed.child.pid!);
        await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
        return { readyMs: probed.readyMs, cpuMs, rssMb: rssMbOf(probed.child.pid!) };
      } finally {
        await probed.stop();
      }
    };
    const sides = await rotate(
      ctx,
      "node-start",
      { baseline: measure([BARE]), troupe: measure([BIN, "node", "--system", "bench-start", "--module", "word-count"]) },
      { rounds: ctx.quick ? 5 : 2 * ctx.reps, reverseEveryOther: true, show: (s) => `${s.readyMs.toFixed(0)} ms (cpu ${s.cpuMs} ms), ${s.rssMb.toFixed(1)} MB` },
    );
    const figure = (name: string, unit: string, pick: (s: Start) => number, target: Figure["target"], what: string): Figure => ({
      name,
      value: median(sides.troupe.map(pick)),
      unit,
      baseline: `bare nats.js client process: ${what}`,
      baselineValue: median(sides.baseline.map(pick)),
      target,
    });
    return [
      figure("node-start", "ms", (s) => s.readyMs, { op: "<=", value: 1000 }, "spawn to subscribed"),
      figure("node-start-cpu", "ms", (s) => s.cpuMs, { op: "record" }, "CPU used by then"),
      figure("node-idle-rss", "MB", (s) => s.rssMb, { op: "<=", value: 60 }, `RSS ${IDLE_MS / 1000} s after ready`),
    ];
  } finally {
    await nats.stop();
  }
}

interface RunStart {
  readonly readyMs: number;
  /** CPU of the processes started (not the nats-server) until ready. */
  readonly cpuMs: number;
}

async function runOf16(ctx: BenchContext, cwd: string): Promise<Figure[]> {
  const env = cleanEnv();
  const troupe = async (): Promise<RunStart> => {
    const run = await spawnUntilReady([BIN, "run", "word-count", "--nodes", String(RUN_NODES)], { cwd, env, ready: (line) => line.startsWith("workers ready:") });
    try {
      const pids = [run.child.pid!, ...[...(/\(pids ([\d, ]+)\)/.exec(run.line)?.[1] ?? "").matchAll(/\d+/g)].map((m) => Number(m[0]))];
      if (pids.length !== RUN_NODES + 1) throw new Error(`expected ${RUN_NODES} worker pids in ${JSON.stringify(run.line)}`);
      return { readyMs: run.readyMs, cpuMs: pids.reduce((sum, pid) => sum + cpuMsOf(pid), 0) };
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
      return { readyMs, cpuMs: clients.reduce((sum, c) => sum + cpuMsOf(c.child.pid!), 0) };
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
      await nats.stop();
    }
  };
  const sides = await rotate(ctx, `run-${RUN_NODES}-ready`, { baseline, troupe }, { rounds: ctx.quick ? 2 : Math.min(ctx.reps, 5), show: (s) => `${s.readyMs.toFixed(0)} ms (cpu ${s.cpuMs} ms)` });
  const what = `a nats-server and ${RUN_NODES} bare nats.js client processes started at once`;
  return [
    { name: `run-${RUN_NODES}-ready`, value: median(sides.troupe.map((s) => s.readyMs)), unit: "ms", baseline: `${what}, all subscribed`, baselineValue: median(sides.baseline.map((s) => s.readyMs)), target: { op: "<=", value: 5000 } },
    { name: `run-${RUN_NODES}-ready-cpu`, value: median(sides.troupe.map((s) => s.cpuMs)), unit: "ms", baseline: `${what}: their CPU`, baselineValue: median(sides.baseline.map((s) => s.cpuMs)), target: { op: "record" } },
  ];
}
