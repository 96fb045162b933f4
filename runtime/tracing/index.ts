// `troupe/tracing`: sets up the OpenTelemetry SDK for a process and reads recorded traces. The SDK
// packages are optional peer dependencies. Systems themselves only need `@opentelemetry/api`: pass
// `tracing: true` to `ActorSystem.start` with any SDK set up, this one or your own.
export { startTracing, startTracing as startTelemetry, DEFAULT_TRACING_SHUTDOWN_MS, type StartTracingOptions, type TracingHandle, type TracingOutcome } from "./start-tracing.js";
export type { ExportTally } from "./accounted-export.js";
export { FileSpanExporter, toSpanRecord, type SpanRecord } from "./file-span-exporter.js";
export { readSpans, loadTrace, traceIds, type LoadedTrace, type SpanNode } from "./trace-file.js";
export { TRACING_SDK_PACKAGES } from "./load-start-tracing.js";
