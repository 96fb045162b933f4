import { troupe } from "../../proto/gen/troupe.js";

const { Checkpoint } = troupe.work;

/** What one state object holds: the merged state and, per job, the tasks already merged into it. */
export interface CheckpointData {
  readonly stateType: string;
  readonly state: Uint8Array;
  readonly applied: ReadonlyMap<string, ReadonlySet<string>>;
}

/** `added`: task ids applied since `data.applied` was durable, written with it (no copy of the sets). */
export function encodeCheckpoint(data: CheckpointData, added: readonly { readonly jobId: string; readonly taskId: string }[] = []): Uint8Array {
  const applied: Record<string, { ids: string[] }> = {};
  for (const [job, ids] of data.applied) applied[job] = { ids: [...ids] };
  for (const { jobId, taskId } of added) (applied[jobId] ??= { ids: [] }).ids.push(taskId);
  return Checkpoint.encode({ stateType: data.stateType, state: data.state, applied }).finish();
}

/** Throws with a clear message when `bytes` are not a checkpoint of `stateType`. */
export function decodeCheckpoint(bytes: Uint8Array, stateType: string, where: string): CheckpointData {
  let checkpoint: troupe.work.Checkpoint;
  try {
    checkpoint = Checkpoint.decode(bytes);
  } catch (error) {
    throw new Error(`${where} is not a troupe.work.Checkpoint: ${(error as Error).message}`);
  }
  if (checkpoint.stateType !== stateType) throw new Error(`${where} holds state of type ${checkpoint.stateType}, not ${stateType}`);
  const applied = new Map<string, Set<string>>();
  for (const [job, ids] of Object.entries(checkpoint.applied)) applied.set(job, new Set(ids.ids ?? []));
  return { stateType, state: checkpoint.state, applied };
}
