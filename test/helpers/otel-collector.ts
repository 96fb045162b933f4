import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findTool, requireTool } from "../../runtime/nats/tool-paths.js";
import { freePort } from "./nats-with-config.js";

/** One span as the collector handed it on (OTLP/JSON), with its resource flattened. */
export interface CollectedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  readonly resource: Readonly<Record<string, string>>;
}

/** One data point of a sum or gauge (or a histogram's count) that reached the collector. */
export interface CollectedMetricPoint {
  readonly name: string;
  readonly resource: Readonly<Record<string, string>>;
  readonly attributes: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface OtelCollector {
  /** Where its OTLP receiver listens, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  readonly grpcEndpoint: string;
  readonly httpEndpoint: string;
  /** Every span the collector has passed on so far. */
  spans(): readonly CollectedSpan[];
  /** Every metric point the collector has passed on so far (each export's, cumulative). */
  metrics(): readonly CollectedMetricPoint[];
  stop(): Promise<void>;
}

/**
 * A real OpenTelemetry Collector (core components, built by `scripts/setup.mjs --test`) on free
 * loopback ports: its otlp receiver takes gRPC and HTTP, and its otlp_http exporter hands every span
 * on as OTLP/JSON to a small HTTP server of this helper, which keeps them. Without the binary the
 * file's tests are skipped, except under CI=true, where a missing collector is a failure.
 */
export async function otelCollectorFor(context: Mocha.Context): Promise<OtelCollector> {
  if (!findTool("otelcol-troupe") && process.env.CI !== "true") {
    console.warn("skipping: otelcol-troupe not found: run `node scripts/setup.mjs --test`");
    context.skip();
  }
  return startOtelCollector();
}

export async function startOtelCollector(): Promise<OtelCollector> {
  const binary = requireTool("otelcol-troupe");
  const collected: CollectedSpan[] = [];
  const metrics: CollectedMetricPoint[] = [];
  const sink = await startSink(collected, metrics);
  const dir = mkdtempSync(join(tmpdir(), "troupe-otelcol-"));
  try {
    // A port found free can be taken before the collector binds it: try again with others.
    for (let attempt = 1; ; attempt++) {
      const [grpcPort, httpPort] = [await freePort(), await freePort()];
      const config = join(dir, "config.yaml");
      writeFileSync(config, collectorConfig(grpcPort, httpPort, sink.port));
      const child = spawn(binary, ["--config", config], { stdio: ["ignore", "ignore", "pipe"] });
      const started = await untilReady(child);
      if (started === true) {
        return {
          grpcEndpoint: `http://127.0.0.1:${grpcPort}`,
          httpEndpoint: `http://127.0.0.1:${httpPort}`,
          spans: () => collected,
          metrics: () => metrics,
          stop: async () => {
            await stopProcess(child);
            await new Promise((resolve) => sink.server.close(resolve));
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      if (attempt === 3 || !started.includes("address already in use")) throw new Error(`the OpenTelemetry Collector did not start:\n${started}`);
    }
  } catch (error) {
    sink.server.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function collectorConfig(grpcPort: number, httpPort: number, sinkPort: number): string {
  // The collector's own metrics would listen on a fixed port (8888): turned off.
  return `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${grpcPort}
      http:
        endpoint: 127.0.0.1:${httpPort}
exporters:
  otlp_http:
    traces_endpoint: http://127.0.0.1:${sinkPort}/v1/traces
    metrics_endpoint: http://127.0.0.1:${sinkPort}/v1/metrics
    encoding: json
    compression: none
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_http]
    metrics:
      receivers: [otlp]
      exporters: [otlp_http]
`;
}

/** Resolves true once the collector says it is ready, or with what it printed if it exits first. */
function untilReady(child: ChildProcess): Promise<true | string> {
  return new Promise((resolve) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve(`not ready within 20 s:\n${output}`);
    }, 20_000);
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      if (output.includes("Everything is ready")) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(`exited with ${code}:\n${output}`);
    });
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(killer);
}

interface OtlpJsonValue {
  readonly stringValue?: string;
  readonly intValue?: string | number;
  readonly boolValue?: boolean;
  readonly doubleValue?: number;
}
type OtlpJsonAttributes = readonly { readonly key: string; readonly value: OtlpJsonValue }[];
interface OtlpJsonPoint {
  readonly attributes?: OtlpJsonAttributes;
  readonly asInt?: string | number;
  readonly asDouble?: number;
  readonly count?: string | number;
}
interface OtlpJsonRequest {
  readonly resourceMetrics?: readonly {
    readonly resource?: { readonly attributes?: OtlpJsonAttributes };
    readonly scopeMetrics?: readonly {
      readonly metrics?: readonly { name: string; sum?: { dataPoints?: OtlpJsonPoint[] }; gauge?: { dataPoints?: OtlpJsonPoint[] }; histogram?: { dataPoints?: OtlpJsonPoint[] } }[];
    }[];
  }[];
  readonly resourceSpans?: readonly {
    readonly resource?: { readonly attributes?: readonly { readonly key: string; readonly value: OtlpJsonValue }[] };
    readonly scopeSpans?: readonly { readonly spans?: readonly { traceId: string; spanId: string; parentSpanId?: string; name: string }[] }[];
  }[];
}

/** The collector's otlp_http exporter posts OTLP/JSON here (ids as hex, as OTLP/JSON has them). */
async function startSink(collected: CollectedSpan[], metrics: CollectedMetricPoint[]): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    request.on("end", () => {
      const message = JSON.parse(body) as OtlpJsonRequest;
      for (const resourceMetrics of message.resourceMetrics ?? []) {
        const resource = attributesOf(resourceMetrics.resource?.attributes);
        for (const scope of resourceMetrics.scopeMetrics ?? []) {
          for (const metric of scope.metrics ?? []) {
            for (const point of metric.sum?.dataPoints ?? metric.gauge?.dataPoints ?? metric.histogram?.dataPoints ?? []) {
              metrics.push({ name: metric.name, resource, attributes: attributesOf(point.attributes), value: Number(point.asInt ?? point.asDouble ?? point.count ?? Number.NaN) });
            }
          }
        }
      }
      for (const resourceSpans of message.resourceSpans ?? []) {
        const resource: Record<string, string> = {};
        for (const { key, value } of resourceSpans.resource?.attributes ?? []) resource[key] = String(value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue);
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) collected.push({ traceId: span.traceId, spanId: span.spanId, parentSpanId: span.parentSpanId ?? "", name: span.name, resource });
        }
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

function attributesOf(attributes: OtlpJsonAttributes | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of attributes ?? []) out[key] = String(value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue);
  return out;
}
