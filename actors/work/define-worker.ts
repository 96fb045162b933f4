import { addressFromWire } from "../../runtime/address.js";
import type { ActorContext } from "../../runtime/actor-context.js";
import { defineActor, type ActorDefinition } from "../../runtime/actor-definition.js";
import { protobufNameOf, type MessageOf, type MessageType } from "../../runtime/codec/message-type.js";
import { troupe } from "../../proto/gen/troupe.js";
import { throughWorkerCache, type WorkerCacheOption } from "./worker-cache.js";

const { Task, TaskResult, TaskFailed, TaskDone } = troupe.work;

export interface WorkerSpec<TT extends MessageType<any>, RT extends MessageType<any>> {
  /** The kind nodes register, so that a work supervisor can place workers on them. */
  readonly kind: string;
  /** The protobuf class of a task's payload. */
  readonly task: TT;
  /** The protobuf class of its result. */
  readonly result: RT;
  /** Computes one task. Throwing (or rejecting) reports the task as failed; the worker carries on. */
  readonly run: (task: MessageOf<TT>, ctx: ActorContext) => MessageOf<RT> | Promise<MessageOf<RT>>;
  /**
   * Answer repeated tasks (the same bytes, or the same `cache.key`) from a result cache (`troupe/cache`) instead of running
   * `run` again; identical tasks in flight at once run once, across nodes too. Default: no cache.
   */
  readonly cache?: WorkerCacheOption<MessageOf<TT>>;
}

/**
 * A worker for the work supervisor: runs the user's function on each `troupe.work.Task`, sends the
 * result straight to the task's reducer (which acknowledges it to the supervisor once durable) and
 * tells the supervisor it is done, so it gets the next task without waiting for the checkpoint. A task
 * whose function throws is reported to the supervisor as `TaskFailed`: one bad task does not restart
 * the worker or lose the tasks queued behind it.
 */
export function defineWorker<TT extends MessageType<any>, RT extends MessageType<any>>(spec: WorkerSpec<TT, RT>): ActorDefinition<undefined, troupe.work.Task, void> {
  const taskTypeName = protobufNameOf(spec.task);
  const resultTypeName = protobufNameOf(spec.result);
  return defineActor({
    kind: spec.kind,
    messages: { Task },
    init: () => undefined,
    handlers: {
      Task: async (_state, task, ctx) => {
        const ackAddress = addressFromWire(task.ackTo);
        const ackTo = ackAddress ? ctx.refFor(ackAddress) : undefined;
        const failed = (error: unknown): void =>
          ackTo?.tell(TaskFailed.create({ jobId: task.jobId, taskId: task.taskId, attempt: task.attempt, error: error instanceof Error ? error.message : String(error) }), ctx.self);
        const reducerAddress = addressFromWire(task.reducer);
        if (reducerAddress === undefined) return failed("the task names no reducer");
        if (task.payloadType !== taskTypeName) return failed(`worker ${spec.kind} takes ${taskTypeName}, not ${task.payloadType || "nothing"}`);
        let done: Awaited<ReturnType<typeof throughWorkerCache>>;
        try {
          const decoded = spec.task.decode(task.payload) as MessageOf<TT>;
          const compute = async (): Promise<Uint8Array> => spec.result.encode(await spec.run(decoded, ctx)).finish();
          const cacheTask = { kind: spec.kind, type: taskTypeName, bytes: task.payload, decoded, resultType: resultTypeName };
          done = await throughWorkerCache(spec.cache, cacheTask, (bytes) => spec.result.decode(bytes), compute, ctx);
        } catch (error) {
          return failed(error);
        }
        ctx.refFor(reducerAddress).tell(TaskResult.create({ jobId: task.jobId, taskId: task.taskId, resultType: resultTypeName, result: done.bytes, ackTo: task.ackTo }), ctx.self);
        ackTo?.tell(TaskDone.create({ jobId: task.jobId, taskId: task.taskId, attempt: task.attempt, cache: done.outcome, cacheSavedMs: done.savedMs }), ctx.self);
      },
    },
  });
}
