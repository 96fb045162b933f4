import type { MeterProvider } from "@opentelemetry/api";

/**
 * A system's `metrics` option: `true` uses the global meter provider (set up by `startTelemetry` or the
 * user's own SDK), or pass one. Off (the default), the node keeps no counters.
 */
export type MetricsOption = boolean | { readonly meterProvider: MeterProvider };
