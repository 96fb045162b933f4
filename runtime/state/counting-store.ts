import { GenerationConflictError, type Expected, type StateStore, type StoredObject } from "./state-store.js";

/** One write as a `CountingStore` saw it. */
export interface WriteRecord {
  readonly key: string;
  /** When the write was asked for, by the store's clock. */
  readonly atMs: number;
  readonly outcome: "written" | "conflict" | "failed";
}

/**
 * Wraps a store and records every write per key with its time and outcome, so tests can check the
 * GCS rule of thumb that one object takes at most about one write per second (`maxWritesWithin`).
 * Reads and lists pass straight through.
 */
export class CountingStore implements StateStore {
  private readonly records = new Map<string, WriteRecord[]>();
  private readonly now: () => number;

  constructor(
    readonly inner: StateStore,
    options: { readonly now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  get description(): string {
    return this.inner.description;
  }

  read(key: string): Promise<StoredObject | undefined> {
    return this.inner.read(key);
  }

  async write(key: string, bytes: Uint8Array, expected: Expected): Promise<string> {
    const atMs = this.now();
    let outcome: WriteRecord["outcome"] = "failed";
    try {
      const generation = await this.inner.write(key, bytes, expected);
      outcome = "written";
      return generation;
    } catch (error) {
      if (error instanceof GenerationConflictError) outcome = "conflict";
      throw error;
    } finally {
      let list = this.records.get(key);
      if (!list) this.records.set(key, (list = []));
      list.push({ key, atMs, outcome });
    }
  }

  list(prefix?: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Every write to `key` (attempts included: conflicts and failures count against GCS's rate too). */
  writesTo(key: string): readonly WriteRecord[] {
    return this.records.get(key) ?? [];
  }

  /** Keys written at least once, sorted. */
  keysWritten(): string[] {
    return [...this.records.keys()].sort();
  }

  get totalWrites(): number {
    let total = 0;
    for (const list of this.records.values()) total += list.length;
    return total;
  }

  /**
   * The most writes to `key` that started within any `windowMs` (default 1000) of each other: a
   * sliding window over the recorded times. "At most one write per second" is `maxWritesWithin(key) <= 1`.
   */
  maxWritesWithin(key: string, windowMs = 1_000): number {
    const times = this.writesTo(key).map((r) => r.atMs).sort((a, b) => a - b);
    let best = 0;
    for (let start = 0, end = 0; end < times.length; end++) {
      while (times[end]! - times[start]! >= windowMs) start++;
      best = Math.max(best, end - start + 1);
    }
    return best;
  }

  /** Forgets what was recorded. */
  reset(): void {
    this.records.clear();
  }
}
