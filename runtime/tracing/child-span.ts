import type { Attributes } from "@opentelemetry/api";
import { otelApi } from "./otel-api.js";
import { TRACER_NAME, failSpan } from "./tracing.js";

/**
 * Runs `fn` inside a CLIENT span when there is an active span to hang it under (tracing is on and this
 * runs on behalf of a traced message), and plainly otherwise: a store call costs nothing extra untraced.
 */
export async function inChildSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  const api = otelApi();
  if (api === undefined || api.trace.getActiveSpan() === undefined) return fn();
  return api.trace.getTracer(TRACER_NAME).startActiveSpan(name, { kind: api.SpanKind.CLIENT, attributes }, async (span) => {
    try {
      const result = await fn();
      span.end();
      return result;
    } catch (error) {
      failSpan(api, span, error);
      span.end();
      throw error;
    }
  });
}
