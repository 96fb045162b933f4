import type { NodeStats } from "../../runtime/stats/node-stats.js";
import type { JobProgress, JobSpec } from "./job-spec.js";

/**
 * The spec with its progress also kept in the node's stats, when metrics are on (the job gauges read
 * them: tasks done, failed, retried, in flight). The work supervisor reports progress at most every
 * `progressEveryMs` (250 ms by default) and once at the end.
 */
export function meteredJob<T extends object>(spec: JobSpec<T>, stats: NodeStats | undefined): JobSpec<T> {
  if (stats === undefined) return spec;
  const onProgress = (progress: JobProgress): void => {
    stats.jobProgress(spec.id, progress);
    spec.onProgress?.(progress);
  };
  stats.jobProgress(spec.id, { done: 0, failed: 0, retried: 0, inFlight: 0 });
  return { ...spec, onProgress };
}
