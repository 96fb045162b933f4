import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { rotate, type Benchmark, type BenchContext, type Figure } from "./benchmark.js";
import type { TracingMode } from "./build-node-protocol.js";
import { cpuPerMessage, logPids, medianRate, showRound, startPairs, stopPairs, type RemoteRound, type TellPair } from "./build-nodes.js";

/**
 * What tracing costs when on (issue 5's benchmark bullet; no target stated): remote tell as in
 * bench/remote-tell.ts between two node processes that both trace, against a pair of the same build
 * with tracing off, rounds taking the sides in turn. Spans go to an exporter that drops them
 * (bench/build-node.ts): the SDK's cost and the runtime's, not a disk's or a collector's. Sides:
 * every span sampled, through a BatchSpanProcessor (what `troupe run --trace` and an OTLP endpoint
 * get); and the same through `startTracing({ exporter })`, which exports span by span (SimpleSpanProcessor).
 * Head sampling at 1% is bench/tracing-1pct.ts.
 */
export const tracingOn: Benchmark = {
  name: "tracing-on",
  async run(ctx) {
    const { nats } = await ctx.remote();
    const execArgv = ctx.childExecArgv ?? [];
    // System names of one length: every side's subjects carry the same bytes.
    const side = (system: string, tracing: TracingMode) => ({ root: PROJECT_ROOT, natsUrl: nats.url, system, tracing, execArgv });
    const pairs = await startPairs({
      off: side("bench-off", "off"),
      always: side("bench-all", { ratio: 1, processor: "batch" }),
      "always, simple": side("bench-sim", { ratio: 1, processor: "simple" }),
    });
    if (execArgv.length > 0) logPids(ctx, pairs);
    try {
      const n = ctx.quick ? 50_000 : 200_000;
      const sent = new Map<TellPair, number>();
      const round = (pair: TellPair) => (warmup: boolean) => {
        const count = warmup ? n / 2 : n;
        sent.set(pair, (sent.get(pair) ?? 0) + count);
        return pair.remote(count);
      };
      const sides = { off: round(pairs.off), always: round(pairs.always), "always, simple": round(pairs["always, simple"]) };
      const runs = await rotate(ctx, "tracing-on remote", sides, { show: showRound, reverseEveryOther: true });
      await checkSpans(ctx, pairs.always, sent.get(pairs.always)!, 1);
      await checkSpans(ctx, pairs["always, simple"], sent.get(pairs["always, simple"])!, 1);
      const baseline = "tracing off (same build)";
      const figure = (name: string, rounds: readonly RemoteRound[]): Figure => ({ name, value: medianRate(rounds), unit: "msg/s", baseline, baselineValue: medianRate(runs.off), target: { op: "record" } });
      // CPU per message of both processes: what tracing adds to each message, sender and receiver.
      const cpu = Object.fromEntries(Object.entries(runs).map(([label, rounds]) => [label, cpuPerMessage(ctx, label, rounds)])) as Record<keyof typeof runs, number>;
      const cpuFigure = (name: string, value: number): Figure => ({ name, value, unit: "µs/msg", baseline: `${baseline}; CPU of both processes`, baselineValue: cpu.off, target: { op: "record" } });
      return [
        figure("tracing-on-remote-tell", runs.always),
        figure("tracing-on-simple-remote-tell", runs["always, simple"]),
        cpuFigure("tracing-on-remote-cpu", cpu.always),
      ];
    } finally {
      await stopPairs(pairs);
    }
  },
};

/**
 * Both processes of a traced pair must really have traced: per message, one PRODUCER span at the
 * sender and one CONSUMER span at the receiver when every span is sampled. Fails the benchmark when a side exported none (its figure would not be tracing's).
 */
async function checkSpans(ctx: BenchContext, pair: TellPair, messages: number, ratio: number): Promise<void> {
  const spans = await pair.spans();
  const per = (count: number): string => (count / messages).toPrecision(3);
  ctx.log(`  ${pair.label}: spans exported per message: sender ${per(spans.sender)}, receiver ${per(spans.receiver)} (expected ${ratio})`);
  if (spans.sender === 0 || spans.receiver === 0) throw new Error(`${pair.label}: a node exported no spans (sender ${spans.sender}, receiver ${spans.receiver}): tracing is not on in both processes`);
}
