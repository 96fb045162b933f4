import type { Context, Link, Span, Tracer, TracerProvider } from "@opentelemetry/api";
import type { Address } from "../address.js";
import type { OtelApi } from "./otel-api.js";
import { TRACE_CONTEXT, isSampledTraceContext, traceContextOf, withTraceContext, type HeadersWithTraceContext } from "../codec/trace-context.js";
import { spanContextOf, traceContextFromSpan, traceContextFromTraceparent } from "./binary-context.js";
import { drawRoot, rootSampling, type RootSampling } from "./root-sampling.js";
import { SPAN_KEY, UnsampledContext, UnsampledSpan } from "./unsampled-context.js";

export type Headers = Readonly<Record<string, string>> | undefined;

/**
 * How a system traces: on with the global tracer provider (`true`), or with one of the user's.
 * `parentBased` says whether its sampler follows the parent's decision (the SDK's default,
 * `parentbased_always_on`, and every `parentbased_*` sampler do); it lets the untraced majority of
 * messages skip the SDK (below). Default: what `OTEL_TRACES_SAMPLER` says, parent-based when unset.
 */
export type TracingOption = boolean | { readonly tracerProvider?: TracerProvider; readonly parentBased?: boolean };

export const TRACER_NAME = "troupe";

/** Attribute names: OpenTelemetry's messaging conventions, plus Troupe's own under `troupe.`. */
export const Attr = {
  system: "messaging.system",
  destination: "messaging.destination.name",
  destinationTemplate: "messaging.destination.template",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  messageId: "messaging.message.id",
  bodySize: "messaging.message.body.size",
  serverAddress: "server.address",
  serverPort: "server.port",
  messageType: "troupe.message.type",
  actorPath: "troupe.actor.path",
  actorKind: "troupe.actor.kind",
  targetNode: "troupe.target.node",
  nodeId: "troupe.node.id",
  systemName: "troupe.system",
} as const;

/** The envelope header that carries a sampled message's id to the node that processes it. */
export const MESSAGE_ID_HEADER = "troupe-message-id";

/** Where a send goes, as its span names it: the subject (or the local actor's path) and a low-cardinality template. */
export interface SendDestination {
  readonly name: string;
  readonly template: string;
}

const headerGetter = {
  keys: (carrier: Readonly<Record<string, string>>) => Object.keys(carrier),
  get: (carrier: Readonly<Record<string, string>>, key: string) => carrier[key],
};
const headerSetter = {
  set: (carrier: Record<string, string>, key: string, value: string) => {
    carrier[key] = value;
  },
};

/**
 * The tracing of one node, present only when tracing is on: every send is a PRODUCER span whose
 * context travels with the message (W3C trace context in binary, Envelope `trace_context`; text
 * headers for `tracestate` and baggage), every processing a CONSUMER span whose parent is that
 * context, active while the handler runs so that the user's spans nest under it.
 * Names and attributes follow the messaging conventions: `send <destination template>`,
 * `process <actor kind>`, with the subject, message id and body size. It holds the OpenTelemetry API,
 * loaded when the system started (`loadOtelApi`): untraced code never touches it.
 *
 * Unsampled messages (head sampling at 1% leaves 99 of 100 traces unsampled) skip the SDK when the
 * sampler follows the parent: the decision is already in the trace context's flags, so a send under
 * an unsampled span passes those very bytes on, and processing an unsampled message makes the remote
 * context current without a span of its own, and without parsing it. Attributes are set only on
 * recording spans.
 */
export class Tracing {
  readonly tracer: Tracer;
  private readonly parentBased: boolean;
  // The API's parts, read once: a module namespace's properties cost more to read per message.
  private readonly context: OtelApi["context"];
  private readonly trace: OtelApi["trace"];
  private readonly propagation: OtelApi["propagation"];
  private readonly rootContext: Context;
  /** Present when `startTracing` set the global SDK up with a trace-id-ratio sampler (root-sampling.ts). */
  private readonly roots: RootSampling | undefined;
  /** The PRODUCER span of the send in progress, between `send` and `sent` (sends are synchronous). */
  private openSend: Span | undefined;
  private messageSeq = 0;

