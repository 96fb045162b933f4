/**
 * Where a `ResultCache` keeps entries: a small key → bytes store with expiry, plus a lease per key for
 * single flight across nodes. Three adapters: `MemoryCacheStore` (this process, an LRU with a byte
 * budget), `NatsKvCacheStore` (a JetStream KV bucket on the NATS server the nodes already use) and
 * `RedisCacheStore` (`redis://`); `openCacheStore` picks one from a URL.
 *
 * Keys are lowercase hex digests (what `resultCacheKey` makes), so every store accepts them as they are.
 * A store throws when it cannot do what was asked (server down, timeout); the cache then carries on
 * without it. It never needs to validate values: the cache frames and checks them (cache-entry.ts).
 */
export interface CacheStore {
  /** Where the entries live (`memory:`, `nats-kv://127.0.0.1:4222/troupe-cache`, ...): never credentials. */
  readonly description: string;
  /** The bytes last stored under `key`, or undefined when there are none (or they expired). */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Stores `value` under `key` for `ttlMs` (the store may drop it earlier: it is a cache). */
  set(key: string, value: Uint8Array, ttlMs: number): Promise<void>;
  /**
   * Takes the lease on `key` for `holder` when nobody holds it (or the last holder's lease has run out):
   * true when `holder` now holds it for `leaseMs`. Atomic across every user of the store.
   */
  acquire(key: string, holder: string, leaseMs: number): Promise<boolean>;
  /** Extends `holder`'s lease by `leaseMs` from now; false when it is no longer `holder`'s. */
  renew(key: string, holder: string, leaseMs: number): Promise<boolean>;
  /** Gives the lease up, if `holder` still holds it. */
  release(key: string, holder: string): Promise<void>;
  close(): Promise<void>;
}
