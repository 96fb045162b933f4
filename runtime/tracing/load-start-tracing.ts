import { loadOptional } from "../optional-dependency.js";
import type { startTracing } from "./start-tracing.js";

/** The OpenTelemetry SDK packages `startTracing` needs: optional peer dependencies of Troupe. */
export const TRACING_SDK_PACKAGES = [
  "@opentelemetry/sdk-node",
  "@opentelemetry/sdk-trace-base",
  "@opentelemetry/exporter-trace-otlp-proto",
  "@opentelemetry/resources",
  "@opentelemetry/core",
] as const;

/**
 * `startTracing`, loaded on demand: the SDK costs a few hundred milliseconds to import, and only a
 * process that records spans should pay for it (or need it installed).
 */
export async function loadStartTracing(): Promise<typeof startTracing> {
  const module = await loadOptional("tracing (--trace)", TRACING_SDK_PACKAGES, () => import("./start-tracing.js"));
  return module.startTracing;
}
