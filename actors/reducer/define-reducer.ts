import { addressFromWire } from "../../runtime/address.js";
import { otelApi } from "../../runtime/tracing/otel-api.js";
import { failSpan } from "../../runtime/tracing/tracing.js";
import type { ActorContext, Cancel } from "../../runtime/actor-context.js";
import { defineActor, type ActorDefinition } from "../../runtime/actor-definition.js";
import type { ActorRef } from "../../runtime/actor-ref.js";
import { protobufNameOf, type MessageOf, type MessageType } from "../../runtime/codec/message-type.js";
import type { StateStore } from "../../runtime/state/state-store.js";
import { troupe } from "../../proto/gen/troupe.js";
import { ReducerShard, type DurableResult } from "./reducer-shard.js";
import { nodeStatsOf } from "../../runtime/stats/metered-store.js";

const { TaskResult, TaskFailed, ResultDurable, AppliedTasksRequest, AppliedTasks, ReducerStateRequest, ReducerState, Flush, Flushed } = troupe.work;

/** What the user supplies: the state's protobuf type, its initial value and a merge function. */
export interface ReducerSpec<ST extends MessageType<any>, RT extends MessageType<any>, S extends object = MessageOf<ST>, R extends object = MessageOf<RT>> {
  /** Registered kind name, when reducers are spawned by kind. */
  readonly kind?: string;
  /** The protobuf class of the state. */
  readonly state: ST;
  /** The protobuf class of a result. */
  readonly result: RT;
  readonly initial: () => S;
  /** Pure: returns the state with `result` merged in. Called once per task id, ever. */
  readonly merge: (state: S, result: R, taskId: string) => S;
  /** With `shards` > 1: which shard a result belongs to (any integer; taken modulo shards). */
  readonly shardOf?: (result: R, taskId: string) => number;
  /** With `shards` > 1: combines two shards' states into one, for `ReducerStateRequest`. */
  readonly combine?: (a: S, b: S) => S;
}

/** Where and how one reducer keeps its state. */
export interface ReducerProps {
  readonly store: StateStore;
  /** The state object's key; with shards, `<key>/shard-<i>`. */
  readonly key: string;
  /** Objects the state is spread over, for more than one write per second in total. Default 1. */
  readonly shards?: number;
  /** At most one checkpoint per object per this long. Default 1000 ms (GCS's per-object write rate). */
  readonly flushEveryMs?: number;
  /** "durable" (default): a result is acknowledged once checkpointed. "applied": once merged in memory. */
  readonly ackWhen?: "durable" | "applied";
  /** Told about each checkpoint (for progress and tests). */
  readonly onCheckpoint?: (info: { key: string; durable: number; writes: number }) => void;
}

/** A running reducer's state, opaque to users: named so that declarations of reducers can refer to it. */
export interface ReducerActorState<S extends object, R extends object> {
  readonly props: ReducerProps;
  readonly shards: ReducerShard<S, R, ActorRef<any>>[];
  readonly flushEveryMs: number;
  timer: Cancel | undefined;
}

/**
 * A reducer actor: merges task results into state kept in a StateStore, exactly once per task id.
 * Checkpoints (state + applied task ids, with the expected generation) go out at most once per
 * `flushEveryMs` per object and when it stops; it reloads on start; a conflict reloads and merges again.
 * Messages: `troupe.work.TaskResult` (acknowledged with `ResultDurable` to its `ack_to`),
 * `AppliedTasksRequest`, `ReducerStateRequest`, `Flush` (answered with `Flushed` once all is durable).
 */
