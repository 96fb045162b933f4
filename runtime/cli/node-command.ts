import { ActorSystem, defaultNodeId } from "../actor-system.js";
import { loadStartTracing, telemetryWanted, tracingWanted } from "../tracing/load-start-tracing.js";
import { metricsPortOption } from "./metrics-port.js";
import { flushMetricsBeforeShutdown, shutdownMsAfterFlush } from "./flush-metrics.js";
import { connectNats } from "../transport/nats-transport.js";
import { describeEvent } from "./describe-event.js";
import { systemInboxPrefix } from "./inbox-prefix.js";
import { loadTopology, topologyPath } from "./load-topology.js";
import { natsCredentialsFromEnv } from "./nats-credentials.js";
import { resolveNats } from "./nats-endpoint.js";
import { parseOptions, UsageError } from "./parse-options.js";
import { VERBS } from "./usage.js";
import { untilSignal } from "./signals.js";
import { exitIfHeldOpen } from "./exit-if-held-open.js";

/**
 * `troupe node`: a worker node. Joins a system, hosts what the module's `worker` spawns, prints one
 * JSON line `{"event":"ready",...}` on stdout when it can receive messages, and runs until SIGINT or
 * SIGTERM (then drains and exits 0) or until its NATS connection is lost for good (exits 1).
 */
export async function nodeCommand(args: string[]): Promise<number> {
  const parsed = parseOptions(VERBS.node, args);
  if (parsed === undefined) return 0;
  const { values } = parsed;
  const shutdownMs = Number(values["shutdown-ms"]);
  if (!Number.isInteger(shutdownMs) || shutdownMs < 1) throw new UsageError(`--shutdown-ms must be a positive whole number of milliseconds; got ${values["shutdown-ms"]}`, VERBS.node);
  const metricsPort = metricsPortOption(values["metrics-port"], VERBS.node);
  const topology = values.module ? await loadTopology(topologyPath(values.module)) : undefined;
  const signal = untilSignal();
  const onStdinClosed = (): boolean => process.kill(process.pid, "SIGTERM");
  if (values["exit-with-stdin"]) {
    process.stdin.once("close", onStdinClosed);
    process.stdin.resume();
  }
  const nodeId = values["node-id"] ?? defaultNodeId();
  // Tracing and metrics (--trace, --metrics-port, or the OTEL_* variables alone) start before the node,
  // so the node id and system are on the resource of every span and metric.
  const traced = tracingWanted(values.trace);
  const tracing = telemetryWanted(values.trace, metricsPort)
    ? (await loadStartTracing(metricsPort))({ file: values.trace, nodeId, system: values.system, serviceName: "troupe-node", metricsPort, report: (line) => console.error(`tracing [${nodeId}]: ${line}`) })
    : undefined;
  let flushedMs = 0;
  const nats = await resolveNats(values.nats, (line) => console.error(`troupe node: ${line}`));
  try {
    // A Prometheus port that cannot be had stops the node before it joins anything.
    await tracing?.metricsReady;
    const transport = await connectNats({ servers: nats.servers, name: `troupe-node ${values["node-id"] ?? ""}`.trim(), inboxPrefix: systemInboxPrefix(values.system), ...natsCredentialsFromEnv() });
    const system = await ActorSystem.start({ name: values.system, nodeId, tracing: traced, metrics: tracing?.metrics ?? false, transport, types: topology?.types, kinds: topology?.kinds });
    const say = (line: string): void => console.error(`[${system.nodeId}] ${line}`);
    system.onEvent((event) => say(describeEvent(event)));
    try {
      await topology?.worker?.(system);
    } catch (error) {
      // The node is up and would keep the process alive: take it down, then report.
      await system.shutdown();
      throw error;
    }
    console.log(JSON.stringify({ event: "ready", system: system.name, node: system.nodeId, inbox: system.inboxSubject, ...(metricsPort ? { metricsPort } : {}) }));
    const outcome = await Promise.race([signal.promise.then((name) => ({ signal: name })), system.closed().then((error) => ({ error }))]);
    if ("signal" in outcome) {
      say(`${outcome.signal}: shutting down`);
      // Draining needs the server: with the connection gone it could wait for a reconnect forever.
      // Unreferenced, the timer only fires if something still holds the process open by then.
      setTimeout(() => {
        say(`shutdown did not finish within ${shutdownMs} ms; exiting`);
        process.exit(1);
      }, shutdownMs).unref();
      flushedMs = await flushMetricsBeforeShutdown(tracing);
      await system.shutdown();
      return 0;
    }
    say(`stopped: ${outcome.error?.message ?? "closed"}`);
    return outcome.error ? 1 : 0;
  } finally {
    signal.dispose();
    // Stop reading stdin, or the open handle would keep this process alive after shutdown.
    process.stdin.off("close", onStdinClosed);
    process.stdin.destroy();
    // Bounded, and never rejects: a collector that is down cannot stop the NATS server below from stopping.
    const outcome = await tracing?.shutdown({ timeoutMs: shutdownMsAfterFlush(flushedMs) });
    await nats.stop();
    exitIfHeldOpen(outcome);
  }
}
