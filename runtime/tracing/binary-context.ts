import type { SpanContext, TraceState } from "@opentelemetry/api";
import { FLAGS_AT, SPAN_ID_AT, TRACE_CONTEXT_BYTES, TRACE_ID_AT, isTraceContext, writeTraceContextFrame } from "../codec/trace-context.js";

/**
 * Conversions between a binary trace context (runtime/codec/trace-context.ts) and the API's
 * SpanContext, whose ids are hex strings. Done only where a span is recorded or something asks for the
 * ids: the unsampled path passes the bytes on as they are.
 */

/** The remote span context `bytes` (valid: checked when received or made here) carry. */
export function spanContextOf(bytes: Uint8Array, traceState?: TraceState): SpanContext {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return {
    traceId: text.toString("hex", TRACE_ID_AT, TRACE_ID_AT + 16),
    spanId: text.toString("hex", SPAN_ID_AT, SPAN_ID_AT + 8),
    traceFlags: bytes[FLAGS_AT]!,
    isRemote: true,
    ...(traceState === undefined ? {} : { traceState }),
  };
}

/** `spanContext` in binary; undefined when its ids are not 32 and 16 hex digits, or all zero. */
export function traceContextFromSpan(spanContext: SpanContext): Uint8Array | undefined {
  return fromHex(spanContext.traceId, spanContext.spanId, spanContext.traceFlags & 0xff);
}

/**
 * A W3C `traceparent` header (version 00: `00-<32 hex>-<16 hex>-<2 hex>`, lower case), as a plain
 * NATS client may send it, in binary; undefined for anything else (which then takes the propagator's
 * full parse, or is ignored by it).
 */
export function traceContextFromTraceparent(traceparent: string | undefined): Uint8Array | undefined {
  if (traceparent === undefined || traceparent.length !== 55 || !LOWER_TRACEPARENT.test(traceparent)) return undefined;
  return fromHex(traceparent.slice(3, 35), traceparent.slice(36, 52), parseInt(traceparent.slice(53, 55), 16));
}

const LOWER_TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

function fromHex(traceId: string, spanId: string, flags: number): Uint8Array | undefined {
  if (traceId.length !== 32 || spanId.length !== 16) return undefined;
  const bytes = Buffer.alloc(TRACE_CONTEXT_BYTES);
  // Buffer.write stops at the first pair that is not hex: a short count means a bad id.
  if (bytes.write(traceId, TRACE_ID_AT, 16, "hex") !== 16 || bytes.write(spanId, SPAN_ID_AT, 8, "hex") !== 8) return undefined;
  writeTraceContextFrame(bytes, 0);
  bytes[FLAGS_AT] = flags;
  return isTraceContext(bytes) ? bytes : undefined;
}
