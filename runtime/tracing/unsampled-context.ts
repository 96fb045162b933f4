import type { Context, Span, SpanContext, SpanStatus, TimeInput, AttributeValue, Attributes, Link, Exception } from "@opentelemetry/api";

/** The key under which the OpenTelemetry API keeps a context's span (`createContextKey` is `Symbol.for`). */
export const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/**
 * The span of a message whose trace is not sampled, made from its version-00 `traceparent` without
 * parsing it: the span context is read from the string only if something asks for it (a user's span
 * started in the handler, a log line), and a send under it passes the same `traceparent` on, as the
 * header object it keeps. It records nothing, like the API's non-recording span.
 */
export class UnsampledSpan implements Span {
  private parsed: SpanContext | undefined;
  private carrier: Readonly<Record<string, string>> | undefined;

  constructor(readonly traceparent: string) {}

  spanContext(): SpanContext {
    const tp = this.traceparent;
    return (this.parsed ??= { traceId: tp.slice(3, 35), spanId: tp.slice(36, 52), traceFlags: 0, isRemote: true });
  }

  /** The headers that pass this span's decision on: `traceparent` alone, one object for every send under it. */
  headers(): Readonly<Record<string, string>> {
    return (this.carrier ??= { traceparent: this.traceparent });
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

/**
 * Whether `traceparent` is version 00 with the sampled flag off, read by position (55 characters).
 * The ids are passed on as they came, not checked digit by digit (that would cost more than the rest
 * of the fast path): a malformed one can only mislabel a trace that records nothing.
 */
export function isUnsampledTraceparent(traceparent: string | undefined): traceparent is string {
  if (traceparent === undefined || traceparent.length !== 55) return false;
  // "00-" <32> "-" <16> "-" "0" <even digit>
  if (traceparent.charCodeAt(0) !== 48 || traceparent.charCodeAt(1) !== 48 || traceparent.charCodeAt(2) !== 45 || traceparent.charCodeAt(35) !== 45 || traceparent.charCodeAt(52) !== 45 || traceparent.charCodeAt(53) !== 48) return false;
  const flags = traceparent.charCodeAt(54) - 48;
  return flags >= 0 && flags <= 9 && (flags & 1) === 0;
}
