import type { Context } from "@opentelemetry/api";
import { otelApi } from "../../runtime/tracing/otel-api.js";
import { formatAddress } from "../../runtime/address.js";
import type { ActorContext } from "../../runtime/actor-context.js";
import { defineActor } from "../../runtime/actor-definition.js";
import type { ActorRef } from "../../runtime/actor-ref.js";
import { protobufNameOf } from "../../runtime/codec/message-type.js";
import { Terminated } from "../../runtime/watch/termination.js";
import { troupe } from "../../proto/gen/troupe.js";
import type { JobCacheCounts, JobProgress, JobResult, JobSpec, JobTask, SetAsideTask } from "./job-spec.js";

const { Task, TaskDone, TaskFailed, ResultDurable, AppliedTasksRequest, AppliedTasks, Tick, CacheOutcome } = troupe.work;

export interface WorkSupervisorProps {
  readonly spec: JobSpec<any>;
  readonly finished: (result: JobResult) => void;
  /** The job's root span, when tracing: tasks are handed out under it. */
  readonly traceContext?: Context;
}

interface TrackedTask {
  readonly id: string;
  readonly payload: Uint8Array;
  attempt: number;
  readonly errors: string[];
  /** Address key of the worker holding it, while handed out and not yet computed. */
  worker: string | undefined;
  /** The worker reported it computed; the result is on its way to durability. */
  computed: boolean;
  handedOutAtMs: number;
}

interface WorkerSlot {
  readonly ref: ActorRef<any>;
  readonly tasks: Set<string>;
}

interface State {
  readonly spec: JobSpec<any>;
  readonly finished: (result: JobResult) => void;
  readonly traceContext: Context | undefined;
  readonly payloadType: string;
  readonly startedAtMs: number;
  readonly iterator: Iterator<JobTask<any>> | AsyncIterator<JobTask<any>>;
  readonly workers: Map<string, WorkerSlot>;
  readonly tasks: Map<string, TrackedTask>;
  readonly ready: string[];
  alreadyDone: ReadonlySet<string>;
  exhausted: boolean;
  over: boolean;
  done: number;
  skipped: number;
  retried: number;
  dispatched: number;
  readonly setAside: SetAsideTask[];
  lastProgressAtMs: number;
  /** Workers spawned so far (names worker-1, worker-2, ...), replacements included. */
  spawned: number;
  /** Computed by a worker, waiting for the reducer to make the result durable. */
  awaitingDurable: number;
  /** How the workers' cache answered, once one reported (the last attempt of each task counts). */
  cache: { hits: number; misses: number; waits: number; bypassed: number; savedMs: number } | undefined;
  readonly cached: Record<string, { outcome: "hit" | "wait"; savedMs: number }>;
}

const keyOf = (ref: ActorRef<any>): string => formatAddress(ref.address);

/**
 * Runs one job: keeps a pool of worker children (on other nodes, by placement), hands each at most
 * `maxInFlightPerWorker` tasks, and tracks every task until the reducer says its result is durable.
 * Tasks of a worker that is lost (node gone, or stopped) or that time out are handed out again; a task
 * whose function fails `maxAttempts` times is set aside with its errors. Before handing anything out it
 * asks the reducer which tasks of this job are already durable, so a rerun resumes.
 */
