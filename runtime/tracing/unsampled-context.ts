import type { Context, Span, SpanContext, SpanStatus, TimeInput, AttributeValue, Attributes, Link, Exception } from "@opentelemetry/api";
import { TRACE_CONTEXT, type HeadersWithTraceContext } from "../codec/trace-context.js";
import { spanContextOf } from "./binary-context.js";

/** The key under which the OpenTelemetry API keeps a context's span (`createContextKey` is `Symbol.for`). */
export const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/**
 * What a message whose trace is not sampled is processed under: its span and the context holding it,
 * in one object made from the message's binary trace context without parsing it (one allocation per
 * message; the API's own contexts copy a Map and create three closures each). The span context is
 * read from the bytes only if something asks for it (a user's span started in the handler, a log
 * line), and a send under it passes the same bytes on, in the header object it keeps. As a span it
 * records nothing, like the API's non-recording span; as a context it holds just that span, and
 * setting or deleting a value (rare on this path) gives an ordinary context built from `root`.
 */
export class UnsampledContext implements Span, Context {
  private parsed: SpanContext | undefined;
  private carrier: HeadersWithTraceContext | undefined;

  constructor(
    readonly traceContext: Uint8Array,
    private readonly root: Context,
  ) {}

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

  /** The headers that pass this span's decision on: the trace context alone, one object for every send under it. */
  headers(): HeadersWithTraceContext {
    return (this.carrier ??= { [TRACE_CONTEXT]: this.traceContext });
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
