import type { Attributes } from "@opentelemetry/api";
import type { BucketHistogram } from "../stats/bucket-histogram.js";

/** One histogram of one node, as the metric producer reports it. */
export interface HistogramPoint {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly attributes: Attributes;
  readonly histogram: BucketHistogram;
}

/** A node's histograms, read at collection time. */
export interface HistogramSource {
  /** When its counting began (ms since the epoch): the start of its cumulative points. */
  readonly startedAtMs: number;
  points(): Iterable<HistogramPoint>;
}

/**
 * The nodes of this process with metrics on, for `troupeMetricProducer`. The OpenTelemetry API has no
 * asynchronous histogram, and recording into a synchronous one costs microseconds per call (measured:
 * ~3 µs here): the hot paths count into plain buckets and this set lets a reader's producer find them,
 * as the API's own global meter provider lets instruments find their SDK.
 */
/**
 * Kept on `globalThis` under a registered symbol, as the API keeps its globals: two copies of this
 * module in one process (a CommonJS and an ESM load of it, or two copies of Troupe) share one set.
 */
const KEY = Symbol.for("troupe.metrics.histogram-sources");
const sources: Set<HistogramSource> = ((globalThis as Record<symbol, unknown>)[KEY] as Set<HistogramSource> | undefined) ?? ((globalThis as Record<symbol, unknown>)[KEY] = new Set<HistogramSource>());

/** Adds a node's histograms; returns the function that removes them. */
export function addHistogramSource(source: HistogramSource): () => void {
  sources.add(source);
  return () => sources.delete(source);
}

export function histogramSources(): Iterable<HistogramSource> {
  return sources;
}
