import type { ActorDefinition } from "../../runtime/actor-definition.js";
import type { ActorRef } from "../../runtime/actor-ref.js";
import type { MessageType } from "../../runtime/codec/message-type.js";
import type { Placement } from "../../runtime/remote/placement.js";

/** One unit of work: an id unique within the job (the reducer's dedupe key) and its payload. */
export interface JobTask<T> {
  readonly id: string;
  readonly payload: T;
}

export type TaskSource<T> = Iterable<JobTask<T>> | AsyncIterable<JobTask<T>>;

/** A job for the work supervisor. Defaults are stated next to each field. */
export interface JobSpec<T extends object> {
  /** Names the job: running a job with the same id again resumes it from the reducer's durable state. */
  readonly id: string;
  /**
   * The tasks, pulled as workers have room: a list, a generator, an async stream, or a function making
   * one (the split function; called again if the work supervisor restarts, so prefer it to a one-shot
   * generator).
   */
  readonly tasks: TaskSource<T> | (() => TaskSource<T>);
  /** How many tasks there are, when known (for progress). */
  readonly total?: number;
  readonly taskType: MessageType<T>;
  /** A definition from `defineWorker`, whose kind the worker nodes register. */
  readonly worker: ActorDefinition<any, any, any>;
  /** Where results go: a reducer from `defineReducer`. */
  readonly reducer: ActorRef<any>;
  /** Worker children. Default 2. */
  readonly workers?: number;
  /** Where they run. Default "round-robin" over the nodes hosting the worker's kind. */
  readonly placement?: Placement;
  /** Tasks handed to one worker and not yet durable (backpressure). Default 8. */
  readonly maxInFlightPerWorker?: number;
  /** Tries per task before it is set aside with its errors. Default 3. */
  readonly maxAttempts?: number;
  /** A task not durable this long after it was handed out is handed out again. Default 30,000 ms. */
  readonly taskTimeoutMs?: number;
  /** How often the supervisor checks timeouts and replaced workers. Default 100 ms. */
  readonly tickMs?: number;
  /** Told about progress, at most every `progressEveryMs` (default 250) and at the end. */
  readonly onProgress?: (progress: JobProgress) => void;
  readonly progressEveryMs?: number;
}

export interface JobProgress {
  readonly jobId: string;
  readonly total: number | undefined;
  /** Durable in the reducer (this run or an earlier one). */
  readonly done: number;
  /** Already durable when this run started: not handed out again. */
  readonly skipped: number;
  /** Handed out and not yet durable: at workers, or computed and waiting for a checkpoint. */
  readonly inFlight: number;
  /** Computed and merged, waiting for the reducer's next checkpoint to become `done` (part of `inFlight`). */
  readonly awaitingDurable: number;
  /** Hand-outs after the first for some task (failure, lost worker, timeout). */
  readonly retried: number;
  /** Set aside after `maxAttempts`. */
  readonly failed: number;
  /** How the workers' result cache answered, once a worker with a cache (`defineWorker`'s `cache`) has reported. */
  readonly cache?: JobCacheCounts;
}

/** Tasks by how the workers' result cache answered them (see troupe/cache's CacheOutcome). */
export interface JobCacheCounts {
  readonly hits: number;
  readonly misses: number;
  /** Answered by an identical task's computation (single flight). */
  readonly waits: number;
  /** Computed without the cache's store, which was unavailable. */
  readonly bypassed: number;
  /** Computing time that hits and waits saved (ms, as measured where each result was computed). */
  readonly savedMs: number;
}

export interface SetAsideTask {
  readonly taskId: string;
  readonly attempts: number;
  readonly errors: readonly string[];
}

export interface JobResult extends JobProgress {
  /** Hand-outs in this run, first ones and retries. */
  readonly dispatched: number;
  readonly setAside: readonly SetAsideTask[];
  readonly durationMs: number;
  /** Tasks answered from the workers' result cache, by task id: a hit, or a wait on an identical task. */
  readonly cached: Readonly<Record<string, { readonly outcome: "hit" | "wait"; readonly savedMs: number }>>;
}
