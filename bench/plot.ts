import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { alternate, type BenchContext, type Benchmark, type Figure } from "./benchmark.js";
import { askConcurrently, askers } from "./remote-ask.js";
import { tellSides } from "./remote-tell.js";
import { median } from "./stats.js";
import { svgChart, type Panel } from "./svg-chart.js";
import { flowFor } from "./tell-flow.js";

/** Where the suite writes its plot (embedded in docs/benchmarks-history.md, "The plot"). */
export const PLOT_FILE = fileURLToPath(new URL("../docs/images/throughput.svg", import.meta.url));

const PAYLOAD_SIZES = [16, 64, 256, 1024, 4096, 16384, 65536];
const IN_FLIGHT = [1, 4, 16, 64, 256];
const TROUPE_COLOR = "#d62728";
const NATS_COLOR = "#1f77b4";

/** Messages per remote tell round at `bytes` each: fewer as they grow, about 64 MiB (256 MiB full) a round. */
function tellCount(quick: boolean, bytes: number): number {
  const [budget, min, max] = quick ? [64 << 20, 2_000, 50_000] : [256 << 20, 5_000, 200_000];
  return Math.max(min, Math.min(max, Math.floor(budget / bytes)));
}

/** Asks per remote ask round with `inFlight` outstanding: enough for about a second of each. */
function askCount(quick: boolean, inFlight: number): number {
  return quick ? Math.max(2_000, Math.min(20_000, inFlight * 500)) : Math.max(5_000, Math.min(100_000, inFlight * 2_000));
}

/**
 * The suite's plot: remote tell throughput against payload size (16 B .. 64 KiB), and remote ask
 * throughput against asks in flight (1 .. 256), Troupe beside plain nats.js measured in the same run,
 * written to docs/images/throughput.svg. Every point is also a recorded figure (Troupe / nats.js).
 */
export const plot: Benchmark = {
  name: "plot",
  async run(ctx) {
    const env = await ctx.remote();
    const rounds = ctx.quick ? 1 : 3;
    const figures: Figure[] = [];
    const tell: Record<"raw" | "troupe", [number, number][]> = { raw: [], troupe: [] };
    for (const bytes of PAYLOAD_SIZES) {
      const n = tellCount(ctx.quick, bytes);
      const sides = tellSides(ctx, env, (warmup) => (warmup ? Math.ceil(n / 4) : n), { payloadBytes: bytes, flow: flowFor(bytes) });
      const runs = await alternate(ctx, `plot: remote tell ${sizeText(bytes)}`, sides.raw, sides.troupe, { rounds });
      const [raw, troupe] = [median(runs.baseline), median(runs.troupe)];
      tell.raw.push([bytes, raw]);
      tell.troupe.push([bytes, troupe]);
      figures.push(recorded(`plot-remote-tell-${sizeText(bytes).replace(" ", "")}`, troupe, "msg/s", `nats.js publish/subscribe, ${sizeText(bytes)} payload`, raw));
    }
    const ask = askers(env);
    const asks: Record<"raw" | "troupe", [number, number][]> = { raw: [], troupe: [] };
    for (const inFlight of IN_FLIGHT) {
      const n = askCount(ctx.quick, inFlight);
      const side = (fn: typeof ask.raw) => (warmup: boolean) => askConcurrently(fn, warmup ? Math.ceil(n / 4) : n, inFlight);
      const runs = await alternate(ctx, `plot: remote ask, ${inFlight} in flight`, side(ask.raw), side(ask.troupe), { rounds });
      const [raw, troupe] = [median(runs.baseline), median(runs.troupe)];
      asks.raw.push([inFlight, raw]);
      asks.troupe.push([inFlight, troupe]);
      figures.push(recorded(`plot-remote-ask-${inFlight}`, troupe, "asks/s", `nats.js request/reply, ${inFlight} in flight`, raw));
    }
    writePlot(ctx, tell, asks);
    return figures;
  },
};

function writePlot(ctx: BenchContext, tell: Record<"raw" | "troupe", [number, number][]>, asks: Record<"raw" | "troupe", [number, number][]>): void {
  const series = (data: Record<"raw" | "troupe", [number, number][]>) => [
    { label: "Troupe", color: TROUPE_COLOR, points: data.troupe },
    { label: "raw nats.js: publish/subscribe (left), request/reply (right)", color: NATS_COLOR, points: data.raw },
  ];
  const panels: Panel[] = [
    { title: "Remote tell, two processes", xLabel: "payload bytes per message (log)", yLabel: "messages received per second (log)", xTick: sizeText, series: series(tell) },
    { title: "Remote ask, 100-byte payload", xLabel: "asks in flight (log)", yLabel: "asks per second (log)", xTick: String, series: series(asks) },
  ];
  const when = new Date().toISOString().slice(0, 16).replace("T", " ");
  const subtitle = `npm run bench -- ${ctx.quick ? "--quick " : ""}--only plot; ${ctx.quick ? "1 round per point" : "median of 3 rounds per point"}, same nats-server, two processes; ${when} UTC`;
  mkdirSync(dirname(PLOT_FILE), { recursive: true });
  writeFileSync(PLOT_FILE, svgChart("Troupe vs raw nats.js on one nats-server", subtitle, panels));
  ctx.log(`  plot: wrote ${relative(process.cwd(), PLOT_FILE)}`);
}

function recorded(name: string, value: number, unit: string, baseline: string, baselineValue: number): Figure {
  return { name, value, unit, baseline, baselineValue, target: { op: "record" } };
}

/** 16 -> "16 B", 1024 -> "1 KiB", 65536 -> "64 KiB". */
function sizeText(bytes: number): string {
  return bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}
