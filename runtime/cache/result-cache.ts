import { randomUUID } from "node:crypto";
import { systemClock, type Clock } from "../clock.js";
import { positiveNumber } from "../positive-number.js";
import { decodeEntry, encodeEntry, ENTRY_OVERHEAD_BYTES, type CacheEntry } from "./cache-entry.js";
import type { CacheStore } from "./cache-store.js";

/** Defaults, stated next to the options they fill. */
export const DEFAULT_CACHE_TTL_MS = 60 * 60 * 1000;
// Half of NATS's default max_payload (1 MiB): an entry always fits one message to a KV bucket.
export const DEFAULT_MAX_CACHE_VALUE_BYTES = 512 * 1024;
export const DEFAULT_CACHE_LEASE_MS = 10_000;
export const DEFAULT_CACHE_MAX_WAIT_MS = 60_000;
export const DEFAULT_CACHE_OP_TIMEOUT_MS = 2_000;
export const DEFAULT_CACHE_RETRY_AFTER_MS = 5_000;

export interface ResultCacheOptions {
  /** How long an entry is answered from; default 1 hour. A call may ask for its own. */
  readonly ttlMs?: number;
  /** Results larger than this (bytes) are computed every time, never stored. Default 512 KiB. */
  readonly maxValueBytes?: number;
  /**
   * Single flight across nodes: the computing node holds a lease on the key for this long and renews it
   * every third of it; if that node dies, others take over once the lease runs out. Default 10 s.
   */
  readonly leaseMs?: number;
  /** The longest a request waits for another node's computation before computing itself. Default 60 s. */
  readonly maxWaitMs?: number;
  /** A store operation not done within this long counts as failed. Default 2 s. */
  readonly opTimeoutMs?: number;
  /** After a failure the store is left alone this long (work is computed without it). Default 5 s. */
  readonly retryAfterMs?: number;
  /** Expiry is wall-clock time from this clock; tests pass a `ManualClock`. */
  readonly clock?: Clock;
  /** Where the cache says that its store went down or came back. Default: stderr. */
  readonly log?: (line: string) => void;
}

/**
 * How one request was answered: `hit` (from the store), `miss` (computed here, then stored), `wait` (by
 * an identical request's computation, on this node or another: single flight) or `bypass` (computed
 * without the store, which was unavailable).
 */
export type CacheOutcome = "hit" | "miss" | "wait" | "bypass";

export interface CacheAnswer {
  readonly bytes: Uint8Array;
  /** The result's protobuf type name, as stored with it. */
  readonly type: string;
  readonly outcome: CacheOutcome;
  /** What computing the result took where it was computed (ms). */
  readonly computeMs: number;
  /** The computing time this request did not spend: `computeMs` for a hit or a wait, else 0. */
  readonly savedMs: number;
}

/** Every request ends as exactly one of hits, misses, waits, bypassed; the rest explain them. */
export interface CacheCounters {
  hits: number;
  misses: number;
  waits: number;
  bypassed: number;
  /** Entries found but not used: bad framing or checksum, another result type, or undecodable. */
  corrupt: number;
  /** Store operations that failed or timed out. */
  errors: number;
  /** Results over `maxValueBytes`, not stored. */
  tooLarge: number;
  /** Computing time saved by hits and waits (ms). */
  savedMs: number;
}

export type CacheEvent = { readonly type: "store-down"; readonly store: string; readonly error: string } | { readonly type: "store-up"; readonly store: string };

/** A result with its protobuf type name. */
export interface TypedBytes {
  readonly type: string;
  readonly bytes: Uint8Array;
}

type Validate = (type: string, bytes: Uint8Array) => void;

const FAILED = Symbol("failed");

/**
 * A cache of computed results in front of a `CacheStore`: a request's key (see `resultCacheKey`) is
 * looked up, and only on a miss computed, stored with a TTL and handed to every identical request that
 * came meanwhile. Identical requests compute once: on one node they share the computation; across
 * nodes the first takes a lease on the key in the store and the others poll for its result (or take the
 * lease over if it runs out: its holder died). A corrupt entry is a miss. The store is never needed for
 * the work to be done: when it fails, requests are computed without it, and the cache says so once.
 */
export class ResultCache {
  readonly counters: CacheCounters = { hits: 0, misses: 0, waits: 0, bypassed: 0, corrupt: 0, errors: 0, tooLarge: 0, savedMs: 0 };
  readonly ttlMs: number;
  readonly maxValueBytes: number;
  private readonly leaseMs: number;
  private readonly maxWaitMs: number;
  private readonly opTimeoutMs: number;
  private readonly retryAfterMs: number;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly flights = new Map<string, Promise<CacheAnswer>>();
  private readonly listeners = new Set<(event: CacheEvent) => void>();
  private readonly holderPrefix = randomUUID();
  private flightCount = 0;
  private downSinceMs: number | undefined;

