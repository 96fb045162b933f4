import { expect } from "chai";
import { metricExportFromEnv, metricsWanted } from "../../runtime/metrics/metric-export-env.js";

describe("metric export from the OTEL_* variables and --metrics-port", () => {
  it("metrics env: nothing set exports nothing; a trace endpoint alone does not turn metrics on", () => {
    expect(metricsWanted({})).to.equal(false);
    expect(metricsWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" })).to.equal(false);
  });

  it("metrics env: a metrics endpoint alone turns OTLP on, as it is; otlp takes the general endpoint plus /v1/metrics over HTTP", () => {
    expect(metricExportFromEnv({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://c:4318/v1/metrics" }).otlp).to.deep.equal({ protocol: "http/protobuf", endpoint: "http://c:4318/v1/metrics" });
    expect(metricExportFromEnv({ OTEL_METRICS_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" }).otlp).to.deep.equal({ protocol: "http/protobuf", endpoint: "http://c:4318/v1/metrics" });
    expect(metricExportFromEnv({ OTEL_METRICS_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317", OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "grpc" }).otlp).to.deep.equal({ protocol: "grpc", endpoint: "http://c:4317" });
  });

  it("metrics env: prometheus on its registered port or OTEL_EXPORTER_PROMETHEUS_PORT; --metrics-port wins, even over none", () => {
    expect(metricExportFromEnv({ OTEL_METRICS_EXPORTER: "prometheus" }).prometheus).to.deep.equal({ port: 9464, host: undefined });
    expect(metricExportFromEnv({ OTEL_METRICS_EXPORTER: "prometheus,console", OTEL_EXPORTER_PROMETHEUS_PORT: "9500", OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1" })).to.deep.include({ prometheus: { port: 9500, host: "127.0.0.1" }, console: true });
    expect(metricExportFromEnv({ OTEL_METRICS_EXPORTER: "prometheus" }, 9600).prometheus).to.deep.equal({ port: 9600, host: undefined });
    expect(metricExportFromEnv({ OTEL_METRICS_EXPORTER: "none" }, 9600).prometheus).to.deep.equal({ port: 9600, host: undefined });
    expect(metricsWanted({ OTEL_METRICS_EXPORTER: "none" })).to.equal(false);
  });

  it("metrics env: the export interval comes from OTEL_METRIC_EXPORT_INTERVAL (default 60 s)", () => {
    expect(metricExportFromEnv({}).intervalMs).to.equal(60_000);
    expect(metricExportFromEnv({ OTEL_METRIC_EXPORT_INTERVAL: "5000" }).intervalMs).to.equal(5_000);
  });

  it("metrics env: a value Troupe cannot honour is an error that names the variable", () => {
    expect(() => metricExportFromEnv({ OTEL_METRICS_EXPORTER: "statsd" })).to.throw(/OTEL_METRICS_EXPORTER=statsd/);
    expect(() => metricExportFromEnv({ OTEL_METRICS_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })).to.throw(/OTEL_EXPORTER_OTLP_PROTOCOL=http\/json/);
    expect(() => metricExportFromEnv({ OTEL_METRIC_EXPORT_INTERVAL: "soon" })).to.throw(/OTEL_METRIC_EXPORT_INTERVAL=soon/);
  });
});
