import { appendFileSync } from "node:fs";
import { SpanKind, SpanStatusCode, type HrTime } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";

/** One span as a line of the trace file: what `troupe trace` reads. */
export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: string;
  /** Milliseconds since the Unix epoch, fractional. */
  readonly startMs: number;
  readonly durationMs: number;
  readonly status: { readonly code: "UNSET" | "OK" | "ERROR"; readonly message?: string };
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly events: readonly { readonly name: string; readonly timeMs: number; readonly attributes: Readonly<Record<string, unknown>> }[];
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
  readonly resource: Readonly<Record<string, unknown>>;
}

const hrMs = (t: HrTime): number => t[0] * 1_000 + t[1] / 1_000_000;

export function toSpanRecord(span: ReadableSpan): SpanRecord {
  const context = span.spanContext();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    ...(span.parentSpanContext ? { parentSpanId: span.parentSpanContext.spanId } : {}),
    name: span.name,
    kind: SpanKind[span.kind],
    startMs: hrMs(span.startTime),
    durationMs: hrMs(span.duration),
    status: { code: (["UNSET", "OK", "ERROR"] as const)[span.status.code] ?? "UNSET", ...(span.status.code === SpanStatusCode.ERROR && span.status.message ? { message: span.status.message } : {}) },
    attributes: { ...span.attributes },
    events: span.events.map((e) => ({ name: e.name, timeMs: hrMs(e.time), attributes: { ...e.attributes } })),
    links: span.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
    resource: { ...span.resource.attributes },
  };
}

/**
 * Writes each span as one JSON line appended to `path`. Several processes (a run's coordinator and
 * its workers) can share one file: each batch is a single append, so lines never interleave.
 */
export class FileSpanExporter implements SpanExporter {
  constructor(readonly path: string) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    try {
      if (spans.length > 0) appendFileSync(this.path, spans.map((s) => `${JSON.stringify(toSpanRecord(s))}\n`).join(""));
      done({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      done({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}
