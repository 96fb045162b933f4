import type { Context, Span, SpanContext, SpanStatus, TimeInput, AttributeValue, Attributes, Link, Exception } from "@opentelemetry/api";
import { FLAGS_AT, SPAN_ID_AT, TRACE_CONTEXT, TRACE_CONTEXT_BYTES, TRACE_ID_AT, type DeferredTraceContext, type HeadersWithTraceContext } from "../codec/trace-context.js";
import { spanContextOf } from "./binary-context.js";
import { RANDOM_WORDS, drawUnsampledWords } from "./root-sampling.js";

/** The key under which the OpenTelemetry API keeps a context's span (`createContextKey` is `Symbol.for`). */
export const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/**
 * What a message whose trace is not sampled is processed under: its span and the context holding it,
 * in one object made from the message's binary trace context without parsing it (one allocation per
 * message; the API's own contexts copy a Map and create three closures each). The span context is
 * read from the bytes only if something asks for it (a user's span started in the handler, a log
 * line), and a send under it passes the same object on, in the header object it keeps. As a span it
 * records nothing, like the API's non-recording span; as a context it holds just that span, and
 * setting or deleting a value (rare on this path) gives an ordinary context built from `root`.
 *
 * Its ids (the trace id's 16 bytes, then the span id's 8) live in the object itself, as eight 24-bit
 * numbers (small integers: no buffer, no boxing), read from the bytes it is made from, or drawn when
 * first needed (`begun`): for a trace this node begins and does not sample, and for one that arrived
 * without ids (`NO_IDS`, runtime/codec/trace-context.ts). Until something asks for them (a log line's
 * span context, a span started in the handler), the trace travels as its decision alone, three bytes
 * on the wire; from the node that drew them on, the ids travel with it. Until something asks, there is
 * no such object at all: the message carries constant headers and its handler a context made on
 * demand (Tracing's `onDemand`), which is one of these, begun, once read. A local receiver of a send
 * under one processes the message under this very object. An encoder writes the bytes straight into its frame (`writeTraceContext`);
 * `traceContext` makes a buffer of them only for whoever asks.
 */
export class UnsampledContext implements Span, Context, DeferredTraceContext {
  private parsed: SpanContext | undefined;
  private carrier: HeadersWithTraceContext | undefined;
  private bytes: Uint8Array | undefined;
  /** The ids, three bytes each, big-endian; `i0` is -1 while they are not drawn. */
  private i0 = -1;
  private i1 = 0;
  private i2 = 0;
  private i3 = 0;
  private i4 = 0;
  private i5 = 0;
  private i6 = 0;
  private i7 = 0;

  private constructor(
    private readonly root: Context,
    /** For a trace begun here: its ids must be ones a ratio sampler of this bound would not sample. */
    private readonly upperBound: number,
  ) {}

  /** The context 29 bytes (runtime/codec/trace-context.ts, valid, unsampled) at `at` of `bytes` carry. */
  static of(bytes: Uint8Array, root: Context, at = 0): UnsampledContext {
    const context = new UnsampledContext(root, 0);
    const t = at + TRACE_ID_AT;
    const s = at + SPAN_ID_AT;
    context.i0 = (bytes[t]! << 16) | (bytes[t + 1]! << 8) | bytes[t + 2]!;
    context.i1 = (bytes[t + 3]! << 16) | (bytes[t + 4]! << 8) | bytes[t + 5]!;
    context.i2 = (bytes[t + 6]! << 16) | (bytes[t + 7]! << 8) | bytes[t + 8]!;
    context.i3 = (bytes[t + 9]! << 16) | (bytes[t + 10]! << 8) | bytes[t + 11]!;
    context.i4 = (bytes[t + 12]! << 16) | (bytes[t + 13]! << 8) | bytes[t + 14]!;
    context.i5 = (bytes[t + 15]! << 16) | (bytes[s]! << 8) | bytes[s + 1]!;
    context.i6 = (bytes[s + 2]! << 16) | (bytes[s + 3]! << 8) | bytes[s + 4]!;
    context.i7 = (bytes[s + 5]! << 16) | (bytes[s + 6]! << 8) | bytes[s + 7]!;
    return context;
  }

