import type { MessageType } from "../codec/message-type.js";
import type { TypeRegistry } from "../codec/type-registry.js";
import { Failure } from "../codec/wire-types.js";
import type { NodeStats } from "../stats/node-stats.js";
import type { Tracing } from "../tracing/tracing.js";
import { resultCacheKey } from "./cache-key.js";
import type { CacheOutcome, ResultCache } from "./result-cache.js";

/**
 * A result cache in front of a router's or a service's asks (`cache` of `RouterConfig` and of
 * `ServeOptions`): an ask whose request (type and bytes) was answered before is answered from the
 * cache, and identical asks in flight at once reach a routee or member once. Tells are never cached:
 * they have no result.
 */
export interface AskCacheOption {
  readonly use: ResultCache;
  /** Part of every key: bump it when the answers change, and old entries are never read. */
  readonly version: string | number;
  /** How long a reply is answered from the cache; default the cache's `ttlMs` (1 hour). */
  readonly ttlMs?: number;
  /**
   * The name answers are keyed under, as a worker's are under its kind. Default: the service's name
   * (`service:<name>`), or the pool's kind for a router (else `router:<its path>`).
   */
  readonly name?: string;
  /** Most asks waiting on the cache (looked up, or computing) at once; past it an ask fails with `mailbox-overflow`. Default 10,000. */
  readonly maxPending?: number;
}

export const DEFAULT_ASK_CACHE_MAX_PENDING = 10_000;

/** Asks answered through one router's or service's cache, by how (a `failure` reply is passed on, never stored). */
export interface AskCacheCounters {
  hits: number;
  misses: number;
  waits: number;
  bypassed: number;
  failures: number;
  /** Computing time saved by hits and waits (ms). */
  savedMs: number;
}

/** What an ask cache needs from its node. */
export interface AskCacheHost {
  readonly registry: TypeRegistry;
  /** The node's counters, when metrics are on. */
  readonly stats: NodeStats | undefined;
  /** `fn` bound to the trace context active now (itself when tracing is off): the cache's awaits lose it. */
  bind<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  /** A short span in the active trace context, when tracing is on and a trace is active. */
  event(name: string, attributes: Record<string, string | number>): void;
}

/** Thrown out of a computation whose reply is a Failure: it reaches the asker but is never stored. */
class NotStored extends Error {
  constructor(readonly reply: object) {
    super("a Failure reply is not cached");
  }
}

/**
 * One router's or service member's cache of asks. The stored value is the reply as encoded (its type
 * name and bytes), since a router or a service does not know its reply type beforehand; the key is
 * (name, version, request type, request bytes), as a worker's.
 */
export class AskCache {
  readonly counters: AskCacheCounters = { hits: 0, misses: 0, waits: 0, bypassed: 0, failures: 0, savedMs: 0 };
  readonly maxPending: number;
  private pendingCount = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly host: AskCacheHost,
    private readonly option: AskCacheOption,
    /** Who answers, for metrics and spans: `router /user/r`, `service echo`. */
    readonly owner: string,
    private readonly name: string,
  ) {
    this.maxPending = option.maxPending ?? DEFAULT_ASK_CACHE_MAX_PENDING;
    if (!(this.maxPending > 0)) throw new RangeError(`cache maxPending must be a positive number; got ${option.maxPending}`);
  }

  /** Asks waiting on the cache now. */
  get pending(): number {
    return this.pendingCount;
  }

  get full(): boolean {
    return this.pendingCount >= this.maxPending;
  }

  /** Resolves once no ask waits on the cache. */
  whenIdle(): Promise<void> {
    return this.pendingCount === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * The reply to `request`: from the cache, or from `ask` (which relays it to a routee or member and
   * resolves with whatever that answers, a Failure included). Call it in the request's trace context.
   */
  async answer(request: object, ask: () => Promise<object>): Promise<object> {
    const registry = this.host.registry;
    const requestType = registry.requireName(request);
    const bytes = (request.constructor as MessageType).encode(request).finish();
    const key = resultCacheKey({ kind: this.name, version: this.option.version, type: requestType, bytes });
    let computed: object | undefined;
    let validated: object | undefined;
    const compute = this.host.bind(async () => {
      const reply = await ask();
      if (reply instanceof Failure) throw new NotStored(reply);
      computed = reply;
      return { type: registry.requireName(reply), bytes: (reply.constructor as MessageType).encode(reply).finish() };
    });
    const validate = (type: string, stored: Uint8Array): void => {
      const replyType = registry.typeNamed(type);
      if (replyType === undefined) throw new TypeError(`reply type ${type} is not registered`);
      if (replyType === (Failure as unknown)) throw new TypeError("a stored Failure");
      validated = replyType.decode(stored);
    };
    const event = this.host.bind((outcome: CacheOutcome | "failure", savedMs: number) => {
      const attributes = { "troupe.cache.outcome": outcome, "troupe.cache.owner": this.owner, "troupe.cache.store": this.option.use.store.description, "troupe.cache.key": key.slice(0, 16), "troupe.cache.saved_ms": Math.round(savedMs) };
      this.host.event(`cache ${outcome}`, attributes);
    });
    this.pendingCount++;
    try {
      const answer = await this.option.use.getOrComputeTyped(key, compute, { ttlMs: this.option.ttlMs, validate });
      this.count(answer.outcome, answer.savedMs);
      event(answer.outcome, answer.savedMs);
      // The reply computed here, or the entry this ask's own lookup decoded; else (a wait on an
      // identical ask of this node) decode what it stored.
      if (computed !== undefined) return computed;
      if (validated !== undefined) return validated;
      const replyType = registry.typeNamed(answer.type);
      if (replyType === undefined) throw new TypeError(`reply type ${answer.type} is not registered`);
      return replyType.decode(answer.bytes);
    } catch (error) {
      if (!(error instanceof NotStored)) throw error;
      this.count("failure", 0);
      event("failure", 0);
      return error.reply;
    } finally {
      if (--this.pendingCount === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  private count(outcome: CacheOutcome | "failure", savedMs: number): void {
    const counters = this.counters;
    if (outcome === "hit") counters.hits++;
    else if (outcome === "miss") counters.misses++;
    else if (outcome === "wait") counters.waits++;
    else if (outcome === "bypass") counters.bypassed++;
    else counters.failures++;
    counters.savedMs += savedMs;
    this.host.stats?.cacheAnswered(this.owner, outcome, savedMs);
  }
}

/** The host of a node's ask caches: its registry and stats, and its tracing when on. */
export function askCacheHost(registry: TypeRegistry, stats: NodeStats | undefined, tracing: Tracing | undefined): AskCacheHost {
  if (tracing === undefined) return { registry, stats, bind: (fn) => fn, event: () => undefined };
  return {
    registry,
    stats,
    bind: (fn) => {
      const context = tracing.api.context.active();
      return (...args) => tracing.with(context, fn, undefined, ...args);
    },
    // Only inside a trace: an ask that carries no trace context (a service ask) gets no span of its own.
    event: (name, attributes) => {
      if (tracing.api.trace.getSpan(tracing.api.context.active()) !== undefined) tracing.event(name, undefined, attributes, false);
    },
  };
}
