import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { LOCAL_ROUNDS_FACTOR, alternate, type BenchContext, type Benchmark } from "./benchmark.js";
import { cpuPerMessage, logPids, medianRate, showRound, startPairs, stopPairs } from "./build-nodes.js";
import { NO_TRACE_COMMIT, ensureNoTraceBuild } from "./no-trace-build.js";
import { median } from "./stats.js";

/** Remote rounds take tenths of a second and the target is 5%: 3x as many rounds as remote-tell. */
const TRACING_ROUNDS_FACTOR = 3;

/**
 * Issue 7's "tracing off vs no tracing code path: within 5%" (and issue 5's benchmark bullet): this
 * checkout with tracing off against the last commit before any tracing code (a git worktree, created
 * when missing), each as two node processes running the same harness (bench/build-node.ts) over the
 * suite's nats-server, rounds alternating. Remote tell as in bench/remote-tell.ts, local tell and ask as
 * in bench/local-tell.ts and bench/local-ask.ts (a tell takes the fast local path only through refs
 * made while untraced; an ask and the run loop read `tracing` once).
 */
export const tracingOff: Benchmark = {
  name: "tracing-off",
  async run(ctx) {
    const bareRoot = ensureNoTraceBuild((line) => ctx.log(line));
    const { nats } = await ctx.remote();
    const execArgv = ctx.childExecArgv ?? [];
    // System names of one length: both builds' subjects carry the same bytes.
    const pairs = await startPairs({
      "no-tracing build": { root: bareRoot, natsUrl: nats.url, system: "bench-notrace", tracing: "off", execArgv },
      "tracing off": { root: PROJECT_ROOT, natsUrl: nats.url, system: "bench-tracoff", tracing: "off", execArgv },
    });
    const { "no-tracing build": bare, "tracing off": off } = pairs;
    if (execArgv.length > 0) logPids(ctx, pairs);
    try {
      const n = ctx.quick ? 200_000 : 500_000;
      const sizeOf = (warmup: boolean): number => (warmup ? n / 2 : n);
      const remote = await alternate(
        ctx,
        "tracing-off remote",
        (warmup) => bare.remote(sizeOf(warmup)),
        (warmup) => off.remote(sizeOf(warmup)),
        { rounds: TRACING_ROUNDS_FACTOR * ctx.reps, show: showRound, reverseEveryOther: true },
      );
      const localN = ctx.quick ? 1_000_000 : 2_000_000;
      const local = await alternate(
        ctx,
        "tracing-off local tell",
        () => bare.receiver.local("tell", localN),
        () => off.receiver.local("tell", localN),
        { rounds: LOCAL_ROUNDS_FACTOR * ctx.reps, reverseEveryOther: true },
      );
      const askN = ctx.quick ? 100_000 : 200_000;
      const ask = await alternate(
        ctx,
        "tracing-off local ask",
        () => bare.receiver.local("ask", askN),
        () => off.receiver.local("ask", askN),
        { rounds: LOCAL_ROUNDS_FACTOR * ctx.reps, reverseEveryOther: true },
      );
      logRoundRatios(ctx, "tracing-off remote", remote.troupe.map((r, i) => r.rate / remote.baseline[i]!.rate));
      logRoundRatios(ctx, "tracing-off local tell", local.troupe.map((r, i) => r / local.baseline[i]!));
      logRoundRatios(ctx, "tracing-off local ask", ask.troupe.map((r, i) => r / ask.baseline[i]!));
      const baseline = `no-tracing build (${NO_TRACE_COMMIT})`;
      // The throughput is the sender's (it is the busier process): CPU per message shows the receiver's cost too.
      const bareCpu = cpuPerMessage(ctx, "no-tracing build", remote.baseline);
      const offCpu = cpuPerMessage(ctx, "tracing off", remote.troupe);
      return [
        { name: "tracing-off-remote-tell", value: medianRate(remote.troupe), unit: "msg/s", baseline, baselineValue: medianRate(remote.baseline), target: { op: ">=", ratio: 0.95 } },
        { name: "tracing-off-remote-cpu", value: offCpu, unit: "µs/msg", baseline: `${baseline}; CPU of both processes`, baselineValue: bareCpu, target: { op: "record" } },
        { name: "tracing-off-local-tell", value: median(local.troupe), unit: "msg/s", baseline, baselineValue: median(local.baseline), target: { op: ">=", ratio: 0.95 } },
        { name: "tracing-off-local-ask", value: median(ask.troupe), unit: "round trips/s", baseline, baselineValue: median(ask.baseline), target: { op: ">=", ratio: 0.95 } },
      ];
    } finally {
      await stopPairs(pairs);
    }
  },
};

/** The ratios of the rounds taken one by one: how far the figure's ratio could move by chance. */
export function logRoundRatios(ctx: BenchContext, label: string, ratios: readonly number[]): void {
  const sorted = [...ratios].sort((a, b) => a - b);
  ctx.log(`  ${label}: ratio of each round: median ${median(sorted).toFixed(3)}, from ${sorted[0]!.toFixed(3)} to ${sorted.at(-1)!.toFixed(3)}, ${ratios.filter((r) => r >= 1).length} of ${ratios.length} at or above 1`);
}
