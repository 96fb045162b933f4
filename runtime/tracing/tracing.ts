import type { Context, Link, Span, Tracer, TracerProvider } from "@opentelemetry/api";
import type { Address } from "../address.js";
import type { OtelApi } from "./otel-api.js";

export type Headers = Readonly<Record<string, string>> | undefined;

/** How a system traces: on with the global tracer provider (`true`), or with one of the user's. */
export type TracingOption = boolean | { readonly tracerProvider?: TracerProvider };

export const TRACER_NAME = "troupe";

/** Attribute names: OpenTelemetry's messaging conventions, plus Troupe's own under `troupe.`. */
export const Attr = {
  system: "messaging.system",
  destination: "messaging.destination.name",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  messageType: "troupe.message.type",
  actorPath: "troupe.actor.path",
  targetNode: "troupe.target.node",
  nodeId: "troupe.node.id",
  systemName: "troupe.system",
} as const;

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
 * context travels in the message's headers (W3C trace context), every processing a CONSUMER span
 * whose parent is that context, active while the handler runs so that the user's spans nest under it.
 * It holds the OpenTelemetry API, loaded when the system started (`loadOtelApi`): untraced code never
 * touches it.
 */
export class Tracing {
  readonly tracer: Tracer;

  constructor(
    readonly api: OtelApi,
    option: Exclude<TracingOption, false>,
    private readonly nodeId: string,
    private readonly systemName: string,
  ) {
    const provider = option === true ? api.trace.getTracerProvider() : (option.tracerProvider ?? api.trace.getTracerProvider());
    this.tracer = provider.getTracer(TRACER_NAME);
  }

  /** Runs `fn` with `context` active, as OpenTelemetry's `context.with`. */
  with<A extends unknown[], R>(context: Context, fn: (...args: A) => R, thisArg?: unknown, ...args: A): R {
    return this.api.context.with(context, fn, thisArg, ...args);
  }

  /** Starts a CLIENT span for an ask; returns it and the context in which its request is sent. */
  startAsk(requestName: string, target: Address): { span: Span; context: Context } {
    const { context, trace, SpanKind } = this.api;
    const span = this.tracer.startSpan(`ask ${requestName}`, { kind: SpanKind.CLIENT, attributes: { [Attr.actorPath]: target.path, [Attr.targetNode]: target.node, [Attr.nodeId]: this.nodeId } });
    return { span, context: trace.setSpan(context.active(), span) };
  }

  /** Records a failure on a span: the exception, and an error status. */
  fail(span: Span, error: unknown): void {
    failSpan(this.api, span, error);
  }

  /** A PRODUCER span for a send from the active context; returns the headers to send with it. */
  send(target: Address, destination: string, typeName: string, headers: Headers): Record<string, string> {
    const { context, propagation, trace, SpanKind } = this.api;
    const span = this.tracer.startSpan(
      `send ${typeName}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          [Attr.system]: "nats",
          [Attr.destination]: destination,
          [Attr.operationType]: "send",
          [Attr.operationName]: "send",
          [Attr.messageType]: typeName,
          [Attr.actorPath]: target.path,
          [Attr.targetNode]: target.node,
          [Attr.nodeId]: this.nodeId,
          [Attr.systemName]: this.systemName,
        },
      },
      context.active(),
    );
    const carrier: Record<string, string> = { ...headers };
    propagation.inject(trace.setSpan(context.active(), span), carrier, headerSetter);
    span.end();
    return carrier;
  }

  /** Starts the CONSUMER span of processing a message at `path`; the caller ends it when the handler settles. */
  startProcess(path: string, typeName: string, headers: Headers): { span: Span; context: Context } {
    const { context, propagation, trace, SpanKind } = this.api;
    const parent = headers === undefined ? context.active() : propagation.extract(context.active(), headers, headerGetter);
    const span = this.tracer.startSpan(
      `process ${typeName}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          [Attr.system]: "nats",
          [Attr.destination]: path,
          [Attr.operationType]: "process",
          [Attr.operationName]: "process",
          [Attr.messageType]: typeName,
          [Attr.actorPath]: path,
          [Attr.nodeId]: this.nodeId,
          [Attr.systemName]: this.systemName,
        },
      },
      parent,
    );
    return { span, context: trace.setSpan(parent, span) };
  }

  /** A short span for something that happened to a message rather than with it (a dead letter). */
  event(name: string, headers: Headers, attributes: Record<string, string | number>, error: boolean): void {
    const { context, propagation, SpanKind, SpanStatusCode } = this.api;
    const parent = headers === undefined ? context.active() : propagation.extract(context.active(), headers, headerGetter);
    const span = this.tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes: { ...attributes, [Attr.nodeId]: this.nodeId, [Attr.systemName]: this.systemName } }, parent);
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: String(attributes["troupe.reason"] ?? name) });
    span.end();
  }

  /** The context carried by `headers`, to run something on behalf of that message. */
  contextFrom(headers: Readonly<Record<string, string>>): Context {
    const { context, propagation } = this.api;
    return propagation.extract(context.active(), headers, headerGetter);
  }

  /** The span context carried by `headers`, as a link (fan-in: what a checkpoint merged). */
  linkFrom(headers: Headers): Link | undefined {
    if (headers === undefined) return undefined;
    const { context, propagation, trace } = this.api;
    const spanContext = trace.getSpanContext(propagation.extract(context.active(), headers, headerGetter));
    return spanContext ? { context: spanContext } : undefined;
  }
}

/** Records a failure on a span: the exception, and an error status. */
export function failSpan(api: OtelApi, span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : new Error(String(error)));
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
