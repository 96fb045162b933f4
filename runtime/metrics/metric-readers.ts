import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { ConsoleMetricExporter, PeriodicExportingMetricReader, type MetricReader, type PushMetricExporter, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { loadOptional } from "../optional-dependency.js";
import type { OtlpProtocol } from "../tracing/trace-export-env.js";
import type { MetricExportEnv } from "./metric-export-env.js";
import { troupeMetricProducer } from "./stats-metric-producer.js";

/** The official OTLP metric exporter package for each protocol; only the chosen one is loaded. */
export const OTLP_METRIC_EXPORTER_PACKAGES: Record<OtlpProtocol, string> = {
  "http/protobuf": "@opentelemetry/exporter-metrics-otlp-proto",
  grpc: "@opentelemetry/exporter-metrics-otlp-grpc",
};

/** Loads the OTLP metric exporter class for `protocol` (the gRPC one pulls in @grpc/grpc-js). */
export async function loadOtlpMetricExporter(protocol: OtlpProtocol): Promise<new () => PushMetricExporter> {
  const packages = [OTLP_METRIC_EXPORTER_PACKAGES[protocol]];
  const feature = `OTLP metric export over ${protocol}`;
  if (protocol === "grpc") return (await loadOptional(feature, packages, () => import("@opentelemetry/exporter-metrics-otlp-grpc"))).OTLPMetricExporter;
  return (await loadOptional(feature, packages, () => import("@opentelemetry/exporter-metrics-otlp-proto"))).OTLPMetricExporter;
}

/** The readers the environment asks for, each with Troupe's histograms (troupeMetricProducer) beside the SDK's own data. */
export function createMetricReaders(wanted: MetricExportEnv, report: (line: string) => void): { readers: MetricReader[]; prometheus: PrometheusExporter | undefined } {
  const readers: MetricReader[] = [];
  const periodic = (exporter: PushMetricExporter): PeriodicExportingMetricReader =>
    new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: wanted.intervalMs, exportTimeoutMillis: Math.min(wanted.intervalMs, 30_000), metricProducers: [troupeMetricProducer()] });
  if (wanted.otlp) readers.push(periodic(new LazyMetricExporter(`OTLP ${wanted.otlp.protocol} ${wanted.otlp.endpoint}`, loadOtlpMetricExporter(wanted.otlp.protocol).then((Exporter) => new Exporter()), report)));
  if (wanted.console) readers.push(periodic(new ConsoleMetricExporter()));
  let prometheus: PrometheusExporter | undefined;
  if (wanted.prometheus) {
    // Started by the caller, which learns whether the port could be had.
    prometheus = new PrometheusExporter({ port: wanted.prometheus.port, host: wanted.prometheus.host, preventServerStart: true, metricProducers: [troupeMetricProducer()] });
    readers.push(prometheus);
  }
  return { readers, prometheus };
}

/**
 * An exporter loaded on demand (the OTLP packages), which reports its first failure once: a collector
 * that is down is said once, not every interval.
 */
class LazyMetricExporter implements PushMetricExporter {
  private failed = false;

  constructor(
    private readonly destination: string,
    private readonly exporter: Promise<PushMetricExporter>,
    private readonly report: (line: string) => void,
  ) {
    // A missing package has been reported by the loader (the CLI loads it first); do not leave it unhandled.
    exporter.catch(() => undefined);
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.exporter.then(
      (exporter) =>
        exporter.export(metrics, (result) => {
          if (result.code !== ExportResultCode.SUCCESS && !this.failed) {
            this.failed = true;
            this.report(`cannot export metrics to ${this.destination}: ${result.error?.message ?? "export failed"}`);
          }
          resultCallback(result);
        }),
      (error: unknown) => resultCallback({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) }),
    );
  }

  async forceFlush(): Promise<void> {
    await (await this.exporter).forceFlush();
  }

  async shutdown(): Promise<void> {
    await (await this.exporter).shutdown();
  }
}
