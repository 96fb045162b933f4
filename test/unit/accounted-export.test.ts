import { expect } from "chai";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { BasicTracerProvider, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { AccountedExport } from "../../runtime/tracing/accounted-export.js";

/** Answers every batch with `result`, after the spans are counted. */
class FixedExporter implements SpanExporter {
  spans = 0;
  constructor(private readonly result: ExportResult) {}
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.spans += spans.length;
    done(this.result);
  }
  async shutdown(): Promise<void> {}
}

const SMALL = { maxQueueSize: 4, maxExportBatchSize: 4, scheduledDelayMillis: 60_000, exportTimeoutMillis: 1_000 };

/** Ends `count` spans in one synchronous burst, then shuts down (a failed last flush rejects that; the tally says what happened). */
async function burst(accounted: AccountedExport, count: number): Promise<void> {
  const provider = new BasicTracerProvider({ spanProcessors: [accounted.processor] });
  const tracer = provider.getTracer("test");
  for (let i = 0; i < count; i++) tracer.startSpan(`s${i}`).end();
  await provider.shutdown().catch(() => undefined);
}

describe("accounted export (a BatchSpanProcessor whose lost spans are counted)", () => {
  it("accounting: spans the full queue turned away are counted as dropped, the rest as exported", async () => {
    const lines: string[] = [];
    const exporter = new FixedExporter({ code: ExportResultCode.SUCCESS });
    const accounted = new AccountedExport("test", exporter, SMALL, (line) => lines.push(line));
    await burst(accounted, 10);
    // The first full batch (4) goes out at once; while it is out, 4 more wait in the queue; 2 are turned away.
    expect(accounted.tally()).to.deep.equal({ destination: "test", ended: 10, exported: 8, failed: 0, dropped: 2 });
    expect(exporter.spans).to.equal(8);
    expect(lines).to.deep.equal([]);
  });

  it("accounting: failed exports are counted, and only the first failure is reported, at once", async () => {
    const lines: string[] = [];
    const exporter = new FixedExporter({ code: ExportResultCode.FAILED, error: new Error("connect ECONNREFUSED 127.0.0.1:9") });
    const accounted = new AccountedExport("OTLP grpc http://127.0.0.1:9", Promise.resolve(exporter), { ...SMALL, maxQueueSize: 100, maxExportBatchSize: 3 }, (line) => lines.push(line));
    await burst(accounted, 10);
    expect(accounted.tally()).to.include({ ended: 10, exported: 0, failed: 10, dropped: 0, firstError: "connect ECONNREFUSED 127.0.0.1:9" });
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/^cannot export spans to OTLP grpc http:\/\/127\.0\.0\.1:9: connect ECONNREFUSED/);
  });

  it("accounting: an exporter that fails to load fails its batches, reported the same way", async () => {
    const lines: string[] = [];
    const accounted = new AccountedExport("OTLP grpc", Promise.reject(new Error("@opentelemetry/exporter-trace-otlp-grpc is not installed")), SMALL, (line) => lines.push(line));
    await burst(accounted, 2);
    expect(accounted.tally()).to.include({ ended: 2, failed: 2 });
    expect(lines).to.have.length(1);
  });
});
