/**
 * Upper bounds, in seconds, of the buckets of Troupe's duration histograms: the semantic conventions'
 * advice for messaging durations (5 ms to 10 s) with finer buckets below, where actor turns live
 * (a local message takes tens of nanoseconds, a remote ask a few hundred microseconds).
 */
export const DURATION_BOUNDARIES_S: readonly number[] = [
  0.000_001, 0.000_01, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/**
 * A cumulative histogram as plain numbers: what the hot paths record into (no OpenTelemetry call), and
 * what the metrics module reads when a reader collects (runtime/metrics/stats-metric-producer.ts).
 */
export class BucketHistogram {
  /** `counts[i]` observations were <= boundaries[i] (and above the one before); the last bucket is the overflow. */
  readonly counts: number[];
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  constructor(readonly boundaries: readonly number[] = DURATION_BOUNDARIES_S) {
    this.counts = new Array<number>(boundaries.length + 1).fill(0);
  }

  /** Records `weight` observations of `value` each (a turn of `weight` messages at its mean duration). */
  add(value: number, weight = 1): void {
    const boundaries = this.boundaries;
    let i = 0;
    while (i < boundaries.length && value > boundaries[i]!) i++;
    this.counts[i]! += weight;
    this.count += weight;
    this.sum += value * weight;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }
}