export function defineReducer<ST extends MessageType<any>, RT extends MessageType<any>>(spec: ReducerSpec<ST, RT>): ActorDefinition<ReducerActorState<MessageOf<ST>, MessageOf<RT>>, any, ReducerProps> {
  type S = MessageOf<ST>;
  type R = MessageOf<RT>;
  const stateTypeName = protobufNameOf(spec.state);
  const resultTypeName = protobufNameOf(spec.result);

  const flushDue = async (state: ReducerActorState<S, R>, ctx: ActorContext, force: boolean): Promise<void> => {
    state.timer?.();
    state.timer = undefined;
    let nextDelay = Number.POSITIVE_INFINITY;
    for (const shard of state.shards) {
      if (!shard.dirty) continue;
      let wait = shard.lastWriteAtMs + state.flushEveryMs - ctx.clock.now();
      if (wait > 0 && force) {
        await new Promise<void>((resolve) => ctx.clock.setTimeout(resolve, wait));
        wait = 0;
      }
      if (wait > 0) {
        nextDelay = Math.min(nextDelay, wait);
        continue;
      }
      let durable: DurableResult<ActorRef<any>>[];
      try {
        durable = await checkpointSpan(ctx, shard, () => shard.flush(() => ctx.clock.now()));
      } catch {
        // The store is unreachable or failing beyond its retries: keep everything pending and try again.
        nextDelay = Math.min(nextDelay, state.flushEveryMs);
        if (force) throw new Error(`reducer ${ctx.self.toString()} could not checkpoint ${shard.key}`);
        continue;
      }
      for (const d of durable) for (const to of d.ackTo) to.tell(ResultDurable.create({ jobId: d.jobId, taskId: d.taskId, duplicate: d.duplicate }), ctx.self);
      state.props.onCheckpoint?.({ key: shard.key, durable: shard.durableCount, writes: shard.writes });
    }
    if (nextDelay !== Number.POSITIVE_INFINITY) state.timer = ctx.scheduleOnce(nextDelay, Flush.create());
  };

  const scheduleFlush = (state: ReducerActorState<S, R>, ctx: ActorContext, shard: ReducerShard<S, R, ActorRef<any>>): void => {
    if (state.timer !== undefined) return;
    const wait = Math.max(0, shard.lastWriteAtMs + state.flushEveryMs - ctx.clock.now());
    state.timer = ctx.scheduleOnce(wait, Flush.create());
  };

  return defineActor({
    kind: spec.kind,
    messages: { TaskResult, AppliedTasksRequest, ReducerStateRequest, Flush },
    init: (props: ReducerProps): ReducerActorState<S, R> => {
      const count = props.shards ?? 1;
      if (!Number.isInteger(count) || count < 1) throw new RangeError(`reducer shards must be a whole number >= 1; got ${props.shards}`);
      if (count > 1 && (spec.shardOf === undefined || spec.combine === undefined)) throw new TypeError("a sharded reducer needs `shardOf` and `combine` in its spec");
      const flushEveryMs = props.flushEveryMs ?? 1_000;
      if (!(flushEveryMs >= 0)) throw new RangeError(`flushEveryMs must be >= 0; got ${flushEveryMs}`);
      const codec = { stateType: spec.state, stateTypeName, initial: spec.initial, merge: spec.merge };
      const shards = Array.from({ length: count }, (_, i) => new ReducerShard<S, R, ActorRef<any>>(props.store, count === 1 ? props.key : `${props.key}/shard-${i}`, codec));
      return { props, shards, flushEveryMs, timer: undefined };
    },
    started: async (state, ctx) => {
      const stats = nodeStatsOf(ctx);
      if (stats !== undefined) for (const shard of state.shards) shard.meter(stats);
      await Promise.all(state.shards.map((shard) => shard.load()));
    },
    handlers: {
      TaskResult: (state, message, ctx) => {
        const ackAddress = addressFromWire(message.ackTo);
        const ackTo = ackAddress ? ctx.refFor(ackAddress) : undefined;
        const fail = (error: string): void => ackTo?.tell(TaskFailed.create({ jobId: message.jobId, taskId: message.taskId, error }), ctx.self);
        if (message.resultType !== resultTypeName) return fail(`reducer expects results of type ${resultTypeName}, got ${message.resultType || "none"}`);
        let result: R;
        try {
          result = spec.result.decode(message.result) as R;
        } catch (error) {
          return fail(`result does not decode as ${resultTypeName}: ${(error as Error).message}`);
        }
        const shard = state.shards[state.shards.length === 1 ? 0 : mod(spec.shardOf!(result, message.taskId), state.shards.length)]!;
        const status = shard.status(message.jobId, message.taskId);
        if (status === "durable") {
          ackTo?.tell(ResultDurable.create({ jobId: message.jobId, taskId: message.taskId, duplicate: true }), ctx.self);
          return;
        }
        if (status === "pending") {
          if (ackTo && state.props.ackWhen !== "applied") shard.addAckTo(message.jobId, message.taskId, ackTo);
          else ackTo?.tell(ResultDurable.create({ jobId: message.jobId, taskId: message.taskId, duplicate: true }), ctx.self);
          return;
        }
        try {
          shard.apply(message.jobId, message.taskId, result, ackTo && state.props.ackWhen !== "applied" ? [ackTo] : [], ctx.tracer && otelApi()?.trace.getActiveSpan()?.spanContext());
        } catch (error) {
          return fail(`merge failed: ${(error as Error).message}`);
        }
        if (state.props.ackWhen === "applied") ackTo?.tell(ResultDurable.create({ jobId: message.jobId, taskId: message.taskId }), ctx.self);
        scheduleFlush(state, ctx, shard);
      },
      AppliedTasksRequest: (state, request, ctx) => {
        const ids = new Set<string>();
        for (const shard of state.shards) for (const id of shard.durableTasksOf(request.jobId)) ids.add(id);
        ctx.reply(AppliedTasks.create({ jobId: request.jobId, taskIds: [...ids] }));
      },
      ReducerStateRequest: (state, _request, ctx) => {
        const merged = state.shards.map((s) => s.current).reduce((a, b) => spec.combine!(a, b));
        const applied = state.shards.reduce((n, s) => n + s.appliedCount, 0);
        const durable = state.shards.reduce((n, s) => n + s.durableCount, 0);
        ctx.reply(ReducerState.create({ stateType: stateTypeName, state: spec.state.encode(merged).finish(), applied, durable }));
      },
      Flush: async (state, _request, ctx) => {
        // A timer's Flush has no sender: flush what is due. An asked Flush waits out the rate and flushes all.
        const asked = ctx.sender !== undefined;
        await flushDue(state, ctx, asked);
        if (asked) ctx.reply(Flushed.create({ durable: state.shards.reduce((n, s) => n + s.durableCount, 0) }));
      },
    },
    stopping: async (state, ctx) => {
      await flushDue(state, ctx, true);
    },
  });
}

/** Most links one checkpoint span carries besides its parent; the count of merged results is an attribute either way. */
const MAX_LINKS = 128;

/**
 * When tracing, a checkpoint is a span in the trace of the first result it makes durable, linked to
 * every result it merged (fan-in), with the store's calls inside it.
 */
function checkpointSpan<T>(ctx: ActorContext, shard: ReducerShard<any, any, any>, write: () => Promise<T>): Promise<T> {
  const tracer = ctx.tracer;
  const api = otelApi();
  const merged = tracer && api ? shard.pendingSpans() : [];
  if (tracer === undefined || api === undefined || merged.length === 0) return write();
  const parent = api.trace.setSpanContext(api.ROOT_CONTEXT, merged[0]!);
  // The first result is the parent; the others are links (a link to the parent too would show it twice).
  const links = merged.slice(1, MAX_LINKS + 1).map((context) => ({ context }));
  return tracer.startActiveSpan("checkpoint", { links, attributes: { "troupe.reducer.key": shard.key, "troupe.reducer.merged": merged.length } }, parent, async (span) => {
    try {
      return await write();
    } catch (error) {
      failSpan(api, span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

function mod(n: number, m: number): number {
  return ((Math.trunc(n) % m) + m) % m;
}
