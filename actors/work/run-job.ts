import type { ActorSystem } from "../../runtime/actor-system.js";
import type { JobResult, JobSpec } from "./job-spec.js";
import { workSupervisor } from "./work-supervisor.js";

/**
 * Runs a job on `system` (the coordinator node): starts a work supervisor for it and resolves with the
 * job's result once every task is durable in the reducer or set aside.
 */
export function runJob<T extends object>(system: ActorSystem, spec: JobSpec<T>): Promise<JobResult> {
  const workers = spec.workers ?? 2;
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`a job needs a whole number of workers >= 1; got ${spec.workers}`);
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(spec.id)) throw new TypeError(`job id ${JSON.stringify(spec.id)} must be 1-200 letters, digits, '_', '.', ':' or '-'`);
  return new Promise<JobResult>((resolve) => {
    system.spawn(workSupervisor, {
      name: `job-${spec.id.replace(/[^A-Za-z0-9_-]/g, "_")}`,
      props: { spec, finished: resolve },
      // A lost node fails all of its workers at once: the intensity must allow for that.
      supervisor: { maxRestarts: Math.max(10, 3 * workers), withinMs: 10_000, minBackoffMs: 50, maxBackoffMs: 2_000 },
    });
  });
}