  constructor(
    readonly api: OtelApi,
    option: Exclude<TracingOption, false>,
    private readonly nodeId: string,
    private readonly systemName: string,
    /** The NATS server the node's connection is on now, `host:port`. */
    private readonly currentServer: () => string | undefined = () => undefined,
  ) {
    const provider = option === true ? api.trace.getTracerProvider() : (option.tracerProvider ?? api.trace.getTracerProvider());
    this.tracer = provider.getTracer(TRACER_NAME);
    this.parentBased = (option === true ? undefined : option.parentBased) ?? samplerIsParentBased(process.env.OTEL_TRACES_SAMPLER);
    this.context = api.context;
    this.trace = api.trace;
    this.propagation = api.propagation;
    this.rootContext = api.ROOT_CONTEXT;
    this.roots = option === true || option.tracerProvider === undefined ? rootSampling() : undefined;
  }

  /** Runs `fn` with `context` active, as OpenTelemetry's `context.with`. */
  with<A extends unknown[], R>(context: Context, fn: (...args: A) => R, thisArg?: unknown, ...args: A): R {
    return this.context.with(context, fn, thisArg, ...args);
  }

  /** Starts a CLIENT span for an ask; returns it and the context in which its request is sent. */
  startAsk(requestName: string, target: Address): { span: Span; context: Context } {
    const { context, trace, SpanKind } = this.api;
    const span = this.tracer.startSpan(`ask ${requestName}`, { kind: SpanKind.CLIENT });
    if (span.isRecording()) span.setAttributes({ [Attr.operationName]: "ask", [Attr.actorPath]: target.path, [Attr.targetNode]: target.node, [Attr.nodeId]: this.nodeId, [Attr.systemName]: this.systemName });
    return { span, context: trace.setSpan(context.active(), span) };
  }

  /** Records a failure on a span: the exception, and an error status. */
  fail(span: Span, error: unknown): void {
    failSpan(this.api, span, error);
  }

  /**
   * The headers of a send that records nothing, decided without the SDK; undefined when the send needs
   * a PRODUCER span (`send`, called next). Under an unsampled span (the sampler following the parent),
   * a child span would be unsampled too: the trace context goes on unchanged (under a span of
   * `unsampledContext`, as the very bytes and header object it came with). Outside any trace, with
   * root sampling (root-sampling.ts), a new trace is drawn: unsampled, its bytes are all there is to it.
   */
  passOn(headers: Headers): Headers | undefined {
    const active = this.context.active();
    const parent = active.getValue(SPAN_KEY) as Span | undefined;
    if (parent !== undefined) {
      if (!this.parentBased || parent.isRecording() || this.propagation.getBaggage(active) !== undefined) return undefined;
      if (parent instanceof UnsampledSpan) return headers === undefined ? parent.headers() : withTraceContext(headers, parent.traceContext);
      // Another non-recording span (the SDK's, under a context that came with a tracestate): rare.
      const spanContext = parent.spanContext();
      const bytes = traceContextFromSpan(spanContext);
      if (bytes === undefined) return headers;
      const tracestate = spanContext.traceState?.serialize();
      return withTraceContext(tracestate ? { ...headers, tracestate } : headers, bytes);
    }
    const roots = this.roots;
    if (roots === undefined || this.propagation.getBaggage(active) !== undefined) return undefined;
    // A sampled one leaves its id in `roots.nextTraceId`, for the SDK's root span that `send` starts.
    const bytes = drawRoot(roots);
    return bytes === undefined ? undefined : withTraceContext(headers, bytes);
  }

