import { startWorker, type WorkerLaunch, type WorkerProcess } from "./worker-processes.js";

/**
 * How often `troupe run` restarts its worker processes before it gives up, as an OTP supervisor's
 * intensity: more than `maxRestarts` within `withinMs` ends the run with the first failure's cause, and
 * so does a worker that fails to start more than `maxRestarts` times in a row, however slowly.
 * Restarts wait `minBackoffMs` doubling up to `maxBackoffMs`.
 */
export interface WorkerRestartIntensity {
  readonly maxRestarts: number;
  readonly withinMs: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_WORKER_RESTART_INTENSITY: WorkerRestartIntensity = { maxRestarts: 5, withinMs: 30_000, minBackoffMs: 100, maxBackoffMs: 2_000 };

/**
 * The worker node processes of one run, supervised one for one: a worker that dies, before it is
 * ready or after, is started again under the same node id (the others never notice beyond a node
 * lost and back, which the work supervisor handles by handing its tasks out again), until the
 * intensity is used up. `failed` rejects then, with the first failure, not its echoes.
 */
export class WorkerPool {
  private readonly workers = new Map<string, WorkerProcess>();
  private readonly restartTimes: number[] = [];
  private firstFailure: Error | undefined;
  private stopping = false;
  private rejectFailed!: (error: Error) => void;
  /** Rejects when the pool gives up; never resolves. */
  readonly failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));

  /** Workers still starting (not ready yet), so that `stop` stops them too, and waits for their exit. */
  private readonly starting = new Map<string, { abort: AbortController; attempt: Promise<WorkerProcess> }>();

  /** Start failures in a row per node id, reset once it is ready: a worker that never starts gives up. */
  private readonly failedStarts = new Map<string, number>();

  constructor(
    private readonly launch: Omit<WorkerLaunch, "nodeId">,
    private readonly intensity = DEFAULT_WORKER_RESTART_INTENSITY,
  ) {
    // Nobody may be listening yet (the run is still starting); the rejection is observed through `start`.
    this.failed.catch(() => undefined);
  }

  /**
   * Starts a worker per id and resolves once all are ready, restarting those that die first; rejects
   * when one fails to start more than `maxRestarts` times in a row, or the intensity is used up, or
   * `stop` came first.
   */
  async start(ids: readonly string[]): Promise<void> {
    await Promise.race([Promise.all(ids.map((id) => this.run(id))), this.failed]);
    // Not all of them are running: nothing may go on as if they were.
    if (this.stopping) throw new Error("the worker processes were stopped while they started");
  }

  pids(): (number | undefined)[] {
    return [...this.workers.values()].map((w) => w.child.pid);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const starting = [...this.starting.values()];
    for (const { abort } of starting) abort.abort();
    // One that became ready meanwhile is stopped here too (stopping twice is harmless).
    const stopStarting = starting.map(({ attempt }) => attempt.then((worker) => worker.stop(), () => undefined));
    await Promise.all([...[...this.workers.values()].map((w) => w.stop()), ...stopStarting]);
  }

  /** Starts `nodeId` until it is ready, then watches it for an exit nobody asked for. */
  private async run(nodeId: string): Promise<void> {
    for (;;) {
      if (this.stopping) return;
      const abort = new AbortController();
      const attempt = startWorker({ ...this.launch, nodeId }, abort.signal);
      this.starting.set(nodeId, { abort, attempt });
      try {
        const worker = await attempt;
        if (this.stopping) return void (await worker.stop());
        this.workers.set(nodeId, worker);
        this.failedStarts.delete(nodeId);
        worker.child.once("exit", (code, signal) => {
          if (this.stopping) return;
          void this.restartAfter(nodeId, new Error(`worker ${nodeId} (pid ${worker.child.pid}) exited ${signal ? `on ${signal}` : `with code ${code}`}`));
        });
        return;
      } catch (error) {
        if (this.stopping) return; // stopped while it started: not a failure
        this.failedStarts.set(nodeId, (this.failedStarts.get(nodeId) ?? 0) + 1);
        await this.giveUpOrWait(nodeId, error instanceof Error ? error : new Error(String(error)));
      } finally {
        this.starting.delete(nodeId);
      }
    }
  }

  private async restartAfter(nodeId: string, cause: Error): Promise<void> {
    this.workers.delete(nodeId);
    try {
      await this.giveUpOrWait(nodeId, cause);
      await this.run(nodeId);
    } catch {
      // giveUpOrWait has rejected `failed`; the run ends there.
    }
  }

  /** Counts a restart; waits its backoff, or rejects `failed` (and throws) when the intensity is used up. */
  private async giveUpOrWait(nodeId: string, cause: Error): Promise<void> {
    this.firstFailure ??= cause;
    const now = Date.now();
    this.restartTimes.push(now);
    while (this.restartTimes.length > 0 && this.restartTimes[0]! < now - this.intensity.withinMs) this.restartTimes.shift();
    const inARow = this.failedStarts.get(nodeId) ?? 0;
    if (this.stopping || this.restartTimes.length > this.intensity.maxRestarts || inARow > this.intensity.maxRestarts) {
      const what = inARow > this.intensity.maxRestarts ? `${nodeId} failed to start ${inARow} times in a row` : `worker processes failed ${this.restartTimes.length} times within ${this.intensity.withinMs} ms`;
      const error = new Error(`${what}; the first failure: ${this.firstFailure.message}`, { cause: this.firstFailure });
      this.rejectFailed(error);
      throw error;
    }
    const backoffMs = Math.min(this.intensity.maxBackoffMs, this.intensity.minBackoffMs * 2 ** (this.restartTimes.length - 1));
    this.launch.log(`${cause.message}; starting ${nodeId} again in ${backoffMs} ms (restart ${this.restartTimes.length} of at most ${this.intensity.maxRestarts} within ${this.intensity.withinMs / 1000} s)`);
    await new Promise((resolve) => setTimeout(resolve, backoffMs));
  }
}
