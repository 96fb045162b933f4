import type { Benchmark } from "./benchmark.js";
import { startBenchNats } from "./nats-server.js";
import { cpuMsOf, readyEvent, rssMbOf } from "./process-probe.js";
import { BARE, BIN, cleanEnv, probeOnce, startBenchmark } from "./process-start.js";

/** How long a started process idles before its RSS is read: a few heartbeats, the first GCs. */
const IDLE_MS = 2_000;

interface Start {
  readonly readyMs: number;
  readonly cpuMs: number;
  readonly rssMb: number;
}

/**
 * A node process as the package runs it: the compiled CLI, `troupe node --module word-count` as
 * `troupe run` starts its workers. Figures: spawn to its `{"event":"ready"}` line, the CPU it used by
 * then, and its RSS after idling 2 s. Baseline: bench/bare-nats-client.mjs (connect, subscribe, flush,
 * print ready) spawned alternately in the same run against the same nats-server. `troupe run --nodes 16`
 * is bench/run-start.ts.
 */
export const nodeStart: Benchmark = startBenchmark<Start>({
  name: "node-start",
  reads: "CPU and RSS",
  rounds: (ctx) => (ctx.quick ? 5 : 2 * ctx.reps),
  async sides(_ctx, cwd) {
    const nats = await startBenchNats();
    const env = cleanEnv({ NATS_URL: nats.url });
    const measure = (args: readonly string[]) => () =>
      probeOnce(args, { cwd, env, ready: readyEvent }, async (probed): Promise<Start> => {
        const cpuMs = cpuMsOf(probed.child.pid!);
        await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
        return { readyMs: probed.readyMs, cpuMs, rssMb: rssMbOf(probed.child.pid!) };
      });
    return {
      baseline: measure([BARE]),
      troupe: measure([BIN, "node", "--system", "bench-start", "--module", "word-count"]),
      close: () => nats.stop(),
    };
  },
  show: (s) => `${s.readyMs.toFixed(0)} ms (cpu ${s.cpuMs} ms), ${s.rssMb.toFixed(1)} MB`,
  figures: [
    { name: "node-start", unit: "ms", pick: (s) => s.readyMs, baseline: "bare nats.js client process: spawn to subscribed", target: { op: "<=", value: 1000 } },
    { name: "node-start-cpu", unit: "ms", pick: (s) => s.cpuMs, baseline: "bare nats.js client process: CPU used by then", target: { op: "record" } },
    { name: "node-idle-rss", unit: "MB", pick: (s) => s.rssMb, baseline: `bare nats.js client process: RSS ${IDLE_MS / 1000} s after ready`, target: { op: "<=", value: 60 } },
  ],
});
