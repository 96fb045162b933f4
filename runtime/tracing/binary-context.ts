import type { SpanContext, TraceState } from "@opentelemetry/api";
import { FLAGS_AT, SPAN_ID_AT, TRACE_CONTEXT_BYTES, TRACE_ID_AT, writeTraceContextFrame } from "../codec/trace-context.js";

/**
 * Conversions between a binary trace context (runtime/codec/trace-context.ts) and the API's
 * SpanContext, whose ids are hex strings. Done only where a span is recorded or something asks for the
 * ids: the unsampled path passes the bytes on as they are.
 */

/** The remote span context `bytes` (valid: checked when received or made here) carry. */
export function spanContextOf(bytes: Uint8Array, traceState?: TraceState): SpanContext {
  // Both ids in one hex conversion, through a Buffer made once: the trace id, the field byte between
  // (`01`), the span id. A Buffer view per call and a conversion per id cost twice as much.
  for (let i = 0; i < IDS_BYTES; i++) IDS[i] = bytes[TRACE_ID_AT + i]!;
  const hex = IDS.toString("hex");
  const spanContext: SpanContext = { traceId: hex.slice(0, 32), spanId: hex.slice(34), traceFlags: bytes[FLAGS_AT]!, isRemote: true };
  if (traceState !== undefined) spanContext.traceState = traceState;
  return spanContext;
}

/** From the trace id's first byte to the span id's last. */
const IDS_BYTES = SPAN_ID_AT + 8 - TRACE_ID_AT;
const IDS = Buffer.alloc(IDS_BYTES);

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
  const bytes = new Uint8Array(TRACE_CONTEXT_BYTES);
  // By hand: Buffer.alloc and two hex writes through Buffer cost several times as much (a span per sampled message).
  const traceBits = writeHex(traceId, bytes, TRACE_ID_AT, 16);
  const spanBits = writeHex(spanId, bytes, SPAN_ID_AT, 8);
  // Not hex (negative), or all zero (invalid, W3C).
  if (traceBits <= 0 || spanBits <= 0) return undefined;
  writeTraceContextFrame(bytes, 0);
  bytes[FLAGS_AT] = flags;
  return bytes;
}

/** Digit values by char code (upper and lower case, as Buffer's hex accepts); -1 for anything else. */
const HEX_DIGITS = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_DIGITS[48 + i] = i;
for (let i = 0; i < 6; i++) HEX_DIGITS[97 + i] = HEX_DIGITS[65 + i] = 10 + i;

/** Writes `count` bytes from the hex digits of `text` at `at`; returns the bytes ORed, or -1 when a digit is not hex. */
function writeHex(text: string, bytes: Uint8Array, at: number, count: number): number {
  let ored = 0;
  for (let i = 0; i < count; i++) {
    const high = text.charCodeAt(2 * i);
    const low = text.charCodeAt(2 * i + 1);
    const h = high < 128 ? HEX_DIGITS[high]! : -1;
    const l = low < 128 ? HEX_DIGITS[low]! : -1;
    if ((h | l) < 0) return -1;
    const byte = (h << 4) | l;
    bytes[at + i] = byte;
    ored |= byte;
  }
  return ored;
}
