import type { ActorSystem } from "../../runtime/actor-system.js";
import type { JobResult, JobSpec } from "./job-spec.js";
import { workSupervisor } from "./work-supervisor.js";
import { meteredJob } from "./metered-job.js";

/**
 * Runs a job on `system` (the coordinator node): starts a work supervisor for it and resolves with the
 * job's result once every task is durable in the reducer or set aside.
 */
export function runJob<T extends object>(system: ActorSystem, jobSpec: JobSpec<T>): Promise<JobResult> {
  const spec = meteredJob(jobSpec, system.stats);
  const workers = spec.workers ?? 2;
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`a job needs a whole number of workers >= 1; got ${spec.workers}`);
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(spec.id)) throw new TypeError(`job id ${JSON.stringify(spec.id)} must be 1-200 letters, digits, '_', '.', ':' or '-'`);
  // When tracing, the job is one root span; every task is handed out under it.
  const tracing = system.tracing;
  const span = tracing?.tracer.startSpan(`job ${spec.id}`, { kind: tracing.api.SpanKind.INTERNAL, attributes: { "troupe.job.id": spec.id } });
  return new Promise<JobResult>((resolve) => {
    const finished = (result: JobResult): void => {
      system.stats?.jobEnded(spec.id, result);
      span?.setAttributes({ "troupe.job.done": result.done, "troupe.job.failed": result.failed, "troupe.job.retried": result.retried, "troupe.job.skipped": result.skipped });
      if (result.cache) span?.setAttributes({ "troupe.job.cache.hits": result.cache.hits, "troupe.job.cache.misses": result.cache.misses, "troupe.job.cache.waits": result.cache.waits, "troupe.job.cache.bypassed": result.cache.bypassed, "troupe.job.cache.saved_ms": Math.round(result.cache.savedMs) });
      if (result.failed > 0 && tracing) span?.setStatus({ code: tracing.api.SpanStatusCode.ERROR, message: `${result.failed} tasks set aside` });
      span?.end();
      resolve(result);
    };
    const traceContext = span && tracing && tracing.api.trace.setSpan(tracing.api.context.active(), span);
    const spawn = (): unknown =>
      system.spawn(workSupervisor, {
        name: `job-${spec.id.replace(/[^A-Za-z0-9_-]/g, "_")}`,
        props: { spec, finished, traceContext },
        // A lost node fails all of its workers at once: the intensity must allow for that.
        supervisor: { maxRestarts: Math.max(10, 3 * workers), withinMs: 10_000, minBackoffMs: 50, maxBackoffMs: 2_000 },
      });
    // The supervisor starts inside the job's span: what it does first (asking the reducer) is in it too.
    if (traceContext === undefined) spawn();
    else tracing!.with(traceContext, spawn);
  });
}
