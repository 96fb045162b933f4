import { TraceFlags, type Context } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { BatchSpanProcessor, type ReadableSpan, type Span, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { BatchOptions } from "./trace-export-env.js";

/** What became of the spans sent to one destination. */
export interface ExportTally {
  readonly destination: string;
  /** Sampled spans that ended while the pipeline was open. */
  readonly ended: number;
  readonly exported: number;
  /** Handed to the exporter, which reported a failure (collector down, wrong protocol, ...). */
  readonly failed: number;
  /** Never handed to the exporter: the queue was full, or the shutdown deadline came first. */
  readonly dropped: number;
  /** The first export failure, when there was one. */
  readonly firstError?: string;
}

/**
 * One export destination (a file, a collector) behind a BatchSpanProcessor, with its spans counted:
 * the SDK's processor drops spans when its queue is full and only says so through the diag logger,
 * and an exporter's failures go to the global error handler, silent by default. Counting at both ends
 * (spans ended, spans the exporter answered for) uses only the stable processor and exporter
 * interfaces. The first failure is reported at once, as one line; the rest only in the tally.
 */
export class AccountedExport {
  readonly processor: SpanProcessor;
  private ended = 0;
  private exported = 0;
  private failed = 0;
  private firstError: string | undefined;

  /** `exporter` may still be loading (a lazily imported package); spans wait for it. */
  constructor(
    readonly destination: string,
    exporter: SpanExporter | Promise<SpanExporter>,
    batch: BatchOptions,
    private readonly report: (line: string) => void,
  ) {
    const counted = new CountingExporter(exporter, (count, result) => this.onExported(count, result));
    this.processor = new CountingProcessor(new BatchSpanProcessor(counted, batch), () => this.ended++);
  }

  tally(): ExportTally {
    const dropped = Math.max(0, this.ended - this.exported - this.failed);
    return { destination: this.destination, ended: this.ended, exported: this.exported, failed: this.failed, dropped, ...(this.firstError ? { firstError: this.firstError } : {}) };
  }

  private onExported(count: number, result: ExportResult): void {
    if (result.code === ExportResultCode.SUCCESS) {
      this.exported += count;
      return;
    }
    this.failed += count;
    if (this.firstError !== undefined) return;
    this.firstError = describe(result.error);
    this.report(`cannot export spans to ${this.destination}: ${this.firstError} (reported once; lost spans are counted at shutdown)`);
  }
}

/** The error's message on one line (gRPC's carry trailing details), with a cause that says more. */
function describe(error: Error | undefined): string {
  if (!error) return "the exporter reported a failure";
  const cause = (error as { cause?: { message?: unknown } }).cause?.message;
  const text = [error.message || error.name, typeof cause === "string" && !error.message.includes(cause) ? cause : undefined].filter(Boolean).join(": ");
  return text.replace(/\s+/g, " ").replace(/[.;:\s]*(Resolution note:)?[.;:\s]*$/, "");
}

/** Counts the sampled spans it passes on: exactly those a BatchSpanProcessor would queue. */
class CountingProcessor implements SpanProcessor {
  private closed = false;

  constructor(
    private readonly inner: SpanProcessor,
    private readonly onQueued: () => void,
  ) {}

  onStart(span: Span, parentContext: Context): void {
    this.inner.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    if (!this.closed && (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0) this.onQueued();
    this.inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    this.closed = true;
    return this.inner.shutdown();
  }
}

/** Passes spans on and reports each batch's result; waits for an exporter that is still loading. */
class CountingExporter implements SpanExporter {
  private loaded: SpanExporter | undefined;
  private readonly loading: Promise<SpanExporter>;

  constructor(
    exporter: SpanExporter | Promise<SpanExporter>,
    private readonly onResult: (count: number, result: ExportResult) => void,
  ) {
    this.loading = Promise.resolve(exporter).then((e) => (this.loaded = e));
    // A load failure is reported through the first export's result.
    this.loading.catch(() => undefined);
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const finish = (result: ExportResult): void => {
      this.onResult(spans.length, result);
      done(result);
    };
    if (this.loaded) return this.loaded.export(spans, finish);
    this.loading.then(
      (exporter) => exporter.export(spans, finish),
      (error: unknown) => finish({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) }),
    );
  }

  async shutdown(): Promise<void> {
    const exporter = await this.loading.catch(() => undefined);
    await exporter?.shutdown();
  }

  async forceFlush(): Promise<void> {
    const exporter = await this.loading.catch(() => undefined);
    await exporter?.forceFlush?.();
  }
}
