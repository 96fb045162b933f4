import type { SpanContext } from "@opentelemetry/api";
import type { MessageType } from "../../runtime/codec/message-type.js";
import { GenerationConflictError, type StateStore } from "../../runtime/state/state-store.js";
import { MeteredStore } from "../../runtime/stats/metered-store.js";
import type { NodeStats } from "../../runtime/stats/node-stats.js";
import { decodeCheckpoint, encodeCheckpoint } from "./checkpoint.js";

/** How a reducer's state is made, merged and stored: the user's part of the reducer. */
export interface ShardCodec<S, R> {
  readonly stateType: MessageType<S & object>;
  readonly stateTypeName: string;
  readonly initial: () => S;
  readonly merge: (state: S, result: R, taskId: string) => S;
}

/** A result merged into the state in memory but not yet checkpointed. */
export interface PendingResult<R, A> {
  readonly jobId: string;
  readonly taskId: string;
  readonly result: R;
  /** Whom to tell once it is durable (several, when the same task arrived more than once meanwhile). */
  readonly ackTo: A[];
  /** The span that delivered it, when tracing: the checkpoint links to it (fan-in). */
  readonly span?: SpanContext;
}

/** Results that became durable with a checkpoint; `duplicate` when another writer had merged them first. */
export interface DurableResult<A> {
  readonly jobId: string;
  readonly taskId: string;
  readonly ackTo: readonly A[];
  readonly duplicate: boolean;
}

/** A conflict reload that keeps conflicting is a bug or a storm; give up after this many tries. */
const MAX_CONFLICT_RETRIES = 20;

/**
 * One state object: the durable checkpoint (state + applied task ids + generation) and the results
 * merged since. A checkpoint writes both together with the expected generation; on a conflict (another
 * writer got there first) it reloads, keeps the results the other writer already has as duplicates, and
 * merges the rest onto the reloaded state: nothing lost, nothing counted twice.
 */
export class ReducerShard<S, R, A> {
  current: S;
  lastWriteAtMs = Number.NEGATIVE_INFINITY;
  writes = 0;
  private durableState: S;
  private durableApplied = new Map<string, Set<string>>();
  private generation: string | undefined;
  private pending: PendingResult<R, A>[] = [];
  private readonly pendingByKey = new Map<string, PendingResult<R, A>>();

  constructor(
    private store: StateStore,
    readonly key: string,
    private readonly codec: ShardCodec<S, R>,
  ) {
    this.durableState = codec.initial();
    this.current = this.durableState;
  }

  /** Counts this shard's writes (and their conflicts) into the node's stats, when metrics are on there. */
  meter(stats: NodeStats): void {
    this.store = new MeteredStore(this.store, stats);
  }

  get dirty(): boolean {
    return this.pending.length > 0;
  }

  get appliedCount(): number {
    return this.durableCount + this.pending.length;
  }

  get durableCount(): number {
    let count = 0;
    for (const ids of this.durableApplied.values()) count += ids.size;
    return count;
  }

  durableTasksOf(jobId: string): ReadonlySet<string> {
    return this.durableApplied.get(jobId) ?? new Set();
  }

  async load(): Promise<void> {
    const stored = await this.store.read(this.key);
    if (stored === undefined) {
      this.durableState = this.codec.initial();
      this.durableApplied = new Map();
      this.generation = undefined;
    } else {
      const checkpoint = decodeCheckpoint(stored.bytes, this.codec.stateTypeName, `${this.store.description} ${this.key}`);
      this.durableState = this.codec.stateType.decode(checkpoint.state);
      this.durableApplied = new Map([...checkpoint.applied].map(([job, ids]) => [job, new Set(ids)]));
      this.generation = stored.generation;
    }
    this.current = this.durableState;
    const pending = this.pending;
    this.pending = [];
    this.pendingByKey.clear();
    for (const p of pending) if (!this.isDurable(p.jobId, p.taskId)) this.applyPending(p);
  }

  /** "durable", "pending" or undefined: whether this task's result is already in the state. */
  status(jobId: string, taskId: string): "durable" | "pending" | undefined {
    if (this.isDurable(jobId, taskId)) return "durable";
    return this.pendingByKey.has(taskKey(jobId, taskId)) ? "pending" : undefined;
  }

  /** Remember one more party to tell when a pending task becomes durable. */
  addAckTo(jobId: string, taskId: string, ackTo: A): void {
    this.pendingByKey.get(taskKey(jobId, taskId))?.ackTo.push(ackTo);
  }

  /** Merges a new result in memory; throws what `merge` throws, leaving the state as it was. */
  apply(jobId: string, taskId: string, result: R, ackTo: A[], span?: SpanContext): void {
    this.applyPending({ jobId, taskId, result, ackTo, span });
  }

  /** Span contexts of the results waiting for the next checkpoint. */
  pendingSpans(): SpanContext[] {
    const spans: SpanContext[] = [];
    for (const p of this.pending) if (p.span) spans.push(p.span);
    return spans;
  }

  /** Writes a checkpoint of everything merged so far; returns the results it made durable. */
  async flush(now: () => number): Promise<DurableResult<A>[]> {
    const done: DurableResult<A>[] = [];
    for (let attempt = 1; this.pending.length > 0; attempt++) {
      const writing = this.pending;
      const state = this.current;
      // The durable ids plus the pending ones, encoded without copying the sets (they can hold millions).
      const bytes = encodeCheckpoint({ stateType: this.codec.stateTypeName, state: this.codec.stateType.encode(state as S & object).finish(), applied: this.durableApplied }, writing);
      try {
        this.writes++;
        // Stamped at the write itself, so the next one waits a full flushEveryMs after it.
        this.lastWriteAtMs = now();
        this.generation = await this.store.write(this.key, bytes, this.generation === undefined ? "absent" : { generation: this.generation });
      } catch (error) {
        if (!(error instanceof GenerationConflictError) || attempt >= MAX_CONFLICT_RETRIES) throw error;
        // Someone else wrote this object: take theirs, and merge ours onto it (minus what they have).
        const before = new Set(writing);
        await this.load();
        for (const p of before) if (this.isDurable(p.jobId, p.taskId)) done.push({ jobId: p.jobId, taskId: p.taskId, ackTo: p.ackTo, duplicate: true });
        continue;
      }
      this.durableState = state;
      for (const p of writing) {
        let ids = this.durableApplied.get(p.jobId);
        if (ids === undefined) this.durableApplied.set(p.jobId, (ids = new Set()));
        ids.add(p.taskId);
      }
      this.pending = [];
      this.pendingByKey.clear();
      for (const p of writing) done.push({ jobId: p.jobId, taskId: p.taskId, ackTo: p.ackTo, duplicate: false });
    }
    return done;
  }

  private applyPending(p: PendingResult<R, A>): void {
    this.current = this.codec.merge(this.current, p.result, p.taskId);
    this.pending.push(p);
    this.pendingByKey.set(taskKey(p.jobId, p.taskId), p);
  }

  private isDurable(jobId: string, taskId: string): boolean {
    return this.durableApplied.get(jobId)?.has(taskId) ?? false;
  }
}

function taskKey(jobId: string, taskId: string): string {
  return `${jobId}\u0000${taskId}`;
}
