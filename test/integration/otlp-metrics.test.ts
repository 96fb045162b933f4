import { expect } from "chai";
import { findTool } from "../../runtime/nats/tool-paths.js";
import { eventually } from "../helpers/conditions.js";
import { otelCollectorFor, type CollectedMetricPoint, type OtelCollector } from "../helpers/otel-collector.js";
import { freePort } from "../helpers/nats-with-config.js";
import { runTroupe } from "../helpers/troupe-process.js";

/** What ping-pong's player on each worker handles: 2,000 Pings, 200 asked Pings and the final GetStats. */
const HANDLED_PER_WORKER = 2_201;

/** `troupe run ping-pong --nodes 2 --json` with `env`: its exit code, stderr, and ms from its summary line to its exit. */
async function timedRun(env: Record<string, string>): Promise<{ code: number | string; stderr: string; endMs: number }> {
  const run = runTroupe(["run", "ping-pong", "--nodes", "2", "--json"], env);
  let summarized: number | undefined;
  run.child.stdout!.on("data", () => (summarized ??= run.stdout().includes('{"ok":') ? Date.now() : undefined));
  const code = await run.exited;
  return { code, stderr: run.stderr(), endMs: Date.now() - (summarized ?? Number.NaN) };
}

describe("OTLP metric export from the environment alone (integration: troupe run ping-pong --nodes 2 and a real OpenTelemetry Collector)", function () {
  this.timeout(180_000);
  let collector: OtelCollector;

  before(async function () {
    if (!findTool("nats-server")) {
      if (process.env.CI === "true") throw new Error("nats-server not found: run `npm run setup`");
      this.skip();
    }
    collector = await otelCollectorFor(this);
  });
  after(() => collector?.stop());

  for (const protocol of ["http/protobuf", "grpc"] as const) {
    it(`otlp metrics: with OTEL_METRICS_EXPORTER=otlp over ${protocol}, every process's counters reach the collector with the values of the run`, async () => {
      const system = `metrics-${protocol === "grpc" ? "grpc" : "http"}`;
      const endpoint = protocol === "grpc" ? collector.grpcEndpoint : collector.httpEndpoint;
      // The default interval (60 s) is longer than the run: what arrives is what each process flushes as it ends.
      const env = { OTEL_METRICS_EXPORTER: "otlp", OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: protocol };
      const run = runTroupe(["run", "ping-pong", "--nodes", "2", "--system", system, "--json"], env);
      expect(await run.exited, run.stderr()).to.equal(0);
      expect(run.stderr()).not.to.match(/cannot export metrics|gave up/);

      const mine = (name: string, node: string): CollectedMetricPoint[] =>
        collector.metrics().filter((p) => p.name === name && p.resource["troupe.system"] === system && p.resource["troupe.node.id"] === node);
      // Cumulative: the last export of a process carries its totals.
      const latest = (name: string, node: string, attributes: Readonly<Record<string, string>> = {}): number =>
        Math.max(...mine(name, node).filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v)).map((p) => p.value));
      await eventually("every process's metrics at the collector", () => ["coordinator", "worker-1", "worker-2"].every((node) => mine("troupe.actor.messages.processed", node).length > 0), 30_000);
      for (const worker of ["worker-1", "worker-2"]) {
        expect(latest("troupe.actor.messages.processed", worker, { "troupe.actor.kind": "ping-pong.player" })).to.equal(HANDLED_PER_WORKER);
        expect(latest("messaging.process.duration", worker, { "troupe.actor.kind": "ping-pong.player" })).to.equal(HANDLED_PER_WORKER);
        expect(mine("messaging.client.sent.messages", worker)[0]!.resource["service.name"]).to.equal("troupe-node");
      }
      // The coordinator asked each worker 200 Pings and its stats, and its own player its stats.
      expect(latest("troupe.asks", "coordinator", { "troupe.ask.outcome": "replied" })).to.equal(403);
    });
  }

  it("otlp metrics: a collector that is down (HTTP, gRPC) delays the end of a run by less than 5 s, and is reported", async () => {
    const baseline = await timedRun({});
    expect(baseline.code, baseline.stderr).to.equal(0);
    for (const protocol of ["http/protobuf", "grpc"]) {
      const down = await timedRun({ OTEL_METRICS_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${await freePort()}${protocol === "grpc" ? "" : "/v1/metrics"}`, OTEL_EXPORTER_OTLP_PROTOCOL: protocol });
      expect(down.code, down.stderr).to.equal(0);
      expect(down.endMs - baseline.endMs, `${protocol}: the end took ${down.endMs} ms, against ${baseline.endMs} ms without metrics`).to.be.below(5_000);
      // Each of the three processes says so: the export failed, or the shutdown gave up waiting for it.
      expect(down.stderr.split("\n").filter((line) => /^tracing \[.*(cannot export metrics|a metric export had not finished)/.test(line)), down.stderr).to.have.length.of.at.least(3);
    }
  });
});
