import type { Context, Link, Span, Tracer, TracerProvider } from "@opentelemetry/api";
import type { Address } from "../address.js";
import type { OtelApi } from "./otel-api.js";
import { TRACE_CONTEXT, TRACE_CONTEXT_BYTES, isSampledTraceContext, traceContextOf, traceContextValueOf, withTraceContext, type DeferredTraceContext, type HeadersWithTraceContext, type TraceContextValue } from "../codec/trace-context.js";
import { spanContextOf, traceContextFromSpan, traceContextFromTraceparent } from "./binary-context.js";
import { rootSampling, sampleRoot, type RootSampling } from "./root-sampling.js";
import { SPAN_KEY, UnsampledContext } from "./unsampled-context.js";
import { SpanOnlyContext } from "./span-only-context.js";
import { MAKE_CONTEXT, contextOf, fastContextManager, isOnDemand, type ContextOnDemand, type FastContextManager } from "./context-manager-slot.js";

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

/**
 * The header in which nodes before commit a9141d6 sent a sampled message's id (`<node>-<n>`), still
 * read. A message's id is its PRODUCER span's id, which its trace context carries anyway.
 */
export const MESSAGE_ID_HEADER = "troupe-message-id";

/** The constructor of `async function`s: their awaits need the context in AsyncLocalStorage. */
const AsyncFunction = (async () => undefined).constructor;

/** What the propagators write when they are the SDK's default ones (W3C trace context and baggage). */
const DEFAULT_FIELDS = "baggage,traceparent,tracestate";

