import type { TracingOutcome } from "../tracing/start-tracing.js";

/**
 * Called last, when a command has stopped everything it started. After a tracing shutdown that gave
 * up on a collector, the OTLP exporter may still hold a socket or a retry timer for up to its own
 * timeout (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s by default) and keep the process alive for nothing. An
 * unreferenced timer fires only if something still holds the process open, and then ends it with
 * the exit code the command set.
 */
export function exitIfHeldOpen(tracing: TracingOutcome | undefined, graceMs = 100): void {
  const troubled = tracing !== undefined && (tracing.timedOut || tracing.exports.some((e) => e.failed > 0));
  if (troubled) setTimeout(() => process.exit(), graceMs).unref();
}
