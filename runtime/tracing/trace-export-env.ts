/**
 * What the standard OpenTelemetry variables ask of trace export, read the way the SDKs read them,
 * with one difference: an unset `OTEL_TRACES_EXPORTER` means OTLP only when an OTLP endpoint is set,
 * so a plain `troupe run` does not try a collector on localhost that nobody started.
 * Pure (no SDK import): the CLI reads it to decide whether to load the SDK at all.
 */
export type OtlpProtocol = "grpc" | "http/protobuf";

export interface TraceExportEnv {
  /** Spans go to an OTLP collector over this protocol, at `endpoint` (as the exporter will use it). */
  readonly otlp?: { readonly protocol: OtlpProtocol; readonly endpoint: string };
  /** Spans are printed on stdout (`OTEL_TRACES_EXPORTER=console`). */
  readonly console: boolean;
}

const EXPORTERS = ["otlp", "console", "none"] as const;
const PROTOCOLS: readonly string[] = ["grpc", "http/protobuf"] satisfies OtlpProtocol[];

/** Throws on a value Troupe cannot honour, naming the variable: better than exporting nothing silently. */
export function traceExportFromEnv(env: NodeJS.ProcessEnv = process.env): TraceExportEnv {
  const off: TraceExportEnv = { console: false };
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return off;
  const endpointSet = Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
  const listed = (env.OTEL_TRACES_EXPORTER ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== "");
  for (const name of listed) {
    if (!(EXPORTERS as readonly string[]).includes(name)) throw new Error(`OTEL_TRACES_EXPORTER=${env.OTEL_TRACES_EXPORTER}: "${name}" is not supported; use otlp, console or none`);
  }
  if (listed.includes("none")) return off;
  const wantsOtlp = listed.length === 0 ? endpointSet : listed.includes("otlp");
  if (!wantsOtlp) return { console: listed.includes("console") };

  const protocolVariable = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const protocol = env[protocolVariable]?.trim() || "http/protobuf";
  if (!PROTOCOLS.includes(protocol)) throw new Error(`${protocolVariable}=${protocol} is not supported for traces; use http/protobuf or grpc`);
  return { otlp: { protocol: protocol as OtlpProtocol, endpoint: otlpEndpoint(protocol as OtlpProtocol, env) }, console: listed.includes("console") };
}

/** True when the environment alone turns trace export on. */
export function tracingFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const wanted = traceExportFromEnv(env);
  return wanted.otlp !== undefined || wanted.console;
}

/** Batching for one export destination (the SDK's BatchSpanProcessor options). */
export interface BatchOptions {
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly scheduledDelayMillis: number;
  readonly exportTimeoutMillis: number;
}

/**
 * Troupe's defaults, each overridden by its `OTEL_BSP_*` variable. With the SDK's queue of 2,048,
 * ping-pong on 2 nodes dropped 1,441 of its ~17,600 spans: its coordinator ends 4,000 sends in a burst. 65,536 spans hold
 * a burst of that size many times over (a few tens of MB at most, and only while a burst waits);
 * smaller batches sent sooner keep each OTLP request well under a collector's 4 MiB default limit.
 */
export function batchOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): BatchOptions {
  const read = (name: string, fallback: number): number => {
    const value = Number(env[name]?.trim() || Number.NaN);
    return Number.isInteger(value) && value > 0 ? value : fallback;
  };
  const maxQueueSize = read("OTEL_BSP_MAX_QUEUE_SIZE", 65_536);
  return {
    maxQueueSize,
    maxExportBatchSize: Math.min(maxQueueSize, read("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1_024)),
    scheduledDelayMillis: read("OTEL_BSP_SCHEDULE_DELAY", 200),
    exportTimeoutMillis: read("OTEL_BSP_EXPORT_TIMEOUT", 10_000),
  };
}

/** The endpoint as the OTLP exporters resolve it (for messages; the exporters read the variables themselves). */
function otlpEndpoint(protocol: OtlpProtocol, env: NodeJS.ProcessEnv): string {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (protocol === "grpc") return base || "http://localhost:4317";
  return base ? `${base.replace(/\/$/, "")}/v1/traces` : "http://localhost:4318/v1/traces";
}

/**
 * How long shutting tracing down waits for the last spans to be exported, by default. Here, with no
 * SDK import, so that the CLI can read it without loading the SDK (an app may not have it installed).
 */
export const DEFAULT_TRACING_SHUTDOWN_MS = 2_000;
