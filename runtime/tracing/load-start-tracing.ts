import { loadOptional } from "../optional-dependency.js";
import { loadOtlpExporter } from "./otlp-exporter.js";
import type { startTracing } from "./start-tracing.js";
import { traceExportFromEnv, tracingFromEnv } from "./trace-export-env.js";
import { metricExportFromEnv, metricsWanted } from "../metrics/metric-export-env.js";

/** The OpenTelemetry SDK packages `startTracing` needs: optional peer dependencies of Troupe. */
export const TRACING_SDK_PACKAGES = [
  "@opentelemetry/sdk-node",
  "@opentelemetry/sdk-trace-base",
  "@opentelemetry/context-async-hooks",
  "@opentelemetry/exporter-trace-otlp-proto",
  "@opentelemetry/resources",
  "@opentelemetry/core",
  "@opentelemetry/sdk-metrics",
  "@opentelemetry/exporter-prometheus",
] as const;

/**
 * `startTracing`, loaded on demand: the SDK costs a few hundred milliseconds to import, and only a
 * process that records spans should pay for it (or need it installed). The OTLP exporter the
 * environment asks for is loaded here too, so a bad variable or a missing package stops a command
 * before it has started anything.
 */
export async function loadStartTracing(metricsPort?: number): Promise<typeof startTracing> {
  const wanted = traceExportFromEnv();
  const wantedMetrics = metricExportFromEnv(process.env, metricsPort);
  const module = await loadOptional("tracing or metrics (--trace, --metrics-port or OTEL_* variables)", TRACING_SDK_PACKAGES, () => import("./start-tracing.js"));
  if (wanted.otlp) await loadOtlpExporter(wanted.otlp.protocol);
  if (wantedMetrics.otlp) await (await import("../metrics/metric-readers.js")).loadOtlpMetricExporter(wantedMetrics.otlp.protocol);
  return module.startTracing;
}

/** For the CLI: whether a process traces at all, with `--trace FILE` or with the OTEL_* variables alone. */
export function tracingWanted(file: string | undefined): boolean {
  return file !== undefined || tracingFromEnv();
}

/** For the CLI: whether a process sets up the SDK at all: to trace, or for metrics (`--metrics-port`, OTEL_METRICS_EXPORTER). */
export function telemetryWanted(file: string | undefined, metricsPort?: number): boolean {
  return tracingWanted(file) || metricsWanted(process.env, metricsPort);
}
