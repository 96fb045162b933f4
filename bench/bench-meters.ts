import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { MeterProvider } from "@opentelemetry/api";

/** How often the bench's nodes collect their metrics: far more often than a deployment's 15-60 s, so collection's own cost shows. */
const COLLECT_EVERY_MS = 1_000;

/**
 * Metrics as a deployment has them, for bench/build-node.ts: a meter provider whose reader collects
 * every second (Troupe's histograms included) and hands the data to an exporter that drops it, so the
 * figure is the runtime's and the SDK's cost, not a collector's.
 */
export async function startBenchMeters(root: string): Promise<MeterProvider> {
  const { MeterProvider: SdkMeterProvider, PeriodicExportingMetricReader } = await import("@opentelemetry/sdk-metrics");
  const { troupeMetricProducer } = (await import(pathToFileURL(join(root, "runtime/metrics/index.ts")).href)) as typeof import("../runtime/metrics/index.js");
  const exporter = { export: (_metrics: unknown, done: (result: { code: number }) => void) => done({ code: 0 }), forceFlush: async () => {}, shutdown: async () => {} };
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: COLLECT_EVERY_MS, metricProducers: [troupeMetricProducer()] });
  return new SdkMeterProvider({ readers: [reader] });
}
