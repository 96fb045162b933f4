import { systemClock, type Clock } from "../clock.js";
import type { CacheStore } from "./cache-store.js";

/** The memory store's byte budget when none is given: 64 MiB of values (keys and bookkeeping aside). */
export const DEFAULT_MEMORY_CACHE_BYTES = 64 * 1024 * 1024;

export interface MemoryCacheStoreOptions {
  /** Most bytes of values kept; the least recently used go first. Default 64 MiB. */
  readonly maxBytes?: number;
  /** For expiry; tests pass a `ManualClock`. */
  readonly clock?: Clock;
}

interface Slot {
  readonly value: Uint8Array;
  readonly expiresAtMs: number;
}

/**
 * A cache store in this process's memory: least recently used entries are evicted to stay within a
 * byte budget, expired ones are dropped when met. Leases are held in the same process, so single flight
 * through it spans the nodes of one process only (each `troupe node` process has its own).
 */
export class MemoryCacheStore implements CacheStore {
  readonly description = "memory:";
  readonly maxBytes: number;
  private readonly clock: Clock;
  /** In use order: a Map iterates in insertion order, and a read re-inserts. */
  private readonly slots = new Map<string, Slot>();
  private readonly leases = new Map<string, { holder: string; untilMs: number }>();
  private used = 0;

  constructor(options: MemoryCacheStoreOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MEMORY_CACHE_BYTES;
    if (!(this.maxBytes >= 0)) throw new RangeError(`maxBytes must be >= 0; got ${options.maxBytes}`);
    this.clock = options.clock ?? systemClock;
  }

  /** Bytes of values held now. */
  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.slots.size;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    this.drop(key, slot);
    if (slot.expiresAtMs <= this.clock.now()) return undefined;
    this.slots.set(key, slot);
    this.used += slot.value.length;
    return slot.value;
  }

  async set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    const old = this.slots.get(key);
    if (old) this.drop(key, old);
    // A value over the whole budget would evict everything and still not fit.
    if (value.length > this.maxBytes) return;
    this.slots.set(key, { value, expiresAtMs: this.clock.now() + ttlMs });
    this.used += value.length;
    for (const [oldest, slot] of this.slots) {
      if (this.used <= this.maxBytes) break;
      this.drop(oldest, slot);
    }
  }

  async acquire(key: string, holder: string, leaseMs: number): Promise<boolean> {
    const now = this.clock.now();
    this.dropExpiredLeases(now);
    const lease = this.leases.get(key);
    if (lease && lease.untilMs > now && lease.holder !== holder) return false;
    this.leases.delete(key);
    this.leases.set(key, { holder, untilMs: now + leaseMs });
    return true;
  }

  async renew(key: string, holder: string, leaseMs: number): Promise<boolean> {
    const lease = this.leases.get(key);
    if (lease?.holder !== holder) return false;
    this.leases.delete(key);
    this.leases.set(key, { holder, untilMs: this.clock.now() + leaseMs });
    return true;
  }

  /** Leases held now, run-out ones not yet dropped included. */
  get leaseCount(): number {
    return this.leases.size;
  }

  async release(key: string, holder: string): Promise<void> {
    if (this.leases.get(key)?.holder === holder) this.leases.delete(key);
  }

  async close(): Promise<void> {
    this.slots.clear();
    this.leases.clear();
    this.used = 0;
  }

  /**
   * Forgets leases that ran out and were never released (their holder's release failed or came too
   * late). Leases are kept in order of taking or renewal, which is the order they run out in while
   * every holder uses one lease length, so the run-out ones are at the front.
   */
  private dropExpiredLeases(now: number): void {
    for (const [key, lease] of this.leases) {
      if (lease.untilMs > now) break;
      this.leases.delete(key);
    }
  }

  private drop(key: string, slot: Slot): void {
    this.slots.delete(key);
    this.used -= slot.value.length;
  }
}