export const workSupervisor = defineActor({
  messages: { ResultDurable, TaskDone, TaskFailed, Terminated, Tick },
  init: (props: WorkSupervisorProps): State => {
    const { spec } = props;
    const source = (typeof spec.tasks === "function" ? spec.tasks() : spec.tasks) as Partial<AsyncIterable<JobTask<any>>> & Partial<Iterable<JobTask<any>>>;
    const iterator = source[Symbol.asyncIterator]?.() ?? source[Symbol.iterator]!();
    return {
      spec,
      finished: props.finished,
      traceContext: props.traceContext,
      payloadType: protobufNameOf(spec.taskType),
      startedAtMs: 0,
      iterator,
      workers: new Map(),
      tasks: new Map(),
      ready: [],
      alreadyDone: new Set(),
      exhausted: false,
      over: false,
      done: 0,
      skipped: 0,
      retried: 0,
      dispatched: 0,
      setAside: [],
      lastProgressAtMs: 0,
      spawned: 0,
      awaitingDurable: 0,
      cache: undefined,
      cached: {},
    };
  },
  started: async (state, ctx) => {
    const { spec } = state;
    const applied = await spec.reducer.ask(AppliedTasksRequest.create({ jobId: spec.id }), AppliedTasks, { timeoutMs: 30_000 });
    const next = { ...state, alreadyDone: new Set(applied.taskIds), startedAtMs: ctx.clock.now(), lastProgressAtMs: ctx.clock.now() };
    ensureWorkers(next, ctx);
    ctx.scheduleRepeatedly(spec.tickMs ?? 100, Tick.create());
    // Hand out the first tasks now rather than on the first tick.
    adoptWorkers(next, ctx);
    await pump(next, ctx);
    return next;
  },
  handlers: {
    ResultDurable: async (state, message, ctx) => {
      const task = state.tasks.get(message.taskId);
      if (task === undefined) return; // an earlier attempt's result, after this one was done
      if (task.worker === undefined && task.computed) state.awaitingDurable--;
      release(state, task);
      state.tasks.delete(task.id);
      state.done++;
      await pump(state, ctx);
    },
    TaskDone: async (state, message, ctx) => {
      const task = state.tasks.get(message.taskId);
      if (task === undefined || task.attempt !== message.attempt || task.worker === undefined) return;
      release(state, task);
      task.computed = true;
      state.awaitingDurable++;
      countCache(state, message);
      await pump(state, ctx);
    },
    TaskFailed: async (state, message, ctx) => {
      const task = state.tasks.get(message.taskId);
      if (task === undefined || task.attempt !== message.attempt || task.worker === undefined) return;
      retryOrSetAside(state, task, message.error);
      await pump(state, ctx);
    },
    Terminated: async (state, message, ctx) => {
      const key = message.actor ? formatAddress({ system: message.actor.system!, node: message.actor.node!, path: message.actor.path! }) : "";
      const slot = state.workers.get(key);
      if (slot === undefined) return;
      state.workers.delete(key);
      for (const id of [...slot.tasks]) {
        const task = state.tasks.get(id);
        if (task) retryOrSetAside(state, task, `worker ${key} is gone (${message.reason}${message.detail ? `: ${message.detail}` : ""})`);
      }
      await pump(state, ctx);
    },
    Tick: async (state, _tick, ctx) => {
      ensureWorkers(state, ctx);
      adoptWorkers(state, ctx);
      const timeoutMs = state.spec.taskTimeoutMs ?? 30_000;
      const now = ctx.clock.now();
      for (const task of state.tasks.values()) {
        if (task.attempt > 0 && (task.worker !== undefined || task.computed) && now - task.handedOutAtMs > timeoutMs) retryOrSetAside(state, task, `not durable within ${timeoutMs} ms`);
      }
      await pump(state, ctx);
    },
  },
});

/** Hands out tasks while some worker has room; finishes the job when nothing is left. */
async function pump(state: State, ctx: ActorContext): Promise<void> {
  if (state.over) return;
  const max = state.spec.maxInFlightPerWorker ?? 8;
  for (;;) {
    const worker = leastBusy(state, max);
    if (worker === undefined) break;
    const task = await nextTask(state);
    if (task === undefined) break;
    handOut(state, task, worker, ctx);
  }
  reportProgress(state, ctx, false);
  if (state.exhausted && state.tasks.size === 0) finish(state, ctx);
}

async function nextTask(state: State): Promise<TrackedTask | undefined> {
  const retry = state.ready.shift();
  if (retry !== undefined) return state.tasks.get(retry);
  while (!state.exhausted) {
    const next = await state.iterator.next();
    if (next.done) {
      state.exhausted = true;
      return undefined;
    }
    const { id, payload } = next.value;
    if (state.alreadyDone.has(id)) {
      state.skipped++;
      state.done++;
      continue;
    }
    if (state.tasks.has(id)) throw new Error(`job ${state.spec.id} has two tasks with id ${JSON.stringify(id)}`);
    const task: TrackedTask = { id, payload: state.spec.taskType.encode(payload).finish(), attempt: 0, errors: [], worker: undefined, computed: false, handedOutAtMs: 0 };
    state.tasks.set(id, task);
    return task;
  }
  return undefined;
}

function handOut(state: State, task: TrackedTask, worker: WorkerSlot, ctx: ActorContext): void {
  task.attempt++;
  task.computed = false;
  if (task.attempt > 1) state.retried++;
  task.worker = keyOf(worker.ref);
  task.handedOutAtMs = ctx.clock.now();
  worker.tasks.add(task.id);
  state.dispatched++;
  const message = Task.create({ jobId: state.spec.id, taskId: task.id, attempt: task.attempt, payloadType: state.payloadType, payload: task.payload, reducer: state.spec.reducer.address, ackTo: ctx.self.address });
  if (state.traceContext === undefined) worker.ref.tell(message, ctx.self);
  // A trace context exists only when the job is traced, and so the API is loaded.
  else otelApi()!.context.with(state.traceContext, () => worker.ref.tell(message, ctx.self));
}

