import { context, metrics as metricsApi, propagation, trace } from "@opentelemetry/api";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { MetricReader } from "@opentelemetry/sdk-metrics";
import { metricExportFromEnv } from "../metrics/metric-export-env.js";
import { createMetricReaders } from "../metrics/metric-readers.js";
import { AccountedExport, type ExportTally } from "./accounted-export.js";
import { FileSpanExporter } from "./file-span-exporter.js";
import { createOtlpExporter } from "./otlp-exporter.js";
import { batchOptionsFromEnv, traceExportFromEnv, DEFAULT_TRACING_SHUTDOWN_MS } from "./trace-export-env.js";
import { troupeResource } from "./troupe-resource.js";
import { ratioSamplerFromEnv, rootSamplingIdGenerator, setRootSampling } from "./root-sampling.js";
import { setFastContextManager } from "./context-manager-slot.js";
import { TroupeContextManager } from "./troupe-context-manager.js";

export interface StartTracingOptions {
  /** `service.name` unless `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) is set. Default "troupe". */
  readonly serviceName?: string;
  /** Resource attributes `troupe.node.id` and `troupe.system`, so every span says where it ran; with them, `service.instance.id`. */
  readonly nodeId?: string;
  readonly system?: string;
  /** Appends one JSON line per span to this file (`troupe run --trace FILE`). */
  readonly file?: string;
  /** Any exporter (e.g. InMemorySpanExporter in tests); exported span by span, without batching. */
  readonly exporter?: SpanExporter;
  /** Receives each problem as one line (an export that fails, spans lost). Default: stderr, prefixed `tracing: `. */
  readonly report?: (line: string) => void;
  /** Serves Prometheus metrics on this port (`troupe node --metrics-port`), besides what OTEL_METRICS_EXPORTER asks for. */
  readonly metricsPort?: number;
  /** More metric readers (e.g. an in-memory one in tests); each should carry `troupeMetricProducer()` for the histograms. */
  readonly metricReaders?: readonly MetricReader[];
}

/** How a shutdown went: per destination, what became of the spans; and whether the deadline cut it short. */
export interface TracingOutcome {
  readonly exports: readonly ExportTally[];
  readonly timedOut: boolean;
}

export interface TracingHandle {
  /** Whether any metric reader is set up: then start systems with `metrics: true` (docs/metrics.md). */
  readonly metrics: boolean;
  /** Resolves once the Prometheus endpoint listens (at once without one); rejects when its port cannot be had. */
  readonly metricsReady: Promise<void>;
  forceFlush(): Promise<void>;
  /**
   * Flushes and stops the SDK, waiting at most `timeoutMs` (default DEFAULT_TRACING_SHUTDOWN_MS) for a
   * collector; never rejects. Reports lost spans (one line per destination that lost any).
   */
  shutdown(options?: { readonly timeoutMs?: number }): Promise<TracingOutcome>;
}

/** Long enough for a reachable collector to take the last batches; short enough that one that is down does not hold a process up. */
export { DEFAULT_TRACING_SHUTDOWN_MS };

/**
 * Sets up OpenTelemetry for this process with `@opentelemetry/sdk-node`: the global tracer provider,
 * the W3C propagator and an AsyncLocalStorage context manager (so spans started in a handler, even
 * after an await, nest under its message). The standard variables configure export: OTEL_TRACES_EXPORTER
 * (otlp, console, none), OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT and _PROTOCOL (http/protobuf or grpc), the
 * sampler (OTEL_TRACES_SAMPLER + _ARG), the resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) and
 * batching (OTEL_BSP_*); see docs/tracing.md. Throws on a value it cannot honour. Call before
 * `ActorSystem.start({ tracing: true })`. Users who set up their own SDK skip this and pass
 * `tracing: true` (or `{ tracerProvider }`).
 */