  /**
   * A PRODUCER span for a send from the active context, when `passOn` found that it needs one;
   * returns the headers to send with it. The span stays open until `sent` gives it the body size
   * (when the message was encoded).
   */
  send(target: Address, destination: SendDestination, typeName: string, headers: Headers): Headers {
    const { context, propagation, trace } = this;
    const active = context.active();
    const roots = this.roots;
    const span = this.tracer.startSpan(`send ${destination.template}`, { kind: this.api.SpanKind.PRODUCER }, active);
    if (roots !== undefined) roots.nextTraceId = undefined;
    const recording = span.isRecording();
    if (!recording && this.parentBased && propagation.getBaggage(active) === undefined && trace.getSpan(active) === undefined) {
      // An unsampled root: its decision travels on, in binary.
      const bytes = traceContextFromSpan(span.spanContext());
      return bytes === undefined ? headers : withTraceContext(headers, bytes);
    }
    const carrier: Record<string, string> & { [TRACE_CONTEXT]?: Uint8Array } = { ...(headers as HeadersWithTraceContext) };
    if (recording) {
      const messageId = `${this.nodeId}-${++this.messageSeq}`;
      carrier[MESSAGE_ID_HEADER] = messageId;
      span.setAttributes({
        [Attr.system]: "nats",
        [Attr.destination]: destination.name,
        [Attr.destinationTemplate]: destination.template,
        [Attr.operationType]: "send",
        [Attr.operationName]: "send",
        [Attr.messageId]: messageId,
        [Attr.messageType]: typeName,
        [Attr.actorPath]: target.path,
        [Attr.targetNode]: target.node,
        [Attr.nodeId]: this.nodeId,
        [Attr.systemName]: this.systemName,
      });
      // Over NATS (the destination is a subject, not the local actor's path): which server took it.
      if (destination.name !== target.path) this.setServer(span);
    }
    // The propagator writes what travels as text (tracestate, baggage); the span's own context goes in
    // binary, in place of the `traceparent` it writes.
    propagation.inject(trace.setSpan(active, span), carrier, headerSetter);
    delete carrier.traceparent;
    const bytes = traceContextFromSpan(span.spanContext());
    if (bytes !== undefined) carrier[TRACE_CONTEXT] = bytes;
    else delete carrier[TRACE_CONTEXT];
    if (recording) {
      // A send that threw before `sent` left its span open: it ends now, as it did not go out.
      this.openSend?.end();
      this.openSend = span;
    } else {
      span.end();
    }
    return carrier;
  }

  /** `server.address` and `server.port` of the connection, on a span of a message that went over NATS. */
  private setServer(span: Span): void {
    const server = this.currentServer();
    if (server === undefined) return;
    const colon = server.lastIndexOf(":");
    const port = Number(server.slice(colon + 1));
    if (colon < 0 || !Number.isInteger(port)) {
      span.setAttribute(Attr.serverAddress, server);
      return;
    }
    span.setAttributes({ [Attr.serverAddress]: server.slice(0, colon).replace(/^\[|\]$/g, ""), [Attr.serverPort]: port });
  }

  /** The send `send` began has gone out: `bodyBytes` is its encoded payload, when it was encoded. */
  sent(bodyBytes: number | undefined): void {
    const span = this.openSend;
    if (span === undefined) return;
    this.openSend = undefined;
    if (bodyBytes !== undefined) span.setAttribute(Attr.bodySize, bodyBytes);
    span.end();
  }

  /** The send `send` began failed before it went out (unregistered type, too large). */
  sendFailed(error: unknown): void {
    const span = this.openSend;
    if (span === undefined) return;
    this.openSend = undefined;
    failSpan(this.api, span, error);
    span.end();
  }

  /**
   * What a message carrying `headers` is processed under when its span would not be sampled (the
   * sampler follows the parent, and the parent's trace flags say unsampled): the sender's context,
   * current for the handler's sends and spans, and no span of its own. Undefined otherwise: the
   * message needs `startProcess`. The binary trace context wins over a text `traceparent` (which a
   * plain NATS client may send instead: it is read into the same bytes).
   */
  unsampledContext(headers: Headers): UnsampledContext | undefined {
    if (!this.parentBased || headers === undefined) return undefined;
    const bytes = traceContextOf(headers) ?? traceContextFromTraceparent(headers.traceparent);
    if (bytes === undefined || isSampledTraceContext(bytes) || headers.tracestate !== undefined || headers.baggage !== undefined) return undefined;
    return new UnsampledContext(new UnsampledSpan(bytes), this.rootContext);
  }

