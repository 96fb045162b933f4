import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { LOCAL_ROUNDS_FACTOR, alternate, type Benchmark } from "./benchmark.js";
import { cpuPerMessage, logPids, medianRate, showRound, startPairs, stopPairs } from "./build-nodes.js";
import { median } from "./stats.js";
import { logRoundRatios } from "./tracing-off.js";

/** Remote rounds take tenths of a second and the target is 5%: 3x as many rounds as remote-tell (as tracing-off). */
const METRICS_ROUNDS_FACTOR = 3;

/**
 * Issue 16's "metrics on costs remote and local tell no more than 5%": this checkout with metrics on
 * (every instrument registered, a reader collecting every second: bench/bench-meters.ts) against the
 * same build with metrics off, each as two node processes running bench/build-node.ts over the suite's
 * nats-server, rounds alternating. Remote tell as in bench/remote-tell.ts; local tell as in
 * bench/local-tell.ts, on an in-memory node in the receiver's process.
 */
export const metricsOn: Benchmark = {
  name: "metrics-on",
  async run(ctx) {
    const { nats } = await ctx.remote();
    const execArgv = ctx.childExecArgv ?? [];
    // System names of one length: both sides' subjects carry the same bytes.
    const pairs = await startPairs({
      "metrics off": { root: PROJECT_ROOT, natsUrl: nats.url, system: "bench-metoff", tracing: "off", execArgv },
      "metrics on": { root: PROJECT_ROOT, natsUrl: nats.url, system: "bench-meton_", tracing: "off", metrics: true, execArgv },
    });
    const { "metrics off": off, "metrics on": on } = pairs;
    if (execArgv.length > 0) logPids(ctx, pairs);
    try {
      const n = ctx.quick ? 200_000 : 500_000;
      const sizeOf = (warmup: boolean): number => (warmup ? n / 2 : n);
      const remote = await alternate(ctx, "metrics-on remote", (warmup) => off.remote(sizeOf(warmup)), (warmup) => on.remote(sizeOf(warmup)), {
        rounds: METRICS_ROUNDS_FACTOR * ctx.reps,
        show: showRound,
        reverseEveryOther: true,
      });
      const localN = ctx.quick ? 1_000_000 : 2_000_000;
      const local = await alternate(ctx, "metrics-on local tell", () => off.receiver.local("tell", localN), () => on.receiver.local("tell", localN), {
        rounds: LOCAL_ROUNDS_FACTOR * ctx.reps,
        reverseEveryOther: true,
      });
      // The same rounds timed by CPU: on a busy machine wall time also counts the time the process waited for a core.
      const localCpu = await alternate(ctx, "metrics-on local tell per CPU second", () => off.receiver.local("tell-cpu", localN), () => on.receiver.local("tell-cpu", localN), {
        rounds: LOCAL_ROUNDS_FACTOR * ctx.reps,
        reverseEveryOther: true,
      });
      logRoundRatios(ctx, "metrics-on remote", remote.troupe.map((r, i) => r.rate / remote.baseline[i]!.rate));
      logRoundRatios(ctx, "metrics-on local tell", local.troupe.map((r, i) => r / local.baseline[i]!));
      logRoundRatios(ctx, "metrics-on local tell per CPU second", localCpu.troupe.map((r, i) => r / localCpu.baseline[i]!));
      const baseline = "metrics off (same build)";
      return [
        { name: "metrics-on-remote-tell", value: medianRate(remote.troupe), unit: "msg/s", baseline, baselineValue: medianRate(remote.baseline), target: { op: ">=", ratio: 0.95 } },
        { name: "metrics-on-remote-cpu", value: cpuPerMessage(ctx, "metrics on", remote.troupe), unit: "µs/msg", baseline: `${baseline}; CPU of both processes`, baselineValue: cpuPerMessage(ctx, "metrics off", remote.baseline), target: { op: "record" } },
        { name: "metrics-on-local-tell", value: median(local.troupe), unit: "msg/s", baseline, baselineValue: median(local.baseline), target: { op: ">=", ratio: 0.95 } },
        { name: "metrics-on-local-tell-cpu", value: median(localCpu.troupe), unit: "msg/CPU-s", baseline, baselineValue: median(localCpu.baseline), target: { op: ">=", ratio: 0.95 } },
      ];
    } finally {
      await stopPairs(pairs);
    }
  },
};
