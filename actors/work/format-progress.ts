import type { JobProgress } from "./job-spec.js";

/**
 * One line of progress: a bar when the total is known and `bar` is set (a terminal), plain figures
 * otherwise (logs).
 */
export function formatProgress(p: JobProgress, bar: boolean): string {
  const figures = `done ${p.done}${p.total === undefined ? "" : `/${p.total}`}, in flight ${p.inFlight}, retried ${p.retried}, failed ${p.failed}${p.skipped ? `, resumed past ${p.skipped}` : ""}${p.cache ? `, cache ${p.cache.hits} hits ${p.cache.waits} waits ${p.cache.misses} misses${p.cache.bypassed ? ` ${p.cache.bypassed} without store` : ""} (saved ${(p.cache.savedMs / 1000).toFixed(1)} s)` : ""}`;
  if (!bar || p.total === undefined || p.total === 0) return `job ${p.jobId}: ${figures}`;
  const width = 30;
  const filled = Math.min(width, Math.round((p.done / p.total) * width));
  return `job ${p.jobId} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${Math.floor((p.done / p.total) * 100)}% ${figures}`;
}
