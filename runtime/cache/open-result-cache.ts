import type { ConnectionOptions } from "@nats-io/transport-node";
import { splitUserinfo } from "../transport/nats-connection-options.js";
import type { CacheStore } from "./cache-store.js";
import { MemoryCacheStore } from "./memory-cache-store.js";
import { NatsKvCacheStore } from "./nats-kv-cache-store.js";
import { RedisCacheStore, type RedisCacheStoreOptions } from "./redis-cache-store.js";
import { ResultCache, type ResultCacheOptions } from "./result-cache.js";

export interface OpenCacheStoreOptions {
  /**
   * For `nats-kv:` with no host: the connection to use (servers, credentials, TLS), normally the run's
   * own NATS. Without it, `NATS_URL`.
   */
  readonly nats?: ConnectionOptions & { readonly credsFile?: string };
  /** For `memory:`: the byte budget (default 64 MiB). */
  readonly memoryMaxBytes?: number;
  readonly redis?: RedisCacheStoreOptions;
}

const ACCEPTED = "memory: (this process), nats-kv: (a JetStream KV bucket on the nodes' NATS server; nats-kv://host:port/bucket for another) or redis://host:port[/db]";

/** A cache URL that names no store; the message lists the accepted forms. */
export class InvalidCacheUrlError extends Error {
  override readonly name = "InvalidCacheUrlError";
  constructor(url: string, reason: string) {
    super(`cannot open result cache ${JSON.stringify(withoutUserinfo(url))}: ${reason}; use ${ACCEPTED}`);
  }
}

/** `url` with its user:password@ part shown as `***@`: a password may hold `/` or `@` unencoded. */
function withoutUserinfo(url: string): string {
  const { server, userinfo } = splitUserinfo(url);
  return userinfo === undefined ? url : server.replace(/^([a-z][a-z0-9+.-]*:\/\/)?/i, "$1***@");
}

/**
 * Opens the cache store a URL names: `memory:`, `nats-kv:` (bucket `troupe-cache` on `options.nats` or
 * NATS_URL), `nats-kv:BUCKET`, `nats-kv://host:port[/bucket]`, `redis://[:password@]host:port[/db]` or
 * `rediss://...`. Nothing connects until the first use.
 */
export function openCacheStore(url: string, options: OpenCacheStoreOptions = {}): CacheStore {
  if (url === "memory:") return new MemoryCacheStore({ maxBytes: options.memoryMaxBytes });
  if (url === "nats-kv:" || /^nats-kv:[A-Za-z0-9_-]+$/.test(url)) {
    const connection = options.nats ?? (process.env.NATS_URL ? { servers: process.env.NATS_URL.split(",") } : undefined);
    if (connection === undefined) throw new InvalidCacheUrlError(url, "no NATS server to put the bucket on (no connection given, and NATS_URL is not set)");
    return new NatsKvCacheStore({ connection, bucket: url.slice("nats-kv:".length) || undefined });
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidCacheUrlError(url, "it is not a URL");
  }
  switch (parsed.protocol) {
    case "nats-kv:": {
      if (!parsed.host) throw new InvalidCacheUrlError(url, "nats-kv:// needs a host:port");
      const bucket = decodeURIComponent(parsed.pathname.replace(/^\/+|\/+$/g, "")) || undefined;
      // nats.js ignores user:password@ in a server URL: they travel as options.
      const user = parsed.username ? { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) } : {};
      return new NatsKvCacheStore({ connection: { ...options.nats, ...user, servers: `nats://${parsed.host}` }, bucket });
    }
    case "redis:":
    case "rediss:":
      return new RedisCacheStore(url, options.redis);
    default:
      throw new InvalidCacheUrlError(url, `the scheme ${parsed.protocol} is not a cache store`);
  }
}

/** `new ResultCache(openCacheStore(url, options), options)`. */
export function openResultCache(url: string, options: OpenCacheStoreOptions & ResultCacheOptions = {}): ResultCache {
  return new ResultCache(openCacheStore(url, options), options);
}
