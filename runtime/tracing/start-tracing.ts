import { context, propagation, trace } from "@opentelemetry/api";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { FileSpanExporter } from "./file-span-exporter.js";

export interface StartTracingOptions {
  /** Default: `OTEL_SERVICE_NAME`, else "troupe". */
  readonly serviceName?: string;
  /** Resource attributes `troupe.node.id` and `troupe.system`, so every span says where it ran. */
  readonly nodeId?: string;
  readonly system?: string;
  /** Appends one JSON line per span to this file (`troupe run --trace FILE`). */
  readonly file?: string;
  /** Any exporter (e.g. InMemorySpanExporter in tests); exported span by span, without batching. */
  readonly exporter?: SpanExporter;
}

export interface TracingHandle {
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Sets up OpenTelemetry for this process with `@opentelemetry/sdk-node`: the global tracer provider,
 * the W3C propagator and an AsyncLocalStorage context manager (so spans started in a handler, even
 * after an await, nest under its message). The standard variables work unchanged:
 * `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER` (+ `_ARG`), and `OTEL_EXPORTER_OTLP_ENDPOINT` (spans also go
 * to that collector). Call before `ActorSystem.start({ tracing: true })`. Users who set up their own
 * SDK skip this and pass `tracing: true` (or `{ tracerProvider }`).
 */
export function startTracing(options: StartTracingOptions = {}): TracingHandle {
  const processors: SpanProcessor[] = [];
  if (options.file) processors.push(new BatchSpanProcessor(new FileSpanExporter(options.file), { scheduledDelayMillis: 200 }));
  if (options.exporter) processors.push(new SimpleSpanProcessor(options.exporter));
  if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  const attributes: Record<string, string> = {};
  if (options.nodeId) attributes["troupe.node.id"] = options.nodeId;
  if (options.system) attributes["troupe.system"] = options.system;
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ? undefined : (options.serviceName ?? "troupe"),
    resource: resourceFromAttributes(attributes),
    // With no processor of ours and no endpoint, the SDK's own reading of OTEL_TRACES_EXPORTER applies.
    ...(processors.length > 0 ? { spanProcessors: processors } : {}),
    instrumentations: [],
  });
  sdk.start();
  return {
    forceFlush: async () => {
      await Promise.all(processors.map((p) => p.forceFlush()));
    },
    shutdown: async () => {
      await sdk.shutdown();
      // Unregister the globals too, so that tracing can be started again in this process (tests).
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
