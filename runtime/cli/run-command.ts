import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadStartTracing, telemetryWanted, tracingWanted } from "../tracing/load-start-tracing.js";
import { metricExportFromEnv } from "../metrics/metric-export-env.js";
import { flushMetricsBeforeShutdown } from "./flush-metrics.js";
import { loadOtelApi } from "../tracing/otel-api.js";
import type { TracingHandle } from "../tracing/start-tracing.js";
import { DEFAULT_TRACING_SHUTDOWN_MS } from "../tracing/trace-export-env.js";
import type { TopologyResult } from "../topology.js";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ActorSystem } from "../actor-system.js";
import { connectNats } from "../transport/nats-transport.js";
import { loadTopology, topologyPath } from "./load-topology.js";
import { natsCredentialsFromEnv } from "./nats-credentials.js";
import { resolveNats, type NatsEndpoint } from "./nats-endpoint.js";
import { systemInboxPrefix } from "./inbox-prefix.js";
import { progressPrinter } from "./progress-printer.js";
import { untilSignal } from "./signals.js";
import { exitIfHeldOpen } from "./exit-if-held-open.js";
import { WorkerPool } from "./worker-pool.js";
import { printable } from "../printable.js";
import { loosePositionals, parseOptions, UsageError } from "./parse-options.js";
import { VERBS } from "./usage.js";

/**
 * `troupe run`: starts N worker node processes and an in-process coordinator, runs the topology's
 * `main`, prints a summary and tears everything down again, including on SIGINT/SIGTERM. With
 * `--json`, the last stdout line is one JSON object, also when the run fails: then `ok` is false and
 * `error` says why (a wrong option, a missing module, an error during the run, a failed check).
 */
export async function runCommand(args: string[]): Promise<number> {
  const end = args.indexOf("--");
  const json = (end === -1 ? args : args.slice(0, end)).includes("--json");
  const report: RunReport = { example: loosePositionals(VERBS.run, args)[0] ?? null };
  let code: number;
  try {
    code = await runTopology(args, report);
  } catch (error) {
    if (json) printFailure(report, error instanceof Error ? error.message : String(error));
    throw error;
  }
  if (json && report.interruptedBy !== undefined) printFailure(report, `interrupted by ${report.interruptedBy}`);
  return code;
}

/** What is known about a run so far, for the JSON line of a run that fails. */
interface RunReport {
  example: string | null;
  interruptedBy?: string;
}

function printFailure(report: RunReport, error: string): void {
  console.log(JSON.stringify({ ok: false, example: report.example, error }));
}

