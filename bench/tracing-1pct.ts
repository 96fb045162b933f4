import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { LOCAL_ROUNDS_FACTOR, alternate, type Benchmark } from "./benchmark.js";
import type { TracingMode } from "./build-node-protocol.js";
import { cpuPerMessage, logCpuRatios, logPids, medianRate, showRound, startPairs, stopPairs } from "./build-nodes.js";
import { median } from "./stats.js";
import { logRoundRatios } from "./tracing-off.js";

/** The sampled fraction of the traces, through OTEL_TRACES_SAMPLER=parentbased_traceidratio. */
const RATIO = 0.01;

/** Remote rounds take tenths of a second and the target is 10%: 3x as many rounds as remote-tell. */
const ROUNDS_FACTOR = 3;

/**
 * Issue 16's "tracing at 1% head sampling costs remote tell no more than 10% against tracing off":
 * remote tell as in bench/remote-tell.ts between two node processes of this checkout that both trace
 * with 1% of the traces sampled (the SDK as `startTracing` sets it up, a BatchSpanProcessor into an
 * exporter that drops the spans: bench/build-node.ts), against a pair with tracing off, rounds taking
 * the sides in turn. Every tell starts a trace (it is sent from outside any actor). Then local tell
 * and ask (bench/local-tell.ts, bench/local-ask.ts) in the two receiver processes.
 */
export const tracing1pct: Benchmark = {
  name: "tracing-1pct",
  async run(ctx) {
    const { nats } = await ctx.remote();
    const execArgv = ctx.childExecArgv ?? [];
    // System names of one length: both sides' subjects carry the same bytes.
    const side = (system: string, tracing: TracingMode) => ({ root: PROJECT_ROOT, natsUrl: nats.url, system, tracing, execArgv });
    const pairs = await startPairs({ off: side("bench-off", "off"), "1%": side("bench-pct", { ratio: RATIO, processor: "batch" }) });
    const { off, "1%": sampled } = pairs;
    if (execArgv.length > 0) logPids(ctx, pairs);
    try {
      const n = ctx.quick ? 50_000 : 200_000;
      const sizeOf = (warmup: boolean): number => (warmup ? n / 2 : n);
      const rounds = ROUNDS_FACTOR * ctx.reps;
      const remote = await alternate(ctx, "tracing-1pct remote", (warmup) => off.remote(sizeOf(warmup)), (warmup) => sampled.remote(sizeOf(warmup)), { rounds, show: showRound, reverseEveryOther: true });
      const spans = await sampled.spans();
      const messages = (rounds + 0.5) * n;
      ctx.log(`  1%: spans exported per message: sender ${(spans.sender / messages).toPrecision(3)}, receiver ${(spans.receiver / messages).toPrecision(3)} (expected ${RATIO})`);
      if (spans.sender === 0 || spans.receiver === 0) throw new Error(`1%: a node exported no spans (sender ${spans.sender}, receiver ${spans.receiver}): tracing is not on in both processes`);
      logRoundRatios(ctx, "tracing-1pct remote", remote.troupe.map((r, i) => r.rate / remote.baseline[i]!.rate));
      // Local tell and ask: each tell from outside any actor starts a trace; each ask is a trace of its own.
      const local = (kind: "tell" | "ask", n: number) =>
        alternate(ctx, `tracing-1pct local ${kind}`, () => off.receiver.local(kind, n), () => sampled.receiver.local(kind, n), { rounds: LOCAL_ROUNDS_FACTOR * ctx.reps, reverseEveryOther: true });
      const localTell = await local("tell", ctx.quick ? 200_000 : 1_000_000);
      const localAsk = await local("ask", ctx.quick ? 20_000 : 100_000);
      const baseline = "tracing off (same build)";
      const offCpu = cpuPerMessage(ctx, "off", remote.baseline);
      const sampledCpu = cpuPerMessage(ctx, "1%", remote.troupe);
      logCpuRatios(ctx, "1%", remote.troupe, remote.baseline);
      return [
        { name: "tracing-1pct-remote-tell", value: medianRate(remote.troupe), unit: "msg/s", baseline, baselineValue: medianRate(remote.baseline), target: { op: ">=", ratio: 0.9 } },
        { name: "tracing-1pct-remote-cpu", value: sampledCpu, unit: "µs/msg", baseline: `${baseline}; CPU of both processes`, baselineValue: offCpu, target: { op: "record" } },
        { name: "tracing-1pct-local-tell", value: median(localTell.troupe), unit: "msg/s", baseline, baselineValue: median(localTell.baseline), target: { op: "record" } },
        { name: "tracing-1pct-local-ask", value: median(localAsk.troupe), unit: "round trips/s", baseline, baselineValue: median(localAsk.baseline), target: { op: "record" } },
      ];
    } finally {
      await stopPairs(pairs);
    }
  },
};
