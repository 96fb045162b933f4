// Built-in actors people compose; re-exported by the public index (runtime/index.ts).
export { defineReducer, type ReducerSpec, type ReducerProps, type ReducerActorState } from "./reducer/define-reducer.js";
export { defineWorker, type WorkerSpec } from "./work/define-worker.js";
export type { WorkerCacheOption } from "./work/worker-cache.js";
export { runJob } from "./work/run-job.js";
export type { JobSpec, JobTask, JobProgress, JobResult, JobCacheCounts, SetAsideTask, TaskSource } from "./work/job-spec.js";
export { formatProgress } from "./work/format-progress.js";