async function runTopology(args: string[], report: RunReport): Promise<number> {
  const parsed = parseOptions(VERBS.run, args);
  if (parsed === undefined) return 0;
  const { values, positionals } = parsed;
  const target = positionals[0]!;
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 64) throw new UsageError(`--nodes must be an integer from 1 to 64; got ${values.nodes}`, VERBS.run);
  const traceFile = values.trace === undefined ? undefined : resolve(values.trace);
  const state = values.state ?? pathToFileURL(resolve(".troupe", "state")).href;
  if (!/^(file|gs|memory):/.test(state)) throw new UsageError(`--state must be a file://, gs:// or memory: URL; got ${state}`, VERBS.run);
  // Reaches the worker nodes (which inherit it) as TROUPE_STATE, for what their `worker` hook keeps there (entities).
  process.env.TROUPE_STATE = state;
  // Reaches the topology's nodes as TROUPE_CACHE: this process's and the workers', which inherit it.
  if (values.cache !== undefined) {
    if (!/^(memory:$|nats-kv:|rediss?:\/\/)/.test(values.cache)) throw new UsageError(`--cache must be memory:, nats-kv: or a redis:// URL; got ${values.cache}`, VERBS.run);
    process.env.TROUPE_CACHE = values.cache;
  }

  // Every process of a run would want the one Prometheus port: long-lived `troupe node`s take --metrics-port.
  if (metricExportFromEnv().prometheus) throw new UsageError("OTEL_METRICS_EXPORTER=prometheus would give every process of a run the same port; use otlp or console here, and `troupe node --metrics-port N` for nodes to scrape", VERBS.run);
  const traced = tracingWanted(traceFile);
  const say = values.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const modulePath = topologyPath(target);
  const topology = await loadTopology(modulePath);
  report.example = topology.name;
  const systemName = values.system ?? `${topology.name.replace(/[^A-Za-z0-9_-]/g, "_")}-${randomBytes(3).toString("hex")}`;
  const started = Date.now();
  const signal = untilSignal();
  let nats: NatsEndpoint | undefined;
  let coordinator: Promise<ActorSystem> | undefined;
  let tracing: TracingHandle | undefined;
  let workers: WorkerPool | undefined;

  const run = async (): Promise<number> => {
    say(`troupe run ${topology.name}: system ${systemName}, ${nodes} worker node${nodes === 1 ? "" : "s"}`);
    if (traceFile) {
      // A fresh file per run; the coordinator and every worker append their spans to it.
      mkdirSync(dirname(traceFile), { recursive: true });
      writeFileSync(traceFile, "");
    }
    // --trace, or the OTEL_* variables alone (the workers inherit them, and trace and meter the same way).
    if (telemetryWanted(traceFile)) tracing = (await loadStartTracing())({ file: traceFile, nodeId: "coordinator", system: systemName, serviceName: "troupe-run", report: (line) => console.error(`tracing [coordinator]: ${line}`) });
    nats = await resolveNats(values.nats, say);
    const servers = nats.servers;
    const ids = Array.from({ length: nodes }, (_, i) => `worker-${i + 1}`);
    // Held before it starts, so that Ctrl-C during the start stops what has started.
    workers = new WorkerPool({ system: systemName, servers, modulePath, traceFile, log: (line) => console.error(printable(line)) });
    // The coordinator starts while the workers do: nothing of theirs waits for it, and on a few cores
    // its start would otherwise come before all of theirs (bench/node-start.ts, run-16-ready).
    coordinator = connectNats({ servers, name: "troupe-coordinator", inboxPrefix: systemInboxPrefix(systemName), ...natsCredentialsFromEnv() }).then((transport) =>
      ActorSystem.start({ name: systemName, nodeId: "coordinator", transport, types: topology.types, tracing: traced, metrics: tracing?.metrics ?? false }),
    );
    const [system] = await Promise.all([coordinator, workers.start(ids)]);
    say(`workers ready: ${ids.join(", ")} (pids ${workers.pids().join(", ")})`);

    const printer = progressPrinter();
    // With tracing on, the whole run is one root span: everything the topology does is in its trace.
    const otel = traced ? await loadOtelApi() : undefined;
    const runSpan = otel?.trace.getTracer("troupe").startSpan(`run ${topology.name}`, { attributes: { "troupe.system": systemName, "troupe.nodes": nodes } });
    const main = (): Promise<TopologyResult> => topology.main({ system, workers: ids, state, stateIsDefault: values.state === undefined, log: say, progress: (p) => printer.show(p), traceFile });
    // A worker that dies is restarted (WorkerPool); the run fails only when they keep dying.
    const supervised = (): Promise<TopologyResult> => Promise.race([main(), workers!.failed]);
    const result = await (otel && runSpan ? otel.context.with(otel.trace.setSpan(otel.context.active(), runSpan), supervised) : supervised()).finally(() => {
      printer.end();
      runSpan?.end();
    });
    const traceId = runSpan?.spanContext().traceId ?? null;
    const ok = result.verified !== false;
    const durationMs = Date.now() - started;
    if (result.summary?.length) say(result.summary.join("\n"));
    if (traceFile) say(`trace ${traceId} in ${traceFile} (view: troupe trace ${values.trace} --trace-id ${traceId}, or --html trace.html)`);
    else if (traceId) say(`trace ${traceId}`);
    say(`${ok ? "ok" : "FAILED"}: ${result.tasks} tasks in ${durationMs} ms${result.verified ? ", verified" : ""}`);
    if (values.json && report.interruptedBy === undefined) {
      const failed = ok ? {} : { error: "the topology's own check failed (verified: false)" };
      console.log(JSON.stringify({ ok, example: topology.name, nodes, tasks: result.tasks, durationMs, state: result.state, traceId, verified: result.verified ?? false, ...result.details, ...failed }));
    }
    return ok ? 0 : 1;
  };

  try {
    return await Promise.race([
      run(),
      signal.promise.then((name) => {
        say(`${name}: stopping workers and servers`);
        report.interruptedBy = name;
        return 130;
      }),
    ]);
  } finally {
    signal.dispose();
    const teardownStarted = Date.now();
    try {
      // The coordinator's last metrics go out while the workers stop.
      await Promise.all([workers?.stop(), flushMetricsBeforeShutdown(tracing)]);
      // Awaited, not only held: a run stopped while the coordinator starts still stops it once started.
      await (await coordinator?.catch(() => undefined))?.shutdown();
    } finally {
      // The workers' tracing gives up on a collector that is down when they get SIGTERM, plus its
      // deadline; the coordinator's gives up by the same time (with a moment for its own last batch),
      // so a broken collector delays the end of a run by one deadline, not two.
      const traced = await tracing?.shutdown({ timeoutMs: Math.max(COORDINATOR_TRACING_MIN_MS, DEFAULT_TRACING_SHUTDOWN_MS - (Date.now() - teardownStarted)) });
      await nats?.stop();
      exitIfHeldOpen(traced);
    }
  }
}

/** The least the coordinator's tracing gets to flush after the workers have stopped. */
const COORDINATOR_TRACING_MIN_MS = 300;