  /** An unsampled trace whose ids are not drawn yet; `upperBound` is the root sampler's (root-sampling.ts), or 0. */
  static begun(root: Context, upperBound: number): UnsampledContext {
    return new UnsampledContext(root, upperBound);
  }

  /** The 29 bytes (runtime/codec/trace-context.ts), in a buffer of their own, made on first read. */
  get traceContext(): Uint8Array {
    if (this.bytes === undefined) {
      this.bytes = new Uint8Array(TRACE_CONTEXT_BYTES);
      this.writeTraceContext(this.bytes, 0);
    }
    return this.bytes;
  }

  get hasIds(): boolean {
    return this.i0 >= 0;
  }

  writeTraceContext(to: Uint8Array, at: number): void {
    if (this.i0 < 0) this.draw();
    const t = at + TRACE_ID_AT;
    const s = at + SPAN_ID_AT;
    to[at] = 0;
    to[at + 1] = 0;
    put(to, t, this.i0);
    put(to, t + 3, this.i1);
    put(to, t + 6, this.i2);
    put(to, t + 9, this.i3);
    put(to, t + 12, this.i4);
    to[t + 15] = this.i5 >> 16;
    to[at + 18] = 1;
    to[s] = this.i5 >> 8;
    to[s + 1] = this.i5;
    put(to, s + 2, this.i6);
    put(to, s + 5, this.i7);
    to[at + 27] = 2;
    to[at + FLAGS_AT] = 0;
  }

  private draw(): void {
    const at = drawUnsampledWords(this.upperBound);
    const w = RANDOM_WORDS;
    const t0 = w[at]!;
    const t1 = w[at + 1]!;
    const t2 = w[at + 2]!;
    const t3 = w[at + 3]!;
    const s0 = w[at + 4]!;
    const s1 = w[at + 5]!;
    // Six 32-bit words as eight 24-bit ones, the same bytes in the same order.
    this.i0 = t0 >>> 8;
    this.i1 = ((t0 & 0xff) << 16) | (t1 >>> 16);
    this.i2 = ((t1 & 0xffff) << 8) | (t2 >>> 24);
    this.i3 = t2 & 0xffffff;
    this.i4 = t3 >>> 8;
    this.i5 = ((t3 & 0xff) << 16) | (s0 >>> 16);
    this.i6 = ((s0 & 0xffff) << 8) | (s1 >>> 24);
    this.i7 = s1 & 0xffffff;
  }

  /** Itself, so that it reads like `startProcess`'s result: `{ span, context }`. */
  get span(): UnsampledContext {
    return this;
  }

  get context(): Context {
    return this;
  }

  // ---- Context ----

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this : undefined;
  }

  setValue(key: symbol, value: unknown): Context {
    return this.root.setValue(SPAN_KEY, this).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return key === SPAN_KEY ? this.root : this.root.setValue(SPAN_KEY, this);
  }

  // ---- Span ----

  spanContext(): SpanContext {
    return (this.parsed ??= spanContextOf(this.traceContext));
  }

  /** The headers that pass this span's decision on: the trace context alone (this object), one for every send under it. */
  headers(): HeadersWithTraceContext {
    return (this.carrier ??= { [TRACE_CONTEXT]: this });
  }

  isRecording(): boolean {
    return false;
  }
  setAttribute(_key: string, _value: AttributeValue): this {
    return this;
  }
  setAttributes(_attributes: Attributes): this {
    return this;
  }
  addEvent(_name: string, _attributesOrStartTime?: Attributes | TimeInput, _startTime?: TimeInput): this {
    return this;
  }
  addLink(_link: Link): this {
    return this;
  }
  addLinks(_links: Link[]): this {
    return this;
  }
  setStatus(_status: SpanStatus): this {
    return this;
  }
  updateName(_name: string): this {
    return this;
  }
  end(_endTime?: TimeInput): void {}
  recordException(_exception: Exception, _time?: TimeInput): void {}
}

/** Three bytes of `value`, big-endian, at `at`. */
function put(to: Uint8Array, at: number, value: number): void {
  to[at] = value >> 16;
  to[at + 1] = value >> 8;
  to[at + 2] = value;
}
