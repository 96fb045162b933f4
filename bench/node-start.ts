import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { rotate, type Benchmark, type BenchContext, type Figure } from "./benchmark.js";
import { startBenchNats } from "./nats-server.js";
import { cpuMsOf, readyEvent, rssMbOf, spawnUntilReady } from "./process-probe.js";
import { median } from "./stats.js";

export const BIN = join(PROJECT_ROOT, "bin", "troupe.mjs");
export const BARE = join(PROJECT_ROOT, "bench", "bare-nats-client.mjs");
/** How long a started process idles before its RSS is read: a few heartbeats, the first GCs. */
const IDLE_MS = 2_000;

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
 * in the same run against the same nats-server. `troupe run --nodes 16` is bench/run-start.ts.
 */
export const nodeStart: Benchmark = {
  name: "node-start",
  async run(ctx) {
    if (!existsSync(join(PROJECT_ROOT, "dist", "runtime", "cli", "main.js"))) throw new Error("dist/ is missing: run `npm run build` (setup does) first");
    if (!existsSync("/proc/self/stat")) throw new Error("node-start reads /proc for CPU and RSS: Linux only");
    const work = mkdtempSync(join(tmpdir(), "troupe-node-start-"));
    try {
      return await singleNode(ctx, work);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};

/** The compiled CLI whatever the caller's environment says, and no NATS or telemetry settings inherited. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
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
