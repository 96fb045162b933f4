import { alternate, within, type Benchmark } from "./benchmark.js";
import type { Ack } from "./messages.js";
import { askers } from "./remote-ask.js";
import { median, nowMs, percentile } from "./stats.js";

interface Latency {
  readonly p50: number;
  readonly p99: number;
}

/** `n` asks one after another; the latency of each, in microseconds. */
async function askSequentially(ask: (seq: number) => Promise<Ack>, n: number): Promise<Latency> {
  const latencies = new Float64Array(n);
  for (let seq = 1; seq <= n; seq++) {
    const started = nowMs();
    const ack = await ask(seq);
    latencies[seq - 1] = (nowMs() - started) * 1000;
    if (ack.seq !== seq) throw new Error(`asked seq ${seq}, got Ack ${ack.seq}`);
  }
  const sorted = Array.from(latencies.sort());
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

/** Sequential asks from this process to the peer's echo actor: p50 and p99 round trip. Baseline: nats.js request/reply. */
export const remoteLatency: Benchmark = {
  name: "remote-latency",
  async run(ctx) {
    const ask = askers(await ctx.remote());
    const n = ctx.quick ? 2_000 : 10_000;
    const run = (side: (seq: number) => Promise<Ack>, what: string) => (warmup: boolean) =>
      within(askSequentially(side, warmup ? n / 4 : n), 120_000, () => `${what} in sequence`);
    const show = (l: Latency): string => `p50 ${l.p50.toFixed(0)} µs p99 ${l.p99.toFixed(0)} µs`;
    const runs = await alternate(ctx, "remote-latency", run(ask.raw, "nats.js requests"), run(ask.troupe, "troupe asks"), { show });
    const figure = (q: "p50" | "p99") => ({
      name: `remote-latency-${q}`,
      value: median(runs.troupe.map((l) => l[q])),
      unit: "µs",
      baseline: `nats.js request/reply ${q}`,
      baselineValue: median(runs.baseline.map((l) => l[q])),
      target: { op: "<=", ratio: 1.1 } as const,
    });
    return [figure("p50"), figure("p99")];
  },
};
