/**
 * A cache store in a NATS JetStream KV bucket, on the NATS server the nodes already use: no extra
 * server (the server needs JetStream: `nats-server -js`). `@nats-io/kv` is loaded on first use, with a
 * connection of the store's own.
 *
 * - An entry is one key (the request's hex digest) in a bucket that keeps one revision per key and drops
 *   keys older than `maxAgeMs` (the bucket's TTL; each entry's own, shorter TTL is in the entry).
 * - A lease is the key `lease.<digest>` holding `{ holder, untilMs }`. It is taken with a
 *   create-if-absent (`create`: fails when a live value exists), or, once the value's `untilMs` has
 *   passed (its holder died), by an `update` at the revision that was read: of two nodes taking over
 *   the same dead lease, one update fails. Renewing is an update at the holder's own last revision, so a
 *   holder that lost its lease cannot renew it; releasing deletes at that revision.
 * - `untilMs` is wall-clock time written by the holder and read by others: clocks of the nodes must
 *   agree to well within a lease (NTP does).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import { systemClock, type Clock } from "../clock.js";
import { loadOptional } from "../optional-dependency.js";
import { prepareNatsConnection, redactedServers, type NatsConnectionOptions } from "../transport/nats-connection-options.js";
import type { CacheStore } from "./cache-store.js";

/** Bucket defaults: its name, and the age past which the server drops any key. */
export const DEFAULT_KV_CACHE_BUCKET = "troupe-cache";
export const DEFAULT_KV_CACHE_MAX_AGE_MS = 24 * 60 * 60 * 1000;

export interface NatsKvCacheStoreOptions {
  /**
   * The NATS server(s) and any connection options (credentials, TLS) of nats.js, plus a `.creds` file:
   * prepared as the transport's are (`user:password@` in a server URL becomes credentials).
   */
  readonly connection: NatsConnectionOptions;
  /** Default `troupe-cache`. */
  readonly bucket?: string;
  /** Keys older than this are dropped by the server, whatever their entry says. Default 24 h. */
  readonly maxAgeMs?: number;
  readonly clock?: Clock;
}

/** JetStream's "wrong last sequence": the key is not at the revision the write expected. */
const CONFLICT_CODES = new Set([10071, 10164]);

export class NatsKvCacheStore implements CacheStore {
  readonly description: string;
  readonly bucket: string;
  private readonly clock: Clock;
  private opened: Promise<{ nc: NatsConnection; kv: KV }> | undefined;
  /** The revision of each lease this store holds, by lease key, in order of taking or renewal. */
  private readonly held = new Map<string, { holder: string; revision: number; untilMs: number }>();
  private closed = false;

