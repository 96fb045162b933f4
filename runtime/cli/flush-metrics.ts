import type { TracingHandle } from "../tracing/start-tracing.js";
import { DEFAULT_TRACING_SHUTDOWN_MS } from "../tracing/trace-export-env.js";

/** How long a node waits for its last metrics to go out before it shuts down: a collector that is down must not hold it. */
const FLUSH_MS = 1_000;

/**
 * Exports what the metric readers hold now, while the node's instruments are still registered (a node
 * unregisters them when it shuts down), waiting at most FLUSH_MS. Resolves with the milliseconds it
 * took, which the caller takes off its telemetry's shutdown deadline. Nothing to do without metrics.
 */
export async function flushMetricsBeforeShutdown(telemetry: TracingHandle | undefined): Promise<number> {
  if (!telemetry?.metrics) return 0;
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([telemetry.forceFlush().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, FLUSH_MS)))]);
  clearTimeout(timer);
  return Date.now() - started;
}

/** The least the telemetry gets to flush spans after a metrics flush took most of the deadline. */
const MIN_SHUTDOWN_MS = 300;

/** The telemetry's shutdown deadline once a flush took `flushedMs` of it: one deadline for both. */
export function shutdownMsAfterFlush(flushedMs: number): number {
  return Math.max(MIN_SHUTDOWN_MS, DEFAULT_TRACING_SHUTDOWN_MS - flushedMs);
}
