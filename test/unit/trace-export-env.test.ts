import { expect } from "chai";
import { batchOptionsFromEnv, traceExportFromEnv } from "../../runtime/tracing/trace-export-env.js";
import { uuidV5 } from "../../runtime/tracing/troupe-resource.js";

describe("trace export from the OTEL_* variables", () => {
  it("otel env: nothing set exports nothing (no collector on localhost is tried)", () => {
    expect(traceExportFromEnv({})).to.deep.equal({ console: false });
  });

  it("otel env: an endpoint alone turns OTLP on over http/protobuf, to its /v1/traces", () => {
    expect(traceExportFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318/" })).to.deep.equal({ otlp: { protocol: "http/protobuf", endpoint: "http://127.0.0.1:4318/v1/traces" }, console: false });
  });

  it("otel env: the traces protocol and endpoint win over the general ones; gRPC takes the endpoint as it is", () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc" };
    expect(traceExportFromEnv(env).otlp).to.deep.equal({ protocol: "grpc", endpoint: "http://a:4318" });
    expect(traceExportFromEnv({ ...env, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:4317" }).otlp).to.deep.equal({ protocol: "grpc", endpoint: "http://b:4317" });
  });

  it("otel env: OTEL_TRACES_EXPORTER lists exporters; otlp without an endpoint uses the default one; none and OTEL_SDK_DISABLED turn everything off", () => {
    expect(traceExportFromEnv({ OTEL_TRACES_EXPORTER: "otlp, console" })).to.deep.equal({ otlp: { protocol: "http/protobuf", endpoint: "http://localhost:4318/v1/traces" }, console: true });
    expect(traceExportFromEnv({ OTEL_TRACES_EXPORTER: "console", OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318" })).to.deep.equal({ console: true });
    expect(traceExportFromEnv({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318" })).to.deep.equal({ console: false });
    expect(traceExportFromEnv({ OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "otlp" })).to.deep.equal({ console: false });
  });

  it("otel env: a value Troupe cannot honour is an error that names the variable", () => {
    expect(() => traceExportFromEnv({ OTEL_TRACES_EXPORTER: "zipkin" })).to.throw(/OTEL_TRACES_EXPORTER=zipkin/);
    expect(() => traceExportFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })).to.throw(/OTEL_EXPORTER_OTLP_PROTOCOL=http\/json/);
  });

  it("otel env: batching defaults hold ping-pong's bursts, and OTEL_BSP_* override them", () => {
    expect(batchOptionsFromEnv({})).to.deep.equal({ maxQueueSize: 65_536, maxExportBatchSize: 1_024, scheduledDelayMillis: 200, exportTimeoutMillis: 10_000 });
    expect(batchOptionsFromEnv({ OTEL_BSP_MAX_QUEUE_SIZE: "512", OTEL_BSP_SCHEDULE_DELAY: "50" })).to.include({ maxQueueSize: 512, maxExportBatchSize: 512, scheduledDelayMillis: 50 });
  });

  it("resource: service.instance.id is an RFC 4122 version 5 UUID (the RFC's own example: DNS namespace, www.example.com)", () => {
    expect(uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")).to.equal("2ed6657d-e927-568b-95e1-2665a8aea6a2");
  });
});
