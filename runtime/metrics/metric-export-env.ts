import type { OtlpProtocol } from "../tracing/trace-export-env.js";

/**
 * What the standard OpenTelemetry variables (and `--metrics-port`) ask of metric export, read as the
 * SDKs read them, with the difference trace export makes too: an unset `OTEL_METRICS_EXPORTER` means
 * OTLP only when a metrics endpoint (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`) is set, so a process that
 * sends its traces somewhere does not start counting and pushing metrics nobody asked for.
 * Pure (no SDK import): the CLI reads it to decide whether to load the SDK at all.
 */
export interface MetricExportEnv {
  readonly otlp?: { readonly protocol: OtlpProtocol; readonly endpoint: string };
  /** A Prometheus endpoint: `/metrics` on this port (and host: default all interfaces). */
  readonly prometheus?: { readonly port: number; readonly host: string | undefined };
  /** Metrics printed on stdout (`OTEL_METRICS_EXPORTER=console`). */
  readonly console: boolean;
  /** How often the OTLP and console readers export, in ms (`OTEL_METRIC_EXPORT_INTERVAL`, default 60000). */
  readonly intervalMs: number;
}

const EXPORTERS = ["otlp", "prometheus", "console", "none"] as const;
/** The Prometheus exporter's registered port, its default. */
export const DEFAULT_PROMETHEUS_PORT = 9464;

/** Throws on a value Troupe cannot honour, naming the variable. `metricsPort` (`--metrics-port`) adds a Prometheus endpoint on it. */
export function metricExportFromEnv(env: NodeJS.ProcessEnv = process.env, metricsPort?: number): MetricExportEnv {
  const intervalMs = positiveWholeEnv(env, "OTEL_METRIC_EXPORT_INTERVAL", 60_000);
  const prometheusHost = env.OTEL_EXPORTER_PROMETHEUS_HOST?.trim() || undefined;
  const flagged = metricsPort === undefined ? undefined : { port: metricsPort, host: prometheusHost };
  const off: MetricExportEnv = { console: false, intervalMs, ...(flagged ? { prometheus: flagged } : {}) };
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return off;
  const listed = (env.OTEL_METRICS_EXPORTER ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== "");
  for (const name of listed) {
    if (!(EXPORTERS as readonly string[]).includes(name)) throw new Error(`OTEL_METRICS_EXPORTER=${env.OTEL_METRICS_EXPORTER}: "${name}" is not supported; use otlp, prometheus, console or none`);
  }
  if (listed.includes("none")) return off;
  const wantsOtlp = listed.length === 0 ? Boolean(env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT?.trim()) : listed.includes("otlp");
  const prometheus = flagged ?? (listed.includes("prometheus") ? { port: positiveWholeEnv(env, "OTEL_EXPORTER_PROMETHEUS_PORT", DEFAULT_PROMETHEUS_PORT), host: prometheusHost } : undefined);
  const result = { console: listed.includes("console"), intervalMs, ...(prometheus ? { prometheus } : {}) };
  if (!wantsOtlp) return result;
  const protocolVariable = env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL?.trim() ? "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL" : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const protocol = env[protocolVariable]?.trim() || "http/protobuf";
  if (protocol !== "grpc" && protocol !== "http/protobuf") throw new Error(`${protocolVariable}=${protocol} is not supported for metrics; use http/protobuf or grpc`);
  return { ...result, otlp: { protocol, endpoint: otlpMetricsEndpoint(protocol, env) } };
}

/** True when metric export is on, from the environment or `--metrics-port`. */
export function metricsWanted(env: NodeJS.ProcessEnv = process.env, metricsPort?: number): boolean {
  const wanted = metricExportFromEnv(env, metricsPort);
  return wanted.otlp !== undefined || wanted.prometheus !== undefined || wanted.console;
}

/** The endpoint as the OTLP metric exporters resolve it (for messages; they read the variables themselves). */
function otlpMetricsEndpoint(protocol: OtlpProtocol, env: NodeJS.ProcessEnv): string {
  const metrics = env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT?.trim();
  if (metrics) return metrics;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (protocol === "grpc") return base || "http://localhost:4317";
  return base ? `${base.replace(/\/$/, "")}/v1/metrics` : "http://localhost:4318/v1/metrics";
}

/** The whole number of at least 1 in variable `name`, or `fallback` when it is unset; an error naming it otherwise. */
function positiveWholeEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}=${raw} must be a positive whole number`);
  return value;
}