  /**
   * The context a message carrying `headers` continues: the text headers through the propagator (a
   * plain client's `traceparent`, `tracestate`, baggage), then the binary trace context, which wins,
   * with the `tracestate` header as its trace state.
   */
  private parentOf(headers: Headers): Context {
    const active = this.context.active();
    if (headers === undefined) return active;
    const extracted = this.propagation.extract(active, headers, headerGetter);
    const bytes = traceContextOf(headers);
    if (bytes === undefined) return extracted;
    const tracestate = headers.tracestate;
    return this.trace.setSpanContext(extracted, spanContextOf(bytes, tracestate === undefined ? undefined : this.api.createTraceState(tracestate)));
  }

  /** Starts the CONSUMER span of processing a message at `path`; the caller ends it when the handler settles. */
  startProcess(path: string, kind: string | undefined, typeName: string, headers: Headers): { span: Span; context: Context } {
    const unsampled = this.unsampledContext(headers);
    if (unsampled !== undefined) return unsampled;
    const { SpanKind } = this.api;
    const parent = this.parentOf(headers);
    const template = actorTemplate(path, kind);
    const span = this.tracer.startSpan(`process ${template}`, { kind: SpanKind.CONSUMER }, parent);
    if (span.isRecording()) {
      span.setAttributes({
        [Attr.system]: "nats",
        [Attr.destination]: path,
        [Attr.destinationTemplate]: template,
        [Attr.operationType]: "process",
        [Attr.operationName]: "process",
        [Attr.messageType]: typeName,
        [Attr.actorPath]: path,
        [Attr.nodeId]: this.nodeId,
        [Attr.systemName]: this.systemName,
      });
      if (kind !== undefined) span.setAttribute(Attr.actorKind, kind);
      const messageId = headers?.[MESSAGE_ID_HEADER];
      if (messageId !== undefined) span.setAttribute(Attr.messageId, messageId);
    }
    return { span, context: this.trace.setSpan(parent, span) };
  }

  /** A short span for something that happened to a message rather than with it (a dead letter). */
  event(name: string, headers: Headers, attributes: Record<string, string | number>, error: boolean): void {
    const { SpanKind, SpanStatusCode } = this.api;
    const span = this.tracer.startSpan(name, { kind: SpanKind.INTERNAL }, this.parentOf(headers));
    if (!span.isRecording()) return span.end();
    span.setAttributes({ ...attributes, [Attr.nodeId]: this.nodeId, [Attr.systemName]: this.systemName });
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: String(attributes["troupe.reason"] ?? name) });
    span.end();
  }

  /** The context carried by `headers`, to run something on behalf of that message. */
  contextFrom(headers: Readonly<Record<string, string>>): Context {
    return this.parentOf(headers);
  }

  /** The span context carried by `headers`, as a link (fan-in: what a checkpoint merged). */
  linkFrom(headers: Headers): Link | undefined {
    if (headers === undefined) return undefined;
    const spanContext = this.trace.getSpanContext(this.parentOf(headers));
    return spanContext ? { context: spanContext } : undefined;
  }
}

/**
 * The low-cardinality name of an actor as a destination: its kind, or else its path with the parts
 * that vary per instance templated (generated `$` names, the parent's node of a remote child).
 */
export function actorTemplate(path: string, kind: string | undefined): string {
  if (kind !== undefined) return kind;
  return path.replace(/^\/remote\/[^/]+/, "/remote/{node}").replace(/\/\$[^/]*/g, "/{id}");
}

/** Whether the sampler `OTEL_TRACES_SAMPLER` names follows the parent's decision (unset: the SDK's parentbased_always_on). */
export function samplerIsParentBased(sampler: string | undefined): boolean {
  return sampler === undefined || sampler === "" || sampler.startsWith("parentbased_");
}

/** Records a failure on a span: the exception, and an error status. */
export function failSpan(api: OtelApi, span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : new Error(String(error)));
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
