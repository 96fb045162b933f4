import { context, propagation, trace } from "@opentelemetry/api";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { AccountedExport, type ExportTally } from "./accounted-export.js";
import { FileSpanExporter } from "./file-span-exporter.js";
import { createOtlpExporter } from "./otlp-exporter.js";
import { batchOptionsFromEnv, traceExportFromEnv, DEFAULT_TRACING_SHUTDOWN_MS } from "./trace-export-env.js";
import { troupeResource } from "./troupe-resource.js";

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
}

/** How a shutdown went: per destination, what became of the spans; and whether the deadline cut it short. */
export interface TracingOutcome {
  readonly exports: readonly ExportTally[];
  readonly timedOut: boolean;
}

export interface TracingHandle {
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

  const sdk = new NodeSDK({
    resource: troupeResource({ serviceName: options.serviceName ?? "troupe", nodeId: options.nodeId, system: options.system }),
    // Only what is set up here: left empty, the SDK would also start OTLP metric and log exporters
    // from the environment, whose failures nobody accounts for.
    spanProcessors: processors,
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  let outcome: Promise<TracingOutcome> | undefined;
  return {
    forceFlush: async () => {
      await Promise.all(processors.map((p) => p.forceFlush()));
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
  trace.disable();
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
  if (timedOut && exports.every((t) => t.failed + t.dropped === 0)) report(`${gaveUp} (every span had been exported)`);
  return { exports, timedOut };
}