/**
 * Makes the pool match the children: adopts new ones (and workers restarted elsewhere with new refs),
 * and drops slots whose worker is no longer a child, handing their tasks out again. The children are
 * the truth: a Terminated can be missed (its watch lost with a connection), the supervision tree not.
 */
function adoptWorkers(state: State, ctx: ActorContext): void {
  const current = new Set<string>();
  for (const ref of ctx.children()) {
    const key = keyOf(ref);
    current.add(key);
    if (!state.workers.has(key)) {
      state.workers.set(key, { ref, tasks: new Set() });
      ctx.watch(ref);
    }
  }
  for (const [key, slot] of state.workers) {
    if (current.has(key)) continue;
    state.workers.delete(key);
    for (const id of [...slot.tasks]) {
      const task = state.tasks.get(id);
      if (task) retryOrSetAside(state, task, `worker ${key} is no longer in the pool`);
    }
  }
}

/** Keeps the pool at its size: workers stopped for good (not restarted by supervision) are replaced. */
function ensureWorkers(state: State, ctx: ActorContext): void {
  const wanted = state.spec.workers ?? 2;
  for (let have = ctx.children().length; have < wanted; have++) {
    try {
      ctx.spawn(state.spec.worker, { name: `worker-${++state.spawned}`, placement: state.spec.placement ?? "round-robin" });
    } catch {
      // No node hosts the kind right now (all lost, or not yet heard from): try again on the next tick.
      return;
    }
  }
}

function leastBusy(state: State, max: number): WorkerSlot | undefined {
  let best: WorkerSlot | undefined;
  for (const slot of state.workers.values()) if (slot.tasks.size < max && (best === undefined || slot.tasks.size < best.tasks.size)) best = slot;
  return best;
}

function release(state: State, task: TrackedTask): void {
  if (task.worker !== undefined) state.workers.get(task.worker)?.tasks.delete(task.id);
  task.worker = undefined;
}

function retryOrSetAside(state: State, task: TrackedTask, error: string): void {
  if (task.computed) state.awaitingDurable--;
  task.computed = false;
  release(state, task);
  task.errors.push(`attempt ${task.attempt}: ${error}`);
  if (task.attempt >= (state.spec.maxAttempts ?? 3)) {
    state.tasks.delete(task.id);
    state.setAside.push({ taskId: task.id, attempts: task.attempt, errors: task.errors });
  } else {
    state.ready.push(task.id);
  }
}

function countCache(state: State, done: troupe.work.TaskDone): void {
  if (done.cache === CacheOutcome.CACHE_UNUSED) return;
  const cache = (state.cache ??= { hits: 0, misses: 0, waits: 0, bypassed: 0, savedMs: 0 });
  if (done.cache === CacheOutcome.CACHE_HIT || done.cache === CacheOutcome.CACHE_WAIT) {
    const outcome = done.cache === CacheOutcome.CACHE_HIT ? "hit" : "wait";
    cache[outcome === "hit" ? "hits" : "waits"]++;
    cache.savedMs += done.cacheSavedMs;
    state.cached[done.taskId] = { outcome, savedMs: done.cacheSavedMs };
  } else if (done.cache === CacheOutcome.CACHE_MISS) cache.misses++;
  else if (done.cache === CacheOutcome.CACHE_BYPASS) cache.bypassed++;
}

function progressOf(state: State): JobProgress {
  return {
    jobId: state.spec.id,
    total: state.spec.total,
    done: state.done,
    skipped: state.skipped,
    inFlight: [...state.workers.values()].reduce((n, w) => n + w.tasks.size, 0) + state.awaitingDurable,
    awaitingDurable: state.awaitingDurable,
    retried: state.retried,
    failed: state.setAside.length,
    ...(state.cache === undefined ? {} : { cache: { ...state.cache } satisfies JobCacheCounts }),
  };
}

function reportProgress(state: State, ctx: ActorContext, final: boolean): void {
  const now = ctx.clock.now();
  if (!final && now - state.lastProgressAtMs < (state.spec.progressEveryMs ?? 250)) return;
  state.lastProgressAtMs = now;
  state.spec.onProgress?.(progressOf(state));
}

function finish(state: State, ctx: ActorContext): void {
  state.over = true;
  reportProgress(state, ctx, true);
  const result = { ...progressOf(state), dispatched: state.dispatched, setAside: state.setAside, durationMs: ctx.clock.now() - state.startedAtMs, cached: state.cached };
  // The job is over once its workers have stopped too, so that the same job id can run again at once.
  void ctx.stop().then(() => state.finished(result));
}
