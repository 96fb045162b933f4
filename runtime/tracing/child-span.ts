import { SpanKind, trace, type Attributes } from "@opentelemetry/api";
import { TRACER_NAME, failSpan } from "./tracing.js";

/**
 * Runs `fn` inside a CLIENT span when there is an active span to hang it under (tracing is on and this
 * runs on behalf of a traced message), and plainly otherwise: a store call costs nothing extra untraced.
 */
export async function inChildSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (trace.getActiveSpan() === undefined) return fn();
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      const result = await fn();
      span.end();
      return result;
    } catch (error) {
      failSpan(span, error);
      span.end();
      throw error;
    }
  });
}
