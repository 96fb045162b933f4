import type { RemoteEnv } from "./remote-env.js";

/**
 * What a figure must reach: at least (throughput) or at most (latency, time, bytes), either as a
 * ratio to its baseline or, where the issue states one, as an absolute value in the figure's unit.
 */
export type Target =
  | { readonly op: ">=" | "<="; readonly ratio: number }
  | { readonly op: ">=" | "<="; readonly value: number }
  /** No target stated by any issue: the figure is recorded (and always "passes"). */
  | { readonly op: "record" };

/** One measured figure beside the baseline measured in the same run; the driver derives the ratio. */
export interface Figure {
  readonly name: string;
  /** Median over the repetitions. */
  readonly value: number;
  readonly unit: string;
  /** What the baseline is, in a few words. */
  readonly baseline: string;
  readonly baselineValue: number;
  readonly target: Target;
}

export interface BenchContext {
  readonly quick: boolean;
  /** Measured rounds of each side (after a warm-up round that is not counted). */
  readonly reps: number;
  /** Progress for people; goes to stderr so that stdout stays the results. */
  log(line: string): void;
  /** The nats-server, the peer process and this process's connections, started on first use. */
  remote(): Promise<RemoteEnv>;
  /** Extra node flags for the node processes a benchmark starts itself (`--cpu-prof-dir`). */
  readonly childExecArgv?: readonly string[];
}

/** Local rounds take a fraction of a second: they run this many times more, for a steadier median. */
export const LOCAL_ROUNDS_FACTOR = 3;

export interface Benchmark {
  readonly name: string;
  run(ctx: BenchContext): Promise<Figure[]>;
}

export interface AlternateOptions<T> {
  /** Measured rounds of each side; default `ctx.reps`. Cheap benchmarks run more, for a steadier median. */
  readonly rounds?: number;
  /** How a progress line shows one measurement. */
  readonly show?: (value: T) => string;
  /**
   * Take the sides in reverse order every other round (A B, B A, A B, ...), so that neither side
   * always runs right after the other: for figures whose target is a few percent.
   */
  readonly reverseEveryOther?: boolean;
}

/**
 * Runs a warm-up of each side, then rounds alternating baseline and Troupe, so that drift of the
 * machine during the run affects both alike. Returns each side's measurements in order.
 */
export async function alternate<T>(
  ctx: BenchContext,
  label: string,
  baseline: (warmup: boolean) => Promise<T>,
  troupe: (warmup: boolean) => Promise<T>,
  options: AlternateOptions<T> = {},
): Promise<{ baseline: T[]; troupe: T[] }> {
  return rotate(ctx, label, { baseline, troupe }, options);
}

/**
 * `alternate` for any number of sides: a warm-up of each, then rounds taking the sides in turn
 * (A B C, A B C, ...; or A B C, C B A, ... with `reverseEveryOther`). Returns each side's
 * measurements in round order, under the side's key.
 */
export async function rotate<K extends string, T>(
  ctx: BenchContext,
  label: string,
  sides: Readonly<Record<K, (warmup: boolean) => Promise<T>>>,
  options: AlternateOptions<T> = {},
): Promise<Record<K, T[]>> {
  const rounds = options.rounds ?? ctx.reps;
  const show = options.show ?? ((value: T) => Math.round(Number(value)).toLocaleString("en-US"));
  const keys = Object.keys(sides) as K[];
  for (const key of keys) await sides[key](true);
  const out = Object.fromEntries(keys.map((key) => [key, [] as T[]])) as Record<K, T[]>;
  for (let rep = 1; rep <= rounds; rep++) {
    const order = options.reverseEveryOther && rep % 2 === 0 ? [...keys].reverse() : keys;
    for (const key of order) out[key].push(await sides[key](false));
    ctx.log(`  ${label}: round ${rep}/${rounds}: ${keys.map((key) => `${key} ${show(out[key][rep - 1]!)}`).join(", ")}`);
  }
  return out;
}

/** Rejects with a clear message when `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
