// The plain-loop counterparts of the sum job (test/fixtures/sum-job.ts): its task function and its
// reducer's merge, without actors, messages or a store. The baselines of `reducer-throughput` and
// `job-overhead`; both benchmarks check Troupe's answer and the loop's against the closed form.
import { troupe } from "../proto/gen/examples/sum.js";
import { SumResult, SumState, type SumTask } from "../test/fixtures/sum-job.js";
import { nowMs } from "./stats.js";

type SumResultMessage = troupe.examples.sum.SumResult;

/** `sumWorker`'s function. */
export function square(task: SumTask): SumResultMessage {
  return SumResult.create({ n: task.n, square: task.n * task.n });
}

/** `sumReducer`'s initial state and merge. */
export function initialSum(): SumState {
  return SumState.create({ total: 0, count: 0 });
}

export function mergeSum(state: SumState, result: SumResultMessage): SumState {
  return SumState.create({ total: state.total + result.square, count: state.count + 1 });
}

/** The sum of n*n for n = 1..count, for checking a run's answer. */
export function expectedTotal(count: number): number {
  return (count * (count + 1) * (2 * count + 1)) / 6;
}

/**
 * Whether a summed `total` is the sum of n*n for n = 1..count. Past about 300,000 terms the total
 * exceeds 2^53 and doubles round (the formula's too); the order of additions (one fold, or shards
 * combined) then moves the last digits, so this allows a relative 1e-9. Callers check the count exactly.
 */
export function isSumOfSquares(total: number, count: number): boolean {
  const expected = expectedTotal(count);
  return Math.abs(total - expected) <= expected * 1e-9;
}

/**
 * Items per second of `pass` (which handles some items and returns how many), run again until `minMs`
 * have passed: a plain loop over tens of thousands of items takes a few milliseconds, short enough for
 * one collection or one descheduling to halve a single measurement.
 */
export function loopRate(minMs: number, pass: () => number): number {
  const started = nowMs();
  let items = 0;
  let elapsed = 0;
  do {
    items += pass();
    elapsed = nowMs() - started;
  } while (elapsed < minMs);
  return items / (elapsed / 1000);
}