/** A send's PRODUCER span, open between `send` and `sent` or `sendFailed`. */
export interface OpenSend {
  readonly headers: Headers;
  /** Undefined when the span records nothing (it has ended already). */
  readonly span: Span | undefined;
}

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
  /** Whether this system uses the global tracer provider, so `startTracing`'s context manager if it installed one. */
  private readonly global: boolean;
  /** Whether the propagators write more than the W3C trace context and baggage (OTEL_PROPAGATORS, a user's own). */
  private readonly otherPropagators: boolean;
  /** Low-cardinality span names and templates, made once each (bounded: see `cached`). */
  private readonly sendNames = new Map<string, string>();
  private readonly processNames = new Map<string, { template: string; name: string }>();
  /**
   * An unsampled trace whose ids nobody has drawn: the encoder writes `NO_IDS` for it, and whoever
   * reads its bytes (a dead letter's span) gets fresh ones, as nothing else has seen them. One object
   * for every such trace: what tells them apart is the message that carries it (below).
   */
  private readonly noIds: DeferredTraceContext;
  /**
   * The headers of a new unsampled trace from outside any trace, of a message that arrived with
   * `NO_IDS`, and of a send under one nobody has looked at: `noIds` alone, the same object every time.
   */
  private readonly noIdsHeaders: HeadersWithTraceContext;
  /**
   * What a message carrying `noIds` is processed under: a context made only if something reads the
   * active one during its handler (`ContextOnDemand`), and no span of its own. Most handlers of such
   * a message send nothing and log nothing: for them the trace costs no object on either side.
   */
  private readonly onDemand: { readonly span: Span; readonly context: ContextOnDemand };
  /** The last `server.address`/`server.port` parsed, and the text it came from. */
  private server: { readonly text: string; readonly address: string; readonly port: number | undefined } | undefined;

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
    const global = option === true || option.tracerProvider === undefined;
    this.global = global;
    this.otherPropagators = [...api.propagation.fields()].sort().join(",") !== DEFAULT_FIELDS;
    const root = this.rootContext;
    const begin = (): UnsampledContext => UnsampledContext.begun(root, this.roots?.upperBound ?? 0);
    this.noIds = Object.freeze({
      hasIds: false,
      get traceContext(): Uint8Array {
        return begin().traceContext;
      },
      writeTraceContext: (to: Uint8Array, at: number) => begin().writeTraceContext(to, at),
    });
    this.noIdsHeaders = Object.freeze({ [TRACE_CONTEXT]: this.noIds });
    this.onDemand = Object.freeze({ span: api.trace.wrapSpanContext(api.INVALID_SPAN_CONTEXT), context: Object.freeze({ [MAKE_CONTEXT]: begin }) });
  }

  /**
   * Root sampling, when `startTracing` set the global SDK up with a trace-id-ratio sampler
   * (root-sampling.ts): looked up each time (one global slot), as tracing may be started again.
   */
  private get roots(): RootSampling | undefined {
    return this.global ? rootSampling() : undefined;
  }

  /**
   * `startTracing`'s context manager, when it installed one: looked up each time (one global slot), as
   * tracing may be stopped and started again while this system runs.
   */
  private manager(): FastContextManager | undefined {
    return this.global ? fastContextManager() : undefined;
  }

  /** The active context: through `startTracing`'s manager when it is there, without the API's global lookup. */
  private active(): Context {
    const manager = this.manager();
    return manager === undefined ? this.context.active() : manager.active();
  }

  /**
   * Runs a handler with `context` (from `unsampledContext` or `startProcess`) active. An unsampled
   * message's, for a handler that is not an `async` function, is active for the handler's synchronous
   * run only, without AsyncLocalStorage, when `startTracing` installed its context manager
   * (troupe-context-manager.ts): what the handler sends and the spans it starts follow it; callbacks
   * it leaves behind do not.
   */
  runHandler<S, M, C, R>(context: Context | ContextOnDemand, handler: (state: S, message: M, ctx: C) => R, state: S, message: M, ctx: C): R {
    const manager = this.manager();
    if (manager !== undefined && (context === this.onDemand.context || context instanceof UnsampledContext) && handler.constructor !== AsyncFunction) return manager.runSync(context, handler, state, message, ctx);
    // AsyncLocalStorage keeps what it is given for every continuation: a context on demand is made now.
    return this.context.with(contextOf(context), handler, undefined, state, message, ctx);
  }

  /**
   * The context a message's handler runs under (from `unsampledContext` or `startProcess`): a context
   * on demand stays one for a synchronous handler under `startTracing`'s manager (`runHandler`), and is
   * made now for any other, so that the handler and what follows it (`with`) share one.
   */
  handlerContext(context: Context | ContextOnDemand, handler: (...args: never[]) => unknown): Context | ContextOnDemand {
    if (context !== this.onDemand.context || (this.manager() !== undefined && handler.constructor !== AsyncFunction)) return context;
    return contextOf(context);
  }

  /**
   * What a handler's run under `context` (from `handlerContext`) leaves for what follows it, a failure's
   * report: a context on demand that the run read is the context it made (one per message), else
   * still on demand. Call it as soon as `runHandler` returns: the manager remembers only its last run,
   * and a returned promise settles after other messages' runs.
   */
  ranUnder(context: Context | ContextOnDemand): Context | ContextOnDemand {
    return isOnDemand(context) ? (this.manager()?.madeInLastRun() ?? context) : context;
  }

  /** Runs `fn` with `context` active (made now if on demand), as OpenTelemetry's `context.with`. */
  with<A extends unknown[], R>(context: Context | ContextOnDemand, fn: (...args: A) => R, thisArg?: unknown, ...args: A): R {
    return this.context.with(contextOf(context), fn, thisArg, ...args);
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
   * `unsampledContext`, as the very bytes and header object it came with; under a context on demand
   * that nothing has read, as the constant headers without ids). Outside any trace, with root sampling
   * (root-sampling.ts), a new trace is decided: unsampled, the constant headers without ids carry it.
   */
  passOn(headers: Headers): Headers | undefined {
    const manager = this.manager();
    const current = manager === undefined ? this.context.active() : manager.activeOrOnDemand();
    // Under a message's trace that nobody has looked at (its handler's send): that trace, still without ids.
    if (isOnDemand(current)) return this.parentBased ? this.withNoIds(headers) : undefined;
    // Outside any context (a tell from plain code): no span, no baggage.
    if (current === this.rootContext) {
      const roots = this.roots;
      if (roots !== undefined) return this.beginTrace(headers, roots);
    }
    return this.passOnUnder(current, headers);
  }

  /** `passOn` under a context that holds something: a span, baggage, or values of the user's. */
  private passOnUnder(active: Context, headers: Headers): Headers | undefined {
    const roots = this.roots;
    const parent = active.getValue(SPAN_KEY) as Span | undefined;
    if (parent !== undefined) {
      if (!this.parentBased || parent.isRecording() || this.propagation.getBaggage(active) !== undefined) return undefined;
      if (parent instanceof UnsampledContext) return headers === undefined ? parent.headers() : withTraceContext(headers, parent);
      // Another non-recording span (the SDK's, under a context that came with a tracestate; a remote
      // context made current): rare. A sampled one's sends get PRODUCER spans of their own.
      const spanContext = parent.spanContext();
      if ((spanContext.traceFlags & 1) === 1) return undefined;
      const bytes = traceContextFromSpan(spanContext);
      if (bytes === undefined) return headers;
      const tracestate = spanContext.traceState?.serialize();
      return withTraceContext(tracestate ? { ...headers, tracestate } : headers, bytes);
    }
    if (roots === undefined || this.propagation.getBaggage(active) !== undefined) return undefined;
    return this.beginTrace(headers, roots);
  }

  /**
   * A new trace, decided by root sampling: unsampled, the headers that carry it without ids (drawn
   * where something asks for them: the receiver makes its context on demand); sampled, undefined, with
   * its id left in `roots.nextTraceId` for the SDK's root span that `send` starts.
   */
  private beginTrace(headers: Headers, roots: RootSampling): Headers | undefined {
    if (sampleRoot(roots)) return undefined;
    return this.withNoIds(headers);
  }

  /** Drops the id of a sampled root that `passOn` drew, when its send failed before its span started. */
  forgetDrawnRoot(): void {
    const roots = this.roots;
    if (roots !== undefined) roots.nextTraceId = undefined;
  }

  /** `headers` carrying an unsampled trace without ids (`noIds`): the constant headers when there are no others. */
  private withNoIds(headers: Headers): HeadersWithTraceContext {
    return headers === undefined ? this.noIdsHeaders : withTraceContext(headers, this.noIds);
  }

  /**
   * A PRODUCER span for a send from the active context, when `passOn` found that it needs one; returns
   * the headers to send with it and the span, which stays open until `sent` gives it the body size
   * (when the message was encoded) or `sendFailed` its error.
   */
  send(target: Address, destination: SendDestination, typeName: string, headers: Headers): OpenSend {
    const { propagation, trace } = this;
    const active = this.active();
    const roots = this.roots;
    const baggage = propagation.getBaggage(active) !== undefined;
    const span = this.tracer.startSpan(this.sendName(destination.template), { kind: this.api.SpanKind.PRODUCER }, active);
    if (roots !== undefined) roots.nextTraceId = undefined;
    const recording = span.isRecording();
    if (!recording && this.parentBased && !baggage && trace.getSpan(active) === undefined) {
      // An unsampled root: its decision travels on, in binary.
      const bytes = traceContextFromSpan(span.spanContext());
      return { headers: bytes === undefined ? headers : withTraceContext(headers, bytes), span: undefined };
    }
    const carrier: Record<string, string> & { [TRACE_CONTEXT]?: TraceContextValue } = { ...(headers as HeadersWithTraceContext) };
    // An older node's id for the message these headers came with (forwarded as they are): not this one's.
    if (carrier[MESSAGE_ID_HEADER] !== undefined) delete carrier[MESSAGE_ID_HEADER];
    if (recording) {
      // The PRODUCER span's id: one per message sent, and the receiver reads it from the trace context.
      const messageId = span.spanContext().spanId;
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
    const spanContext = span.spanContext();
    if (this.otherPropagators || baggage) {
      // The propagators write what travels as text (tracestate, baggage, other formats); the span's own
      // context goes in binary, in place of the `traceparent` they write.
      propagation.inject(trace.setSpan(active, span), carrier, headerSetter);
      delete carrier.traceparent;
    } else {
      // What the W3C propagator would write besides `traceparent`, without it.
      const tracestate = spanContext.traceState?.serialize();
      if (tracestate) carrier.tracestate = tracestate;
    }
    const bytes = traceContextFromSpan(spanContext);
    if (bytes !== undefined) carrier[TRACE_CONTEXT] = bytes;
    else delete carrier[TRACE_CONTEXT];
    if (recording) return { headers: carrier, span };
    span.end();
    return { headers: carrier, span: undefined };
  }

  /** `send <template>`, made once per template. */
  private sendName(template: string): string {
    let name = this.sendNames.get(template);
    if (name === undefined) cached(this.sendNames, template, (name = `send ${template}`));
    return name;
  }

  /** `server.address` and `server.port` of the connection, on a span of a message that went over NATS. */
  private setServer(span: Span): void {
    const text = this.currentServer();
    if (text === undefined) return;
    let server = this.server;
    if (server === undefined || server.text !== text) {
      const colon = text.lastIndexOf(":");
      const port = Number(text.slice(colon + 1));
      server = this.server = colon < 0 || !Number.isInteger(port) ? { text, address: text, port: undefined } : { text, address: text.slice(0, colon).replace(/^\[|\]$/g, ""), port };
    }
    span.setAttribute(Attr.serverAddress, server.address);
    if (server.port !== undefined) span.setAttribute(Attr.serverPort, server.port);
  }

  /** The send of `span` (from `send`) has gone out: `bodyBytes` is its encoded payload, when it was encoded. */
  sent(span: Span | undefined, bodyBytes: number | undefined): void {
    if (span === undefined) return;
    if (bodyBytes !== undefined) span.setAttribute(Attr.bodySize, bodyBytes);
    span.end();
  }

  /** The send of `span` (from `send`) failed before it went out (unregistered type, too large). */
  sendFailed(span: Span | undefined, error: unknown): void {
    if (span === undefined) return;
    failSpan(this.api, span, error);
    span.end();
  }

  /**
   * What a message carrying `headers` is processed under when its span would not be sampled (the
   * sampler follows the parent, and the parent's trace flags say unsampled): the sender's context,
   * current for the handler's sends and spans, and no span of its own. Undefined otherwise: the
   * message needs `startProcess`. The binary trace context wins over a text `traceparent` (which a
   * plain NATS client may send instead: it is read into the same bytes). A message with no trace at
   * all begins one (`beginOnArrival`).
   */
  unsampledContext(headers: Headers): { readonly span: Span; readonly context: Context | ContextOnDemand } | undefined {
    // The usual unsampled message: its trace without ids, nothing else (one constant object). The rest
    // apart, so that the compiler, inlining this into the loop that runs handlers, inlines little.
    return headers === this.noIdsHeaders && this.parentBased ? this.onDemand : this.unsampledContextOf(headers);
  }

  private unsampledContextOf(headers: Headers): { readonly span: Span; readonly context: Context | ContextOnDemand } | undefined {
    if (!this.parentBased) return undefined;
    if (headers === undefined) return this.beginOnArrival();
    const value = traceContextValueOf(headers);
    if (headers.tracestate !== undefined || headers.baggage !== undefined) return undefined;
    // Sent on this node under an unsampled trace: the sender's context is this message's.
    if (value instanceof UnsampledContext) return value;
    // Without ids (from this node or another): its context is made if the handler asks for it.
    if (value === this.noIds) return this.onDemand;
    if (value === undefined && headers.traceparent === undefined) return this.beginOnArrival();
    const bytes = value === undefined ? traceContextFromTraceparent(headers.traceparent) : value instanceof Uint8Array ? value : value.traceContext;
    if (bytes === undefined || isSampledTraceContext(bytes)) return undefined;
    return UnsampledContext.of(bytes, this.rootContext);
  }

  /**
   * A message that carries no trace (from a plain NATS client, or a node that does not trace) and is
   * processed outside any trace here begins one, decided by root sampling as a send from plain code
   * is: unsampled, under a context made on demand, with no SDK span at all; sampled, undefined, and
   * `startProcess` starts the root with the id `sampleRoot` drew. Undefined too where the decision is
   * not Troupe's (no ratio sampler of `startTracing`'s) or other propagators may find a context in
   * the text headers.
   */
  private beginOnArrival(): { readonly span: Span; readonly context: ContextOnDemand } | undefined {
    const roots = this.roots;
    if (roots === undefined || this.otherPropagators) return undefined;
    const manager = this.manager();
    if ((manager === undefined ? this.context.active() : manager.activeOrOnDemand()) !== this.rootContext) return undefined;
    return sampleRoot(roots) ? undefined : this.onDemand;
  }

  /**
   * What a message received over NATS carries under `TRACE_CONTEXT`, from its trace context (valid: 29
   * bytes at `at` in `frame`): when it is unsampled, the context it will be processed under
   * (`unsampledContext`), its ids read into it; else a copy of the bytes.
   */
  received(frame: Uint8Array, at: number, headers: Headers): TraceContextValue {
    if (this.parentBased && !isSampledTraceContext(frame, at) && headers?.tracestate === undefined && headers?.baggage === undefined) return UnsampledContext.of(frame, this.rootContext, at);
    // A copy (a Buffer's `slice` would be a view): what keeps the context must not keep the frame.
    return new Uint8Array(frame.subarray(at, at + TRACE_CONTEXT_BYTES));
  }

  /**
   * The headers of a message that arrived with `NO_IDS` (an unsampled trace nobody looked at upstream),
   * given its text `headers` (the reader's own object, or undefined): they carry `noIds`, and the
   * message is processed under a context made on demand. Unchanged when this node's sampler does not
   * follow the parent (the message then starts a trace of its own, as one with no context would), or
   * text headers carry a trace state or baggage.
   */
  receivedWithoutIds(headers: Headers): Headers {
    if (!this.parentBased || headers?.tracestate !== undefined || headers?.baggage !== undefined) return headers;
    if (headers === undefined) return this.noIdsHeaders;
    (headers as Record<symbol, unknown>)[TRACE_CONTEXT] = this.noIds;
    return headers;
  }

  /**
   * The context a message carrying `headers` continues: the text headers through the propagator (a
   * plain client's `traceparent`, `tracestate`, baggage), then the binary trace context, which wins,
   * with the `tracestate` header as its trace state.
   */
  private parentOf(headers: Headers): Context {
    const active = this.active();
    if (headers === undefined) return active;
    // The default propagators read only these: without them, there is nothing to extract.
    const text = this.otherPropagators || headers.traceparent !== undefined || headers.tracestate !== undefined || headers.baggage !== undefined;
    const extracted = text ? this.propagation.extract(active, headers, headerGetter) : active;
    const bytes = traceContextOf(headers);
    if (bytes === undefined) return extracted;
    const tracestate = headers.tracestate;
    const spanContext = spanContextOf(bytes, tracestate === undefined ? undefined : this.api.createTraceState(tracestate));
    return this.withSpan(extracted, this.trace.wrapSpanContext(spanContext));
  }

  /** `base` with `span` as its span: one small object when `base` holds nothing else (SpanOnlyContext). */
  private withSpan(base: Context, span: Span): Context {
    return base === this.rootContext || base instanceof SpanOnlyContext ? new SpanOnlyContext(span, this.rootContext) : this.trace.setSpan(base, span);
  }

  /**
   * Starts the CONSUMER span of processing a message at `path`, once `unsampledContext` found that it
   * needs one; the caller ends it when the handler settles.
   */
  startProcess(path: string, kind: string | undefined, typeName: string, headers: Headers): { span: Span; context: Context } {
    const { SpanKind } = this.api;
    const parent = this.parentOf(headers);
    const { template, name } = this.processName(path, kind);
    const span = this.tracer.startSpan(name, { kind: SpanKind.CONSUMER }, parent);
    // A root that `beginOnArrival` sampled has taken its id; nothing else may.
    if (this.roots !== undefined) this.roots.nextTraceId = undefined;
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
      const messageId = headers?.[MESSAGE_ID_HEADER] ?? sentMessageId(headers, parent, this.trace);
      if (messageId !== undefined) span.setAttribute(Attr.messageId, messageId);
    }
    return { span, context: this.withSpan(parent, span) };
  }

  /** `process <template>` of an actor, made once per path and kind. */
  private processName(path: string, kind: string | undefined): { template: string; name: string } {
    const key = kind === undefined ? path : `${path}\u0000${kind}`;
    let names = this.processNames.get(key);
    if (names === undefined) {
      const template = actorTemplate(path, kind);
      cached(this.processNames, key, (names = { template, name: `process ${template}` }));
    }
    return names;
  }

  /** A short span for something that happened to a message rather than with it (a dead letter). */
  event(name: string, headers: Headers, attributes: Record<string, string | number>, error: boolean): void {
    // In an unsampled trace without ids (a parent-based sampler would not record it): nothing to do.
    if (this.parentBased && traceContextValueOf(headers) === this.noIds && headers?.tracestate === undefined && headers?.baggage === undefined) return;
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
 * The id of a message that carries a sampled binary trace context: the span in `parent` (the process
 * span's parent), which a node writes only from the message's PRODUCER span. Undefined otherwise: a
 * text `traceparent`, or an unsampled context, may be shared by many messages.
 */
function sentMessageId(headers: Headers, parent: Context, trace: OtelApi["trace"]): string | undefined {
  const bytes = traceContextValueOf(headers);
  if (!(bytes instanceof Uint8Array) || !isSampledTraceContext(bytes)) return undefined;
  return trace.getSpanContext(parent)?.spanId;
}

/** Most entries a name cache holds: past that it starts again (paths of short-lived actors would grow it forever). */
const NAME_CACHE_ENTRIES = 1_024;

function cached<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= NAME_CACHE_ENTRIES) cache.clear();
  cache.set(key, value);
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