export function startTracing(options: StartTracingOptions = {}): TracingHandle {
  const report = options.report ?? ((line: string) => console.error(`tracing: ${line}`));
  const wanted = traceExportFromEnv();
  const batch = batchOptionsFromEnv();
  const accounted: AccountedExport[] = [];
  if (options.file) accounted.push(new AccountedExport(`file ${options.file}`, new FileSpanExporter(options.file), batch, report));
  if (wanted.otlp) accounted.push(new AccountedExport(`OTLP ${wanted.otlp.protocol} ${wanted.otlp.endpoint}`, createOtlpExporter(wanted.otlp.protocol), batch, report));
  if (wanted.console) accounted.push(new AccountedExport("console", new ConsoleSpanExporter(), batch, report));
  const processors: SpanProcessor[] = accounted.map((a) => a.processor);
  if (options.exporter) processors.push(new SimpleSpanProcessor(options.exporter));
  const metrics = createMetricReaders(metricExportFromEnv(process.env, options.metricsPort), report);
  const metricReaders = [...metrics.readers, ...(options.metricReaders ?? [])];

  // Head sampling by trace-id ratio: Troupe decides new traces itself (root-sampling.ts).
  const roots = setRootSampling(ratioSamplerFromEnv());
  // AsyncLocalStorage, as the SDK's default, with the message path's shortcuts (troupe-context-manager.ts).
  const contextManager = new TroupeContextManager();
  setFastContextManager(contextManager);
  const sdk = new NodeSDK({
    contextManager,
    ...(roots !== undefined ? { idGenerator: rootSamplingIdGenerator(roots) } : {}),
    resource: troupeResource({ serviceName: options.serviceName ?? "troupe", nodeId: options.nodeId, system: options.system }),
    // Only what is set up here: left empty, the SDK would also start OTLP metric and log exporters
    // from the environment, whose failures nobody accounts for. Metric readers are chosen above
    // (OTEL_METRICS_EXPORTER, --metrics-port), as the spans' destinations are.
    spanProcessors: processors,
    metricReaders,
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  let outcome: Promise<TracingOutcome> | undefined;
  const metricsReady = metrics.prometheus ? metrics.prometheus.startServer() : Promise.resolve();
  // Whoever starts a node awaits it; unawaited (in code that only traces), a failure must not go unhandled.
  metricsReady.catch((error: unknown) => report(`cannot serve metrics on port ${options.metricsPort ?? "(OTEL_EXPORTER_PROMETHEUS_PORT)"}: ${error instanceof Error ? error.message : String(error)}`));
  return {
    metrics: metricReaders.length > 0,
    metricsReady,
    forceFlush: async () => {
      await Promise.all([...processors.map((p) => p.forceFlush()), ...metricReaders.map((r) => r.forceFlush())]);
    },
    shutdown: (shutdownOptions = {}) => (outcome ??= stop(sdk, accounted, shutdownOptions.timeoutMs ?? DEFAULT_TRACING_SHUTDOWN_MS, report)),
  };
}

async function stop(sdk: NodeSDK, accounted: readonly AccountedExport[], timeoutMs: number, report: (line: string) => void): Promise<TracingOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
  // A failed flush has been reported (and counted) by the export that failed.
  const finished = await Promise.race([sdk.shutdown().then(() => "done" as const, () => "done" as const), deadline]);
  clearTimeout(timer);
  // Unregister the globals too, so that tracing can be started again in this process (tests).
  setRootSampling(undefined);
  setFastContextManager(undefined);
  trace.disable();
  metricsApi.disable();
  context.disable();
  propagation.disable();
  const timedOut = finished === "timeout";
  const exports = accounted.map((a) => a.tally());
  const gaveUp = `the shutdown gave up after ${timeoutMs} ms`;
  for (const t of exports) {
    if (t.failed + t.dropped === 0) continue;
    const parts = [t.failed > 0 ? `${t.failed} failed to export` : "", t.dropped > 0 ? `${t.dropped} dropped (${timedOut ? `the queue was full, or ${gaveUp}` : "the queue was full"})` : ""];
    report(`${t.failed + t.dropped} of ${t.ended} spans did not reach ${t.destination}: ${parts.filter(Boolean).join(", ")}${t.firstError ? `; first error: ${t.firstError}` : ""}`);
  }
  // With metrics only (no span destination), what did not finish is a metric export.
  if (timedOut && exports.every((t) => t.failed + t.dropped === 0)) report(`${gaveUp} (${exports.length > 0 ? "every span had been exported" : "a metric export had not finished"})`);
  return { exports, timedOut };
}
