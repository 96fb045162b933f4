import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { loadOptional } from "../optional-dependency.js";
import type { OtlpProtocol } from "./trace-export-env.js";

/** The official OTLP trace exporter package for each protocol; only the chosen one is loaded. */
export const OTLP_EXPORTER_PACKAGES: Record<OtlpProtocol, string> = {
  "http/protobuf": "@opentelemetry/exporter-trace-otlp-proto",
  grpc: "@opentelemetry/exporter-trace-otlp-grpc",
};

type OtlpExporterClass = new () => SpanExporter;

/**
 * Loads the exporter class for `protocol`. The gRPC one pulls in @grpc/grpc-js, which a process
 * exporting over HTTP never loads. Rejects with a MissingDependencyError naming the package.
 */
export async function loadOtlpExporter(protocol: OtlpProtocol): Promise<OtlpExporterClass> {
  const packages = [OTLP_EXPORTER_PACKAGES[protocol]];
  const feature = `OTLP trace export over ${protocol}`;
  if (protocol === "grpc") return (await loadOptional(feature, packages, () => import("@opentelemetry/exporter-trace-otlp-grpc"))).OTLPTraceExporter;
  return (await loadOptional(feature, packages, () => import("@opentelemetry/exporter-trace-otlp-proto"))).OTLPTraceExporter;
}

/** The exporter reads the OTEL_EXPORTER_OTLP_* variables itself: endpoint, headers, timeout, compression, certificates. */
export async function createOtlpExporter(protocol: OtlpProtocol): Promise<SpanExporter> {
  return new (await loadOtlpExporter(protocol))();
}
