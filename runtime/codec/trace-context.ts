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
/** Headers as the runtime passes them: strings, and the trace context under `TRACE_CONTEXT`. */
export type HeadersWithTraceContext = StringHeaders & { readonly [TRACE_CONTEXT]?: Uint8Array };

/** The binary trace context `headers` carry, if any. */
export function traceContextOf(headers: StringHeaders | undefined): Uint8Array | undefined {
  return headers === undefined ? undefined : (headers as HeadersWithTraceContext)[TRACE_CONTEXT];
}

/**
 * `headers` with `bytes` as their trace context: the same object when it holds them already, else a
 * copy. A text `traceparent` is left out of the copy: the binary context replaces it.
 */
export function withTraceContext(headers: StringHeaders | undefined, bytes: Uint8Array): HeadersWithTraceContext {
  if (headers === undefined) return { [TRACE_CONTEXT]: bytes };
  if ((headers as HeadersWithTraceContext)[TRACE_CONTEXT] === bytes && headers.traceparent === undefined) return headers;
  const { traceparent: _replaced, ...rest } = headers as HeadersWithTraceContext;
  return { ...rest, [TRACE_CONTEXT]: bytes };
}

/** Whether a received `trace_context` holds a usable context: 29 bytes, version 0, both ids not all zero. */
export function isTraceContext(bytes: Uint8Array): boolean {
  if (bytes.length !== TRACE_CONTEXT_BYTES || bytes[0] !== 0 || bytes[1] !== 0 || bytes[18] !== 1 || bytes[27] !== 2) return false;
  return !allZero(bytes, TRACE_ID_AT, TRACE_ID_AT + 16) && !allZero(bytes, SPAN_ID_AT, SPAN_ID_AT + 8);
}

/** Whether the sampled flag of a (valid) trace context is set. */
export function isSampledTraceContext(bytes: Uint8Array): boolean {
  return (bytes[FLAGS_AT]! & 1) === 1;
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
