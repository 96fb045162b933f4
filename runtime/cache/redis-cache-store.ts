/**
 * A cache store on Redis (`redis://host:port[/db]`, `rediss://` for TLS), through `ioredis`, an optional
 * peer dependency loaded on first use. Entries are plain keys with a TTL (`SET key value PX ttl`); a
 * lease is a second key taken with `SET lease holder NX PX leaseMs`, renewed and released by scripts that
 * first check the holder, so a holder whose lease ran out can never renew or delete its successor's.
 */
import type { Redis, RedisOptions } from "ioredis";
import { loadOptional } from "../optional-dependency.js";
import type { CacheStore } from "./cache-store.js";

export interface RedisCacheStoreOptions {
  /** Prepended to every key. Default `troupe:cache:`. */
  readonly keyPrefix?: string;
  /** Passed to ioredis as they are (TLS, password, timeouts...). */
  readonly redis?: RedisOptions;
}

const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

export class RedisCacheStore implements CacheStore {
  readonly description: string;
  private readonly prefix: string;
  private clientPromise: Promise<Redis> | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly options: RedisCacheStoreOptions = {},
  ) {
    const parsed = new URL(url);
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") throw new TypeError(`a Redis cache needs a redis:// or rediss:// URL; got ${parsed.protocol}`);
    this.description = `${parsed.protocol}//${parsed.host}${parsed.pathname === "/" ? "" : parsed.pathname}`;
    this.prefix = options.keyPrefix ?? "troupe:cache:";
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return (await (await this.client()).getBuffer(this.prefix + key)) ?? undefined;
  }

  async set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    await (await this.client()).set(this.prefix + key, Buffer.from(value.buffer, value.byteOffset, value.byteLength), "PX", Math.max(1, Math.round(ttlMs)));
  }

  async acquire(key: string, holder: string, leaseMs: number): Promise<boolean> {
    return (await (await this.client()).set(this.leaseKey(key), holder, "PX", Math.max(1, Math.round(leaseMs)), "NX")) === "OK";
  }

  async renew(key: string, holder: string, leaseMs: number): Promise<boolean> {
    return (await (await this.client()).eval(RENEW, 1, this.leaseKey(key), holder, String(Math.max(1, Math.round(leaseMs))))) === 1;
  }

  async release(key: string, holder: string): Promise<void> {
    await (await this.client()).eval(RELEASE, 1, this.leaseKey(key), holder);
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = await this.clientPromise?.catch(() => undefined);
    client?.disconnect();
  }

  private leaseKey(key: string): string {
    return `${this.prefix}lease:${key}`;
  }

  private client(): Promise<Redis> {
    if (this.closed) return Promise.reject(new Error("the Redis cache store is closed"));
    this.clientPromise ??= (async () => {
      const { Redis } = await loadOptional("a Redis result cache", ["ioredis"], () => import("ioredis"));
      const client = new Redis(this.url, {
        lazyConnect: true,
        // Fail fast while the server is away (the cache computes without it) and reconnect in the background.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: 2_000,
        retryStrategy: (times) => Math.min(times * 100, 1_000),
        ...this.options.redis,
      });
      // Failures reach the cache through the commands; without a listener ioredis prints each one.
      let lastError: Error | undefined;
      client.on("error", (error: Error) => (lastError = error));
      try {
        await client.connect();
      } catch (error) {
        client.disconnect(); // or it would keep reconnecting in the background, and hold the process open
        // ioredis rejects with "Connection is closed."; the socket's error says why (ECONNREFUSED, ...).
        throw new Error(`cannot connect: ${lastError?.message ?? (error as Error).message}`, { cause: error });
      }
      return client;
    })();
    const pending = this.clientPromise;
    // A first connection that failed is tried again on the next use.
    pending.catch(() => {
      if (this.clientPromise === pending) this.clientPromise = undefined;
    });
    return pending;
  }
}