  constructor(
    readonly store: CacheStore,
    options: ResultCacheOptions = {},
  ) {
    this.ttlMs = positiveNumber("ttlMs", options.ttlMs ?? DEFAULT_CACHE_TTL_MS);
    this.maxValueBytes = positiveNumber("maxValueBytes", options.maxValueBytes ?? DEFAULT_MAX_CACHE_VALUE_BYTES);
    this.leaseMs = positiveNumber("leaseMs", options.leaseMs ?? DEFAULT_CACHE_LEASE_MS);
    this.maxWaitMs = positiveNumber("maxWaitMs", options.maxWaitMs ?? DEFAULT_CACHE_MAX_WAIT_MS);
    this.opTimeoutMs = positiveNumber("opTimeoutMs", options.opTimeoutMs ?? DEFAULT_CACHE_OP_TIMEOUT_MS);
    this.retryAfterMs = positiveNumber("retryAfterMs", options.retryAfterMs ?? DEFAULT_CACHE_RETRY_AFTER_MS);
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? ((line) => console.error(`troupe cache: ${line}`));
  }

  /** Told when the store goes down and when it is back. */
  onEvent(listener: (event: CacheEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The result for `key`: from the store, from an identical request's computation, or from `compute`.
   * `type` (the result's protobuf type name) is stored with it and must match on reading; `validate`
   * (e.g. the result type's decode) may throw to reject stored bytes, which then count as corrupt. A
   * failure of `compute` is not stored: it reaches this request and the identical ones waiting on it.
   */
  getOrCompute(key: string, type: string, compute: () => Promise<Uint8Array>, options: { ttlMs?: number; validate?: (bytes: Uint8Array) => void } = {}): Promise<CacheAnswer> {
    const validate = options.validate;
    return this.flight(key, type, async () => ({ type, bytes: await compute() }), options.ttlMs, validate && ((_type, bytes) => validate(bytes)));
  }

  /**
   * As `getOrCompute`, for a result whose type is known only once computed (a reply to an ask, which may
   * be of any type): `compute` gives the type name with the bytes, both are stored, and `validate` gets
   * both back on reading (e.g. to look the type up and decode).
   */
  getOrComputeTyped(key: string, compute: () => Promise<TypedBytes>, options: { ttlMs?: number; validate?: (type: string, bytes: Uint8Array) => void } = {}): Promise<CacheAnswer> {
    return this.flight(key, undefined, compute, options.ttlMs, options.validate);
  }

  private flight(key: string, type: string | undefined, compute: () => Promise<TypedBytes>, ttlMs: number | undefined, validate: Validate | undefined): Promise<CacheAnswer> {
    const flight = this.flights.get(key);
    if (flight !== undefined) {
      return flight.then((answer) => {
        this.counters.waits++;
        this.counters.savedMs += answer.computeMs;
        return { bytes: answer.bytes, type: answer.type, outcome: "wait", computeMs: answer.computeMs, savedMs: answer.computeMs };
      });
    }
    const lead = this.lead(key, type, compute, ttlMs ?? this.ttlMs, validate).finally(() => this.flights.delete(key));
    this.flights.set(key, lead);
    return lead;
  }

  /** Closes the store. */
  close(): Promise<void> {
    return this.store.close();
  }

  private async lead(key: string, type: string | undefined, compute: () => Promise<TypedBytes>, ttlMs: number, validate: Validate | undefined): Promise<CacheAnswer> {
    const found = await this.lookup(key, type, validate);
    if (found === FAILED) return this.computeOnly(compute, "bypass");
    if (found !== undefined) return this.answerFromStore(found, "hit");
    const holder = `${this.holderPrefix}/${++this.flightCount}`;
    const waitUntil = this.clock.now() + this.maxWaitMs;
    for (let pollMs = 5; ; pollMs = Math.min(250, pollMs * 2)) {
      let acquiring: Promise<boolean> | undefined;
      const acquired = await this.op(() => (acquiring = this.store.acquire(key, holder, this.leaseMs)));
      if (acquired === FAILED) {
        // Timed out, yet the store may still grant it: give it back then, or it blocks the key for a lease.
        void acquiring?.then((late) => (late ? this.store.release(key, holder) : undefined)).catch(() => undefined);
        return this.computeOnly(compute, "bypass");
      }
      if (acquired) {
        // Another node may have stored it between our lookup and our lease: look once more.
        const stored = await this.lookup(key, type, validate, false);
        if (stored !== undefined && stored !== FAILED) {
          await this.op(() => this.store.release(key, holder));
          return this.answerFromStore(stored, "wait");
        }
        return this.computeAndStore(key, holder, compute, ttlMs);
      }
      // Another node computes it: poll for its result. Its lease runs out if it dies, and then we take it.
      if (this.clock.now() >= waitUntil) return this.computeAndStore(key, undefined, compute, ttlMs);
      await new Promise((resolve) => this.clock.setTimeout(() => resolve(undefined), pollMs));
      const now = await this.lookup(key, type, validate, false);
      if (now === FAILED) return this.computeOnly(compute, "bypass");
      if (now !== undefined) return this.answerFromStore(now, "wait");
    }
  }

  private answerFromStore(entry: CacheEntry, outcome: "hit" | "wait"): CacheAnswer {
    this.counters[outcome === "hit" ? "hits" : "waits"]++;
    this.counters.savedMs += entry.computeMs;
    return { bytes: entry.result, type: entry.type, outcome, computeMs: entry.computeMs, savedMs: entry.computeMs };
  }

  private async computeOnly(compute: () => Promise<TypedBytes>, outcome: "bypass"): Promise<CacheAnswer> {
    this.counters.bypassed++;
    const started = performance.now();
    const { type, bytes } = await compute();
    return { bytes, type, outcome, computeMs: performance.now() - started, savedMs: 0 };
  }

  /** Computes while holding the lease (renewed as it goes), stores the result, gives the lease up. */
  private async computeAndStore(key: string, holder: string | undefined, compute: () => Promise<TypedBytes>, ttlMs: number): Promise<CacheAnswer> {
    this.counters.misses++;
    const renewal = holder === undefined ? undefined : this.keepLease(key, holder);
    const started = performance.now();
    let computed: TypedBytes;
    try {
      computed = await compute();
    } catch (error) {
      await renewal?.stop();
      if (holder !== undefined) await this.op(() => this.store.release(key, holder));
      throw error;
    }
    await renewal?.stop();
    const computeMs = performance.now() - started;
    const { type, bytes } = computed;
    if (bytes.length > this.maxValueBytes) this.counters.tooLarge++;
    else await this.op(() => this.store.set(key, encodeEntry({ expiresAtMs: this.clock.now() + ttlMs, computeMs, type, result: bytes }), ttlMs));
    if (holder !== undefined) await this.op(() => this.store.release(key, holder));
    return { bytes, type, outcome: "miss", computeMs, savedMs: 0 };
  }

  /**
   * Renews `holder`'s lease every third of it until `stop`, which also waits for a renewal under way:
   * none may start after it (it would hold the key after the release), and none may still be running
   * when the release comes (a store that renews by revision would then miss the release).
   */
  private keepLease(key: string, holder: string): { stop: () => Promise<void> } {
    let stopped = false;
    let timer: object | undefined;
    let renewing: Promise<unknown> = Promise.resolve();
    const schedule = (): void => {
      timer = this.clock.setTimeout(() => {
        timer = undefined;
        if (stopped) return;
        renewing = this.op(() => this.store.renew(key, holder, this.leaseMs)).then((held) => {
          if (held === true && !stopped) schedule();
        });
      }, this.leaseMs / 3);
    };
    schedule();
    return {
      stop: async () => {
        stopped = true;
        if (timer !== undefined) this.clock.clearTimeout(timer);
        await renewing;
      },
    };
  }

  /**
   * A valid, unexpired entry (of `type`, when given); undefined when there is none (corrupt ones
   * counted, once); FAILED when the store is out.
   */
  private async lookup(key: string, type: string | undefined, validate: Validate | undefined, countCorrupt = true): Promise<CacheEntry | undefined | typeof FAILED> {
    const bytes = await this.op(() => this.store.get(key));
    if (bytes === FAILED || bytes === undefined) return bytes;
    // Never written by this cache (its results stay within maxValueBytes, type names within 64 KiB):
    // refused before its checksum is computed, whatever another writer of the store put there.
    if (bytes.length > this.maxValueBytes + ENTRY_OVERHEAD_BYTES + 0xffff) {
      if (countCorrupt) this.counters.corrupt++;
      return undefined;
    }
    const entry = decodeEntry(bytes);
    if ("corrupt" in entry || (type !== undefined && entry.type !== type)) {
      if (countCorrupt) this.counters.corrupt++;
      return undefined;
    }
    if (entry.expiresAtMs <= this.clock.now()) return undefined;
    try {
      validate?.(entry.type, entry.result);
    } catch {
      if (countCorrupt) this.counters.corrupt++;
      return undefined;
    }
    return entry;
  }

  /** Runs a store operation with a deadline; a failure marks the store down for `retryAfterMs`. */
  private async op<T>(fn: () => Promise<T>): Promise<T | typeof FAILED> {
    if (this.downSinceMs !== undefined && this.clock.now() - this.downSinceMs < this.retryAfterMs) return FAILED;
    let timer: object | undefined;
    try {
      const result = await Promise.race([
        fn(),
        new Promise<never>((_, reject) => (timer = this.clock.setTimeout(() => reject(new Error(`no answer within ${this.opTimeoutMs} ms`)), this.opTimeoutMs))),
      ]);
      if (this.downSinceMs !== undefined) {
        this.downSinceMs = undefined;
        this.log(`${this.store.description} is available again`);
        this.emit({ type: "store-up", store: this.store.description });
      }
      return result;
    } catch (error) {
      this.counters.errors++;
      const message = error instanceof Error ? error.message : String(error);
      if (this.downSinceMs === undefined) {
        this.log(`${this.store.description} is unavailable (${message}): computing without it, trying it again every ${this.retryAfterMs} ms`);
        this.emit({ type: "store-down", store: this.store.description, error: message });
      }
      this.downSinceMs = this.clock.now();
      return FAILED;
    } finally {
      if (timer) this.clock.clearTimeout(timer);
    }
  }

  private emit(event: CacheEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's mistake must not fail the work.
      }
    }
  }
}