  constructor(private readonly options: NatsKvCacheStoreOptions) {
    this.bucket = options.bucket ?? DEFAULT_KV_CACHE_BUCKET;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(this.bucket)) throw new TypeError(`a KV bucket name is letters, digits, '-' and '_'; got ${JSON.stringify(this.bucket)}`);
    this.description = `nats-kv bucket ${this.bucket} at ${redactedServers(options.connection.servers ?? "127.0.0.1:4222").join(",")}`;
    this.clock = options.clock ?? systemClock;
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.withKv(async (kv) => {
      const entry = await kv.get(key);
      return entry?.operation === "PUT" ? entry.value : undefined;
    });
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    await this.withKv((kv) => kv.put(key, value));
  }

  acquire(key: string, holder: string, leaseMs: number): Promise<boolean> {
    const leaseKey = `lease.${key}`;
    const untilMs = this.clock.now() + leaseMs;
    const lease = encodeLease(holder, untilMs);
    return this.withKv(async (kv) => {
      try {
        return this.hold(leaseKey, holder, untilMs, await kv.create(leaseKey, lease));
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
      const current = await kv.get(leaseKey);
      if (current === null || current.operation !== "PUT") return false; // released meanwhile: the next try creates it
      if (decodeLease(current.value).untilMs > this.clock.now()) return false;
      try {
        return this.hold(leaseKey, holder, untilMs, await kv.update(leaseKey, lease, current.revision));
      } catch (error) {
        if (isConflict(error)) return false; // another node took the dead lease over first
        throw error;
      }
    });
  }

  renew(key: string, holder: string, leaseMs: number): Promise<boolean> {
    const leaseKey = `lease.${key}`;
    const held = this.held.get(leaseKey);
    if (held?.holder !== holder) return Promise.resolve(false);
    return this.withKv(async (kv) => {
      try {
        const untilMs = this.clock.now() + leaseMs;
        this.hold(leaseKey, holder, untilMs, await kv.update(leaseKey, encodeLease(holder, untilMs), held.revision));
        return true;
      } catch (error) {
        if (!isConflict(error)) throw error;
        this.held.delete(leaseKey);
        return false;
      }
    });
  }

  async release(key: string, holder: string): Promise<void> {
    const leaseKey = `lease.${key}`;
    const held = this.held.get(leaseKey);
    if (held !== undefined && held.holder !== holder) return;
    this.held.delete(leaseKey);
    await this.withKv(async (kv) => {
      // Not known here: the create may have reached the server and its answer not come back (a timeout).
      // The record then names this holder, and is deleted at the revision read.
      let revision = held?.revision;
      if (revision === undefined) {
        const current = await kv.get(leaseKey);
        if (current?.operation !== "PUT" || decodeLease(current.value).holder !== holder) return;
        revision = current.revision;
      }
      try {
        await kv.delete(leaseKey, { previousSeq: revision });
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const opened = await this.opened?.catch(() => undefined);
    await opened?.nc.close();
  }

  private hold(leaseKey: string, holder: string, untilMs: number, revision: number): true {
    // Forget leases run out and never released (their release failed): they are in order of running out.
    for (const [key, lease] of this.held) {
      if (lease.untilMs > this.clock.now()) break;
      this.held.delete(key);
    }
    this.held.delete(leaseKey);
    this.held.set(leaseKey, { holder, revision, untilMs });
    return true;
  }

  /** Runs `fn` on the bucket; after a failure other than a conflict, the next call opens it afresh. */
  private async withKv<T>(fn: (kv: KV) => Promise<T>): Promise<T> {
    const opened = this.open();
    try {
      return await fn((await opened).kv);
    } catch (error) {
      // The server may have restarted without the bucket (JetStream storage is per server): reopen it.
      if (!isConflict(error) && this.opened === opened) {
        this.opened = undefined;
        void opened.then(({ nc }) => nc.close()).catch(() => undefined);
      }
      throw error;
    }
  }

  private open(): Promise<{ nc: NatsConnection; kv: KV }> {
    if (this.closed) return Promise.reject(new Error("the KV cache store is closed"));
    this.opened ??= (async () => {
      const [{ connect, credsAuthenticator }, { Kvm }] = await Promise.all([
        import("@nats-io/transport-node"),
        loadOptional("a NATS KV result cache", ["@nats-io/kv"], () => import("@nats-io/kv")),
      ]);
      const { connection } = prepareNatsConnection(this.options.connection, credsAuthenticator);
      const nc = await connect({ maxReconnectAttempts: -1, reconnectTimeWait: 250, name: "troupe-cache", ...connection });
      try {
        const kv = await new Kvm(nc).create(this.bucket, { history: 1, ttl: this.options.maxAgeMs ?? DEFAULT_KV_CACHE_MAX_AGE_MS, timeout: 2_000 });
        return { nc, kv };
      } catch (error) {
        await nc.close();
        throw new Error(`cannot open the KV bucket ${this.bucket} (does the server run JetStream, nats-server -js?): ${(error as Error).message}`, { cause: error });
      }
    })();
    const pending = this.opened;
    // A first open that failed is tried again on the next use.
    pending.catch(() => {
      if (this.opened === pending) this.opened = undefined;
    });
    return pending;
  }
}

function encodeLease(holder: string, untilMs: number): Uint8Array {
  return Buffer.from(JSON.stringify({ holder, untilMs }), "utf8");
}

function decodeLease(bytes: Uint8Array): { holder: string; untilMs: number } {
  try {
    const lease = JSON.parse(Buffer.from(bytes).toString("utf8")) as { holder?: unknown; untilMs?: unknown };
    return { holder: String(lease.holder), untilMs: Number(lease.untilMs) || 0 };
  } catch {
    return { holder: "", untilMs: 0 }; // unreadable: taken for expired, so it cannot block the key forever
  }
}

function isConflict(error: unknown): boolean {
  return CONFLICT_CODES.has((error as { code?: unknown } | null)?.code as number);
}
