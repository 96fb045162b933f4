import type * as OpenTelemetryApi from "@opentelemetry/api";
import { loadOptional } from "../optional-dependency.js";

export type OtelApi = typeof OpenTelemetryApi;

let loaded: OtelApi | undefined;

/**
 * Loads `@opentelemetry/api` (an optional peer dependency): done by a system started with tracing
 * on, and by `startTracing`. An app that never traces neither loads it nor needs it installed.
 */
export async function loadOtelApi(): Promise<OtelApi> {
  loaded ??= await loadOptional("tracing", ["@opentelemetry/api"], () => import("@opentelemetry/api"));
  return loaded;
}

/**
 * The API once something in this process has loaded it for tracing; undefined means nothing here
 * traces, so code that would hang a span under the active one has nothing to do.
 */
export function otelApi(): OtelApi | undefined {
  return loaded;
}
