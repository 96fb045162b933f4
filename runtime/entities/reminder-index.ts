import { randomBytes } from "node:crypto";
import { troupe } from "../../proto/gen/troupe.js";
import type { Cancel } from "../actor-context.js";
import type { Clock } from "../clock.js";
import { hash32 } from "../hash32.js";
import type { StateStore } from "../state/state-store.js";
import { updateObject } from "../state/update.js";

const { ReminderIndex: ReminderIndexProto } = troupe.entity;

export interface IndexEntry {
  readonly key: string;
  /** At or before the earliest due reminder of the key's stored record; Infinity: claimed, nothing due. */
  readonly dueAtMs: number;
  readonly token: string;
}

interface Op {
  apply(entries: Map<string, IndexEntry>): unknown;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

interface Shard {
  ops: Op[];
  running: boolean;
  lastWriteAtMs: number;
  timer: Cancel | undefined;
}

/**
 * A kind's reminder index in the store: `shards` objects `<prefix>/.reminders/<kind>/<n>`, each listing
 * the keys of its share (by hash) with a time at or before their earliest due reminder. An owner finds
 * the due reminders of passivated entities (or of a dead node's) by reading a few shards, never every
 * entity's object and never every reminder in memory.
 *
 * Two operations keep it right without transactions between the index and the entities' objects:
 * `lower` (before a write that makes an entity's earliest reminder earlier) only ever lowers a time and
 * always takes a fresh token; `raise` (after a write that made it later) applies only if the entry's
 * token is still the one in the record that was written, so it can never undo a newer copy's claim.
 * Operations on one shard from this node are coalesced into one read-modify-write (generation
 * preconditions; a conflict with another node reads again), at most one per `writeEveryMs`.
 */
export class ReminderIndex {
  private readonly shardStates = new Map<number, Shard>();

  constructor(
    private readonly store: StateStore,
    private readonly prefix: string,
    readonly kind: string,
    readonly shards: number,
    private readonly clock: Clock,
    private readonly writeEveryMs: number,
  ) {}

  shardOf(key: string): number {
    return hash32(key, 0x9e3779b9) % this.shards;
  }

  shardKey(shard: number): string {
    return `${this.prefix}/.reminders/${this.kind}/${shard}`;
  }

  /** Makes the key's entry at most `dueAtMs` under a fresh token; resolves with the token. */
  lower(key: string, dueAtMs: number): Promise<string> {
    const token = randomBytes(8).toString("hex");
    return this.enqueue(key, (entries) => {
      const entry = entries.get(key);
      entries.set(key, { key, dueAtMs: Math.min(entry?.dueAtMs ?? Infinity, dueAtMs), token });
      return token;
    }) as Promise<string>;
  }

  /** Sets the key's entry to `dueAtMs` (removes it when undefined) if its token is still `token`; resolves with whether it did. */
  raise(key: string, dueAtMs: number | undefined, token: string): Promise<boolean> {
    return this.enqueue(key, (entries) => {
      // No entry and nothing to promise: already as it should be (a stray wake must not cost a claim).
      if (dueAtMs === undefined && !entries.has(key)) return true;
      if (entries.get(key)?.token !== token) return false;
      if (dueAtMs === undefined) entries.delete(key);
      else entries.set(key, { key, dueAtMs, token });
      return true;
    }) as Promise<boolean>;
  }

  async read(shard: number): Promise<IndexEntry[]> {
    const stored = await this.store.read(this.shardKey(shard));
    return stored === undefined ? [] : decodeEntries(stored.bytes);
  }

  /** Drops the operations not yet written (node shutdown): their writers learn it as a failure. */
  stop(): void {
    for (const shard of this.shardStates.values()) {
      shard.timer?.();
      for (const op of shard.ops.splice(0)) op.reject(new Error("the reminder index stopped"));
    }
  }

  private enqueue(key: string, apply: Op["apply"]): Promise<unknown> {
    const n = this.shardOf(key);
    let shard = this.shardStates.get(n);
    if (shard === undefined) this.shardStates.set(n, (shard = { ops: [], running: false, lastWriteAtMs: Number.NEGATIVE_INFINITY, timer: undefined }));
    const result = new Promise<unknown>((resolve, reject) => shard.ops.push({ apply, resolve, reject }));
    this.flush(n, shard);
    return result;
  }

  private flush(n: number, shard: Shard): void {
    if (shard.running || shard.timer !== undefined || shard.ops.length === 0) return;
    const waitMs = shard.lastWriteAtMs + this.writeEveryMs - this.clock.now();
    if (waitMs > 0) {
      const timer = this.clock.setTimeout(() => {
        shard.timer = undefined;
        this.flush(n, shard);
      }, waitMs);
      shard.timer = () => this.clock.clearTimeout(timer);
      return;
    }
    const ops = shard.ops.splice(0);
    shard.running = true;
    shard.lastWriteAtMs = this.clock.now();
    let results: unknown[] = [];
    void updateObject(this.store, this.shardKey(n), (current) => {
      const entries = new Map((current === undefined ? [] : decodeEntries(current)).map((e) => [e.key, e]));
      results = ops.map((op) => op.apply(entries));
      const bytes = ReminderIndexProto.encode({ entries: [...entries.values()] }).finish();
      // Nothing changed (a stray wake's check, a raise already applied): no write, so a flood of wakes
      // from the bus costs reads, never writes.
      if (current === undefined ? entries.size === 0 : Buffer.from(bytes).equals(current)) throw UNCHANGED;
      return bytes;
    })
      .catch((error: unknown) => {
        if (error !== UNCHANGED) throw error;
      })
      .then(
        () => ops.forEach((op, i) => op.resolve(results[i])),
        (error: unknown) => ops.forEach((op) => op.reject(error as Error)),
      )
      .finally(() => {
        shard.running = false;
        this.flush(n, shard);
      });
  }
}

/** Thrown out of an update that would write the bytes already stored: no write is made. */
const UNCHANGED = new Error("the reminder index shard is unchanged");

function decodeEntries(bytes: Uint8Array): IndexEntry[] {
  return ReminderIndexProto.decode(bytes).entries.map((e) => ({ key: e.key ?? "", dueAtMs: e.dueAtMs ?? 0, token: e.token ?? "" }));
}
