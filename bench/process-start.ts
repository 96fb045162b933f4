import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { rotate, type Benchmark, type BenchContext, type Figure } from "./benchmark.js";
import { spawnUntilReady, type ProbeOptions, type Probed } from "./process-probe.js";
import { median } from "./stats.js";

/** The CLI as the package installs it: bin/troupe.mjs over dist/, never the sources through tsx. */
export const BIN = join(PROJECT_ROOT, "bin", "troupe.mjs");
/** The baseline process: connect, subscribe, flush, print `{"event":"ready"}`. */
export const BARE = join(PROJECT_ROOT, "bench", "bare-nats-client.mjs");

/** The compiled CLI whatever the caller's environment says, and no NATS or telemetry settings inherited. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([key]) => key !== "NATS_URL" && !key.startsWith("OTEL_"));
  return { ...Object.fromEntries(inherited), TROUPE_CLI_FROM_SOURCE: "0", ...extra };
}

/** Spawns `node args...` until ready, measures it, and stops it (SIGTERM, SIGKILL after `graceMs`) whatever happens. */
export async function probeOnce<T>(args: readonly string[], options: ProbeOptions & { readonly graceMs?: number }, measure: (probed: Probed) => T | Promise<T>): Promise<T> {
  const probed = await spawnUntilReady(args, options);
  try {
    return await measure(probed);
  } finally {
    await probed.stop(options.graceMs);
  }
}

/** One round's measurement of each side, and what to stop after the last round. */
export interface StartSides<S> {
  baseline(): Promise<S>;
  troupe(): Promise<S>;
  close?(): Promise<void>;
}

/** A figure: the median of `pick` over the Troupe side's rounds, beside the baseline side's. */
export interface StartFigure<S> {
  readonly name: string;
  readonly unit: string;
  readonly pick: (s: S) => number;
  /** What the baseline is, in a few words. */
  readonly baseline: string;
  readonly target: Figure["target"];
}

/** What one process-start benchmark states; everything else is `startBenchmark`'s. */
export interface StartBenchmarkSpec<S> {
  readonly name: string;
  /** What it reads from /proc, for the error elsewhere than on Linux. */
  readonly reads: string;
  rounds(ctx: BenchContext): number;
  /** The two sides, run in `cwd` (a fresh directory, removed afterwards). */
  sides(ctx: BenchContext, cwd: string): Promise<StartSides<S>>;
  /** How a progress line shows one measurement. */
  readonly show: (s: S) => string;
  /** The first one's name labels the progress lines. */
  readonly figures: readonly [StartFigure<S>, ...StartFigure<S>[]];
}

/**
 * A benchmark of starting processes of the compiled CLI: a warm-up of each side, then rounds taking
 * baseline and Troupe in turn, reversed every other round, in a scratch directory. The load average
 * is logged before and after, since on a shared machine it decides most of the wall time.
 */
export function startBenchmark<S>(spec: StartBenchmarkSpec<S>): Benchmark {
  return {
    name: spec.name,
    async run(ctx) {
      if (!existsSync(join(PROJECT_ROOT, "dist", "runtime", "cli", "main.js"))) throw new Error("dist/ is missing: run `npm run build` (setup does) first");
      if (!existsSync("/proc/self/stat")) throw new Error(`${spec.name} reads /proc for ${spec.reads}: Linux only`);
      const cwd = mkdtempSync(join(tmpdir(), `troupe-${spec.name}-`));
      const logLoad = (when: string): void => ctx.log(`  ${spec.name}: load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} ${when}`);
      logLoad("before");
      try {
        const sides = await spec.sides(ctx, cwd);
        try {
          const measured = await rotate(ctx, spec.figures[0].name, { baseline: () => sides.baseline(), troupe: () => sides.troupe() }, { rounds: spec.rounds(ctx), reverseEveryOther: true, show: spec.show });
          return spec.figures.map(
            (f): Figure => ({ name: f.name, value: median(measured.troupe.map(f.pick)), unit: f.unit, baseline: f.baseline, baselineValue: median(measured.baseline.map(f.pick)), target: f.target }),
          );
        } finally {
          await sides.close?.();
        }
      } finally {
        logLoad("after");
        rmSync(cwd, { recursive: true, force: true });
      }
    },
  };
}
