// `troupe/cache`: a result cache for workers (`defineWorker({ ..., cache })`), routers and services (their
// `cache` option) and any other computation:
// one interface (`CacheStore`), three stores (memory, NATS JetStream KV, Redis), single flight across
// nodes. `@nats-io/kv` and `ioredis` (an optional peer dependency) load only when their store is used.
export {
  ResultCache,
  DEFAULT_CACHE_TTL_MS,
  DEFAULT_MAX_CACHE_VALUE_BYTES,
  DEFAULT_CACHE_LEASE_MS,
  DEFAULT_CACHE_MAX_WAIT_MS,
  DEFAULT_CACHE_OP_TIMEOUT_MS,
  DEFAULT_CACHE_RETRY_AFTER_MS,
  type ResultCacheOptions,
  type CacheAnswer,
  type CacheOutcome,
  type CacheCounters,
  type CacheEvent,
  type TypedBytes,
} from "./result-cache.js";
export type { AskCacheOption, AskCacheCounters } from "./ask-cache.js";
export type { CacheStore } from "./cache-store.js";
export { resultCacheKey, type CacheKeyParts } from "./cache-key.js";
export { MemoryCacheStore, DEFAULT_MEMORY_CACHE_BYTES, type MemoryCacheStoreOptions } from "./memory-cache-store.js";
export { NatsKvCacheStore, DEFAULT_KV_CACHE_BUCKET, DEFAULT_KV_CACHE_MAX_AGE_MS, type NatsKvCacheStoreOptions } from "./nats-kv-cache-store.js";
export { RedisCacheStore, type RedisCacheStoreOptions } from "./redis-cache-store.js";
export { openCacheStore, openResultCache, InvalidCacheUrlError, type OpenCacheStoreOptions } from "./open-result-cache.js";
