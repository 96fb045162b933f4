/**
 * The W3C trace context of a message in binary (Envelope field 6, `trace_context`), laid out as the
 * W3C trace-context-binary draft and gRPC's `grpc-trace-bin` write a `traceparent`: 29 bytes,
 *
 *   0: version 0 | 1: field 0 | 2-17: trace id | 18: field 1 | 19-26: span id | 27: field 2 | 28: flags
 *
 * Binary so that an unsampled message (99 in 100 at 1% head sampling) costs no string on either side:
 * the receiver keeps the bytes, a send from its handler passes the same bytes on, and only a sampled
 * message's are turned into a SpanContext. Inside a node the bytes ride in the message's headers object
 * under the symbol `TRACE_CONTEXT`, so every path that carries headers (mailbox, entity forwarding,
 * relays, dead letters) carries them unchanged, and header maps stay maps of strings (for...in, keys
 * and JSON do not see a symbol).
 */
export const TRACE_CONTEXT_BYTES = 29;
export const TRACE_ID_AT = 2;
export const SPAN_ID_AT = 19;
export const FLAGS_AT = 28;

/** The slot of a headers object that holds its message's binary trace context. */
export const TRACE_CONTEXT: unique symbol = Symbol("troupe.traceContext");

type StringHeaders = Readonly<Record<string, string>>;

/**
 * A trace context whose bytes are made when first read: an unsampled trace, its ids kept as numbers,
 * or drawn only when something asks for them (runtime/tracing/unsampled-context.ts).
 */
export interface DeferredTraceContext {
  readonly traceContext: Uint8Array;
  /**
   * False for an unsampled trace whose ids nothing has asked for yet: it travels as `NO_IDS`, its
   * decision without ids, and whoever asks draws them (runtime/tracing/unsampled-context.ts).
   */
  readonly hasIds: boolean;
  /** Writes the 29 bytes at `at` in `to` (an encoder's buffer), without a Uint8Array of their own. */
  writeTraceContext(to: Uint8Array, at: number): void;
}

/**
 * The trace context of an unsampled trace without ids: version 0 and no fields, which the binary draft
 * reads as trace flags 0 (not sampled). Three bytes on the wire in place of 31, for the 99 traces in
 * 100 that head sampling at 1% drops and nobody looks at (B3's `b3: 0` carries the same decision).
 */
export const NO_IDS: Uint8Array = new Uint8Array([0]);

/** Whether the bytes of `frame` from `start` to `end` are `NO_IDS`. */
export function isNoIdsIn(frame: Uint8Array, start: number, end: number): boolean {
  return end - start === 1 && frame[start] === 0;
}

/** What the `TRACE_CONTEXT` slot holds: the bytes, or the promise of them. */
export type TraceContextValue = Uint8Array | DeferredTraceContext;

/** Headers as the runtime passes them: strings, and the trace context under `TRACE_CONTEXT`. */
export type HeadersWithTraceContext = StringHeaders & { readonly [TRACE_CONTEXT]?: TraceContextValue };

/** The binary trace context `headers` carry, if any (drawn now if it was deferred). */
export function traceContextOf(headers: StringHeaders | undefined): Uint8Array | undefined {
  const value = headers === undefined ? undefined : (headers as HeadersWithTraceContext)[TRACE_CONTEXT];
  return value === undefined || value instanceof Uint8Array ? value : value.traceContext;
}

/** What `headers` carry under `TRACE_CONTEXT`, deferred or not. */
export function traceContextValueOf(headers: StringHeaders | undefined): TraceContextValue | undefined {
  return headers === undefined ? undefined : (headers as HeadersWithTraceContext)[TRACE_CONTEXT];
}

/**
 * `headers` with `value` as their trace context: the same object when it holds it already, else a
 * copy. A text `traceparent` is left out of the copy: the binary context replaces it.
 */
export function withTraceContext(headers: StringHeaders | undefined, value: TraceContextValue): HeadersWithTraceContext {
  if (headers === undefined) return { [TRACE_CONTEXT]: value };
  if ((headers as HeadersWithTraceContext)[TRACE_CONTEXT] === value && headers.traceparent === undefined) return headers;
  const { traceparent: _replaced, ...rest } = headers as HeadersWithTraceContext;
  return { ...rest, [TRACE_CONTEXT]: value };
}

/** Whether a received `trace_context` holds a usable context: 29 bytes, version 0, both ids not all zero. */
export function isTraceContext(bytes: Uint8Array): boolean {
  return isTraceContextIn(bytes, 0, bytes.length);
}

/** `isTraceContext` for the bytes of `frame` from `start` to `end`, where a received envelope holds them. */
export function isTraceContextIn(frame: Uint8Array, start: number, end: number): boolean {
  if (end - start !== TRACE_CONTEXT_BYTES || frame[start] !== 0 || frame[start + 1] !== 0 || frame[start + 18] !== 1 || frame[start + 27] !== 2) return false;
  return !allZero(frame, start + TRACE_ID_AT, start + TRACE_ID_AT + 16) && !allZero(frame, start + SPAN_ID_AT, start + SPAN_ID_AT + 8);
}

/** Whether the sampled flag of a (valid) trace context is set; `at`: where it starts in `bytes`. */
export function isSampledTraceContext(bytes: Uint8Array, at = 0): boolean {
  return (bytes[at + FLAGS_AT]! & 1) === 1;
}

/** Writes the fixed bytes of a trace context at `at` (version and field ids); the ids and flags are the caller's. */
export function writeTraceContextFrame(bytes: Uint8Array, at: number): void {
  bytes[at] = 0;
  bytes[at + 1] = 0;
  bytes[at + 18] = 1;
  bytes[at + 27] = 2;
}

function allZero(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}
