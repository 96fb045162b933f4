import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { findTool } from "../../runtime/nats/tool-paths.js";
import { readSpans } from "../../runtime/tracing/trace-file.js";
import { eventually } from "../helpers/conditions.js";
import { freePort } from "../helpers/nats-with-config.js";
import { otelCollectorFor, type CollectedSpan, type OtelCollector } from "../helpers/otel-collector.js";
import { runTroupe } from "../helpers/troupe-process.js";

const PROCESSES = ["coordinator", "worker-1", "worker-2"];

interface TimedRun {
  readonly code: number | string;
  /** From the summary line (the topology is done) to the exit: the end of the run, teardown included. */
  readonly endMs: number;
  readonly summary: { ok?: boolean; traceId?: string };
  readonly stderr: string;
}

/** `troupe run ping-pong --nodes 2 --json` with exactly `env` (and nothing of this process's OTEL_*). */
async function pingPong(env: Record<string, string>, extraArgs: string[] = []): Promise<TimedRun> {
  const run = runTroupe(["run", "ping-pong", "--nodes", "2", "--json", ...extraArgs], env);
  let summarized: number | undefined;
  run.child.stdout!.on("data", () => (summarized ??= run.stdout().includes('{"ok":') ? Date.now() : undefined));
  const code = await run.exited;
  const endMs = Date.now() - (summarized ?? Number.NaN);
  const last = run.stdout().trimEnd().split("\n").at(-1) ?? "";
  return { code, endMs, summary: last.startsWith("{") ? (JSON.parse(last) as TimedRun["summary"]) : {}, stderr: run.stderr() };
}

const tracingLines = (stderr: string): string[] => stderr.split("\n").filter((line) => line.startsWith("tracing ["));

describe("OTLP export from the environment alone (integration: troupe run ping-pong --nodes 2 and a real OpenTelemetry Collector)", function () {
  this.timeout(180_000);
  let collector: OtelCollector;
  let dir: string;

  before(async function () {
    if (!findTool("nats-server")) {
      if (process.env.CI === "true") throw new Error("nats-server not found: run `npm run setup`");
      this.skip();
    }
    collector = await otelCollectorFor(this);
    dir = mkdtempSync(join(tmpdir(), "troupe-otlp-"));
  });

  after(async () => {
    await collector?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const protocol of ["http/protobuf", "grpc"] as const) {
    it(`otlp: with only OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_PROTOCOL=${protocol}, every span of the coordinator and both workers reaches the collector, none dropped`, async () => {
      const file = join(dir, `${protocol.replace("/", "-")}.trace`);
      const endpoint = protocol === "grpc" ? collector.grpcEndpoint : collector.httpEndpoint;
      // --trace too: the file and the collector must each get every span.
      const run = await pingPong({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: protocol }, ["--trace", file]);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.summary.ok).to.equal(true);
      expect(tracingLines(run.stderr), "no export failed, no span was lost").to.deep.equal([]);

      const recorded = readSpans(file);
      const system = String(recorded[0]!.resource["troupe.system"]);
      const mine = (): CollectedSpan[] => collector.spans().filter((s) => s.resource["troupe.system"] === system);
      // The collector passes spans on in its own time; the run has already ended.
      await eventually("every recorded span at the collector", () => mine().length >= recorded.length, 30_000);
      const collected = mine();
      expect(collected.length).to.equal(recorded.length);
      expect(new Set(collected.map((s) => s.spanId))).to.deep.equal(new Set(recorded.map((s) => s.spanId)));

      // One trace: the run's root span, and every other span's parent among the spans received.
      expect(new Set(collected.map((s) => s.traceId))).to.deep.equal(new Set([run.summary.traceId]));
      const byId = new Map(collected.map((s) => [s.spanId, s]));
      const roots = collected.filter((s) => s.parentSpanId === "");
      expect(roots.map((s) => s.name)).to.deep.equal(["run ping-pong"]);
      expect(collected.filter((s) => s.parentSpanId !== "" && !byId.has(s.parentSpanId))).to.deep.equal([]);

      // Each process is its own service instance, under its role's service name, on the SDK's default resource.
      const nodeOf = (s: CollectedSpan): string => s.resource["troupe.node.id"]!;
      expect(new Set(collected.map(nodeOf))).to.deep.equal(new Set(PROCESSES));
      const instances = new Map(collected.map((s) => [nodeOf(s), s.resource["service.instance.id"]]));
      expect(new Set(instances.values()).size, "a service.instance.id per process").to.equal(3);
      for (const span of collected) {
        expect(span.resource["service.name"]).to.equal(nodeOf(span) === "coordinator" ? "troupe-run" : "troupe-node");
        expect(span.resource["telemetry.sdk.language"]).to.equal("nodejs");
        expect(span.resource["service.instance.id"]).to.equal(instances.get(nodeOf(span)));
      }

      // Parents across processes: each worker's processing hangs under the coordinator's sends, and back.
      const crossing = collected.filter((s) => s.parentSpanId !== "" && nodeOf(byId.get(s.parentSpanId)!) !== nodeOf(s));
      for (const node of PROCESSES) expect(crossing.some((s) => nodeOf(s) === node), `a span on ${node} whose parent ran elsewhere`).to.equal(true);
    });
  }

  describe("a collector that is down or speaks another protocol", () => {
    let baselineEndMs: number;

    // The end of a run measured the same way without OTLP. (Only the end: how long the run itself took
    // varies by seconds with what else this machine is doing.)
    before(async () => {
      const baseline = await pingPong({});
      expect(baseline.code, baseline.stderr).to.equal(0);
      baselineEndMs = baseline.endMs;
    });

    const scenarios: { readonly what: string; readonly env: () => Promise<Record<string, string>> }[] = [
      { what: "down, over HTTP", env: async () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}` }) },
      { what: "down, over gRPC", env: async () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }) },
      { what: "spoken to in gRPC on its HTTP port", env: async () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.httpEndpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }) },
      { what: "spoken to in HTTP on its gRPC port", env: async () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.grpcEndpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" }) },
    ];
    for (const { what, env } of scenarios) {
      it(`otlp: a collector ${what} delays the end of the run by less than 5 s, and each process reports its lost spans once`, async () => {
        const run = await pingPong(await env());
        expect(run.code, run.stderr).to.equal(0);
        expect(run.summary.ok).to.equal(true);
        expect(run.endMs - baselineEndMs, `the end took ${run.endMs} ms, against ${baselineEndMs} ms without OTLP`).to.be.below(5_000);
        const lines = tracingLines(run.stderr);
        for (const node of PROCESSES) {
          const own = lines.filter((line) => line.startsWith(`tracing [${node}]: `));
          expect(own.filter((line) => line.includes("did not reach OTLP")), `${node}: ${own.join("\n")}`).to.have.length(1);
          expect(own.filter((line) => line.includes("cannot export")).length, `${node}: the first failure, at most once`).to.be.at.most(1);
        }
      });
    }
  });
});
