import type { ActorContext } from "../../runtime/actor-context.js";
import type { CacheAnswer, CacheOutcome, ResultCache } from "../../runtime/cache/result-cache.js";
import { resultCacheKey } from "../../runtime/cache/cache-key.js";
import { otelApi } from "../../runtime/tracing/otel-api.js";
import { troupe } from "../../proto/gen/troupe.js";

/** A worker's result cache: repeated tasks (the same bytes) are answered from it instead of computed. */
export interface WorkerCacheOption<T = any> {
  /**
   * The cache, or a function giving the one of the worker's node (called for each task with the
   * worker's context; undefined means none: compute). A function lets each node use its own client,
   * e.g. opened from a URL in its environment.
   */
  readonly use: ResultCache | ((ctx: ActorContext) => ResultCache | undefined);
  /** Part of every key: bump it when `run` changes what it computes, and old entries are never read. */
  readonly version: string | number;
  /** How long a result is answered from the cache; default the cache's `ttlMs` (1 hour). */
  readonly ttlMs?: number;
  /**
   * The bytes that identify the work, when the task's own bytes do not: e.g. the content of the file a
   * task names, so that the same photo under another name is a hit and a changed file is not. Default:
   * the task's encoded bytes.
   */
  readonly key?: (task: T, ctx: ActorContext) => Uint8Array | Promise<Uint8Array>;
}

const OUTCOME: Record<CacheOutcome, troupe.work.CacheOutcome> = {
  hit: troupe.work.CacheOutcome.CACHE_HIT,
  miss: troupe.work.CacheOutcome.CACHE_MISS,
  wait: troupe.work.CacheOutcome.CACHE_WAIT,
  bypass: troupe.work.CacheOutcome.CACHE_BYPASS,
};

export interface CachedResult {
  readonly bytes: Uint8Array;
  readonly outcome: troupe.work.CacheOutcome;
  readonly savedMs: number;
}

/**
 * Computes a task's result bytes through the worker's cache, keyed by the worker's kind, the cache
 * version, the task's type and its bytes. With tracing on, the processing span says how it went
 * (`troupe.cache.*` attributes and an event).
 */
export async function throughWorkerCache<T>(
  option: WorkerCacheOption<T> | undefined,
  task: { readonly kind: string; readonly type: string; readonly bytes: Uint8Array; readonly decoded: T; readonly resultType: string },
  validate: (bytes: Uint8Array) => void,
  compute: () => Promise<Uint8Array>,
  ctx: ActorContext,
): Promise<CachedResult> {
  const cache = typeof option?.use === "function" ? option.use(ctx) : option?.use;
  if (option === undefined || cache === undefined) return { bytes: await compute(), outcome: troupe.work.CacheOutcome.CACHE_UNUSED, savedMs: 0 };
  // Taken now, while the processing span is surely the active one.
  const span = ctx.tracer === undefined ? undefined : otelApi()?.trace.getActiveSpan();
  const key = resultCacheKey({ kind: task.kind, version: option.version, type: task.type, bytes: option.key ? await option.key(task.decoded, ctx) : task.bytes });
  const answer: CacheAnswer = await cache.getOrCompute(key, task.resultType, compute, { ttlMs: option.ttlMs, validate });
  if (span) {
    const attributes = { "troupe.cache.outcome": answer.outcome, "troupe.cache.store": cache.store.description, "troupe.cache.key": key.slice(0, 16), "troupe.cache.saved_ms": Math.round(answer.savedMs) };
    span.setAttributes(attributes);
    span.addEvent(`cache ${answer.outcome}`, attributes);
  }
  return { bytes: answer.bytes, outcome: OUTCOME[answer.outcome], savedMs: Math.round(answer.savedMs) };
}
