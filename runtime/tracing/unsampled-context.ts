import type { Context, Span, SpanContext, SpanStatus, TimeInput, AttributeValue, Attributes, Link, Exception } from "@opentelemetry/api";
import { TRACE_CONTEXT, type HeadersWithTraceContext } from "../codec/trace-context.js";
import { spanContextOf } from "./binary-context.js";

/** The key under which the OpenTelemetry API keeps a context's span (`createContextKey` is `Symbol.for`). */
export const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/**
 * The span of a message whose trace is not sampled, made from its binary trace context without
 * parsing it: the span context is read from the bytes only if something asks for it (a user's span
 * started in the handler, a log line), and a send under it passes the same bytes on, in the header
 * object it keeps. It records nothing, like the API's non-recording span.
 */
export class UnsampledSpan implements Span {
  private parsed: SpanContext | undefined;
  private carrier: HeadersWithTraceContext | undefined;

  constructor(readonly traceContext: Uint8Array) {}

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

/**
 * A context holding just an unsampled span: what a handler runs under when its message's trace is not
 * sampled. The API's own contexts copy a Map and create three closures each; this one is two fields.
 * Setting or deleting a value (rare on this path) gives an ordinary context built from `root`.
 */
export class UnsampledContext implements Context {
  /** Itself, so that it reads like `startProcess`'s result: `{ span, context }`. */
  readonly context: Context = this;

  constructor(
    readonly span: UnsampledSpan,
    private readonly root: Context,
  ) {}

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this.span : undefined;
  }

  setValue(key: symbol, value: unknown): Context {
    return this.root.setValue(SPAN_KEY, this.span).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return key === SPAN_KEY ? this.root : this.root.setValue(SPAN_KEY, this.span);
  }
}
