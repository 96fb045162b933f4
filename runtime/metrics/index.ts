// `troupe/metrics`: OpenTelemetry metrics of a node (docs/metrics.md). The SDK setup is the one
// tracing uses (`startTelemetry` is `startTracing`): OTEL_METRICS_EXPORTER or a Prometheus port choose
// the readers; start systems with `metrics: true`. With your own SDK, add `troupeMetricProducer()` to
// your metric reader for the duration histograms.
export { startTracing as startTelemetry, type StartTracingOptions as StartTelemetryOptions, type TracingHandle as TelemetryHandle } from "../tracing/start-tracing.js";
export { troupeMetricProducer } from "./stats-metric-producer.js";
export { metricExportFromEnv, DEFAULT_PROMETHEUS_PORT, type MetricExportEnv } from "./metric-export-env.js";
export { METER_NAME } from "./metric-names.js";
export { DURATION_BOUNDARIES_S } from "../stats/bucket-histogram.js";
export type { MetricsOption } from "./metrics-option.js";
