import { SpanKind, SpanStatusCode, context, propagation, trace, type Context, type Link, type Span, type Tracer, type TracerProvider } from "@opentelemetry/api";
import type { Address } from "../address.js";

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
 */
export class Tracing {
  readonly tracer: Tracer;

  constructor(
    option: Exclude<TracingOption, false>,
    private readonly nodeId: string,
    private readonly systemName: string,
  ) {
    const provider = option === true ? trace.getTracerProvider() : (option.tracerProvider ?? trace.getTracerProvider());
    this.tracer = provider.getTracer(TRACER_NAME);
  }

  /** A PRODUCER span for a send from the active context; returns the headers to send with it. */
  send(target: Address, destination: string, typeName: string, headers: Headers): Record<string, string> {
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
    const parent = headers === undefined ? context.active() : propagation.extract(context.active(), headers, headerGetter);
    const span = this.tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes: { ...attributes, [Attr.nodeId]: this.nodeId, [Attr.systemName]: this.systemName } }, parent);
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: String(attributes["troupe.reason"] ?? name) });
    span.end();
  }

  /** The context carried by `headers`, to run something on behalf of that message. */
  contextFrom(headers: Readonly<Record<string, string>>): Context {
    return propagation.extract(context.active(), headers, headerGetter);
  }

  /** The span context carried by `headers`, as a link (fan-in: what a checkpoint merged). */
  linkFrom(headers: Headers): Link | undefined {
    if (headers === undefined) return undefined;
    const spanContext = trace.getSpanContext(propagation.extract(context.active(), headers, headerGetter));
    return spanContext ? { context: spanContext } : undefined;
  }
}

/** Records a failure on a span: the exception, and an error status. */
export function failSpan(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : new Error(String(error)));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
