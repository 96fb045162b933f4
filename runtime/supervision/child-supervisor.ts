import type { Clock, TimerHandle } from "../clock.js";
import { backoffDelayMs } from "./backoff.js";
import { RestartIntensity } from "./restart-intensity.js";
import { restartTargets } from "./restart-targets.js";
import { resolveSupervisorSpec, type ChildRestart, type FailureDirective, type ResolvedSupervisorSpec, type SupervisorSpec } from "./supervisor-spec.js";

/** What a supervisor needs from each child it supervises. */
export interface SupervisedChild {
  readonly path: string;
  readonly restartType: ChildRestart;
  /** Stop requested or stopped: nothing left to restart. */
  readonly isStopping: boolean;
  /** Continue with the next message, state kept. */
  resume(): void;
  /** First half of a restart: `restarting` hook, timers cancelled, children stopped. */
  prepareRestart(error: unknown): Promise<void>;
  /** Second half: `init` and `started` again, then processing resumes. */
  completeRestart(): Promise<void>;
  requestStop(): Promise<void>;
}

/** A supervisor that restarted too often: it gives up and escalates with this error. */
export class RestartIntensityError extends Error {
  override readonly name = "RestartIntensityError";
  constructor(
    readonly supervisor: string,
    readonly maxRestarts: number,
    readonly withinMs: number,
    override readonly cause: unknown,
  ) {
    super(`${supervisor} restarted children more than ${maxRestarts} times within ${withinMs} ms; last failure: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

export interface SupervisionHooks {
  /** Children in start order. */
  children(): readonly SupervisedChild[];
  /** The supervisor cannot handle this failure: fail upwards. */
  escalate(error: unknown, child: SupervisedChild): void;
  /** Every decision, for events and traces. */
  decided(child: SupervisedChild, error: unknown, directive: FailureDirective, delayMs: number): void;
}

/**
 * The supervising half of an actor (or of a node's guardian): applies the spec's decider, strategy,
 * intensity and backoff to failures of its children. Restarts run one at a time, in OTP's order:
 * affected children are taken down in reverse start order, then started again in start order.
 */
export class ChildSupervisor {
  readonly spec: ResolvedSupervisorSpec;
  private readonly intensity: RestartIntensity;
  private readonly attempts = new WeakMap<SupervisedChild, { count: number; lastRestartAt: number }>();
  private readonly pending = new Map<SupervisedChild, TimerHandle>();
  private restarts: Promise<void> = Promise.resolve();

  constructor(
    spec: SupervisorSpec | undefined,
    private readonly name: string,
    private readonly clock: Clock,
    private readonly hooks: SupervisionHooks,
    private readonly random: () => number = Math.random,
  ) {
    this.spec = resolveSupervisorSpec(spec);
    this.intensity = new RestartIntensity(this.spec.maxRestarts, this.spec.withinMs);
  }

  /** A child failed: `message` is what it was handling (undefined when its start failed). */
  childFailed(child: SupervisedChild, error: unknown, message: object | undefined): void {
    let directive: FailureDirective;
    try {
      directive = this.spec.decider(error, message);
    } catch (deciderError) {
      directive = "escalate";
      error = deciderError;
    }
    if (directive === "restart" && child.restartType === "temporary") directive = "stop";
    if (directive === "restart" && this.intensity.exceededBy(this.clock.now())) {
      directive = "escalate";
      error = new RestartIntensityError(this.name, this.spec.maxRestarts, this.spec.withinMs, error);
    }
    const delayMs = directive === "restart" ? this.nextDelayMs(child) : 0;
    this.hooks.decided(child, error, directive, delayMs);
    switch (directive) {
      case "resume":
        return child.resume();
      case "stop":
        return void child.requestStop();
      case "escalate":
        return this.hooks.escalate(error, child);
      case "restart":
        return this.scheduleRestart(child, error, delayMs);
    }
  }

  /**
   * A child that stopped by itself: a permanent one comes back (counted against the intensity, like
   * a restart); others are gone. Returns whether to start it again.
   */
  childStoppedItself(child: SupervisedChild): boolean {
    if (child.restartType !== "permanent") return false;
    if (this.intensity.exceededBy(this.clock.now())) {
      const error = new RestartIntensityError(this.name, this.spec.maxRestarts, this.spec.withinMs, new Error(`${child.path} stopped by itself`));
      this.hooks.decided(child, error, "escalate", 0);
      this.hooks.escalate(error, child);
      return false;
    }
    this.hooks.decided(child, new Error(`${child.path} stopped by itself`), "restart", 0);
    return true;
  }

  /** Cancels a restart waiting out its backoff: `child` is stopping, or gone. */
  cancel(child: SupervisedChild): void {
    const handle = this.pending.get(child);
    if (handle === undefined) return;
    this.clock.clearTimeout(handle);
    this.pending.delete(child);
  }

  /** Cancels every restart waiting out its backoff (the supervisor is stopping or restarting). */
  cancelPending(): void {
    for (const handle of this.pending.values()) this.clock.clearTimeout(handle);
    this.pending.clear();
  }

  /** Resolves once the restarts under way have finished. */
  idle(): Promise<void> {
    return this.restarts;
  }

  private nextDelayMs(child: SupervisedChild): number {
    const now = this.clock.now();
    const previous = this.attempts.get(child);
    const stable = previous === undefined || now - previous.lastRestartAt >= this.spec.resetBackoffAfterMs;
    const count = stable ? 1 : previous.count + 1;
    this.attempts.set(child, { count, lastRestartAt: now });
    return backoffDelayMs(count, this.spec, this.random);
  }

  private scheduleRestart(failed: SupervisedChild, error: unknown, delayMs: number): void {
    const run = (): void => {
      // Restarts never overlap: a second failure during one waits for it to finish.
      this.restarts = this.restarts.then(() => this.restart(failed, error)).catch((restartError: unknown) => this.hooks.escalate(restartError, failed));
    };
    if (delayMs === 0) return run();
    this.cancel(failed);
    const handle = this.clock.setTimeout(() => {
      this.pending.delete(failed);
      run();
    }, delayMs);
    this.pending.set(failed, handle);
  }

  private async restart(failed: SupervisedChild, error: unknown): Promise<void> {
    if (failed.isStopping) return;
    const targets = restartTargets(this.spec.strategy, failed, this.hooks.children()).filter((c) => !c.isStopping);
    for (const child of [...targets].reverse()) {
      await child.prepareRestart(child === failed ? error : siblingRestartReason(failed, this.spec.strategy));
    }
    for (const child of targets) await child.completeRestart();
  }
}

/** Why a restart of `failed`'s siblings happened, for their `restarting` hooks. */
export function siblingRestartReason(failed: SupervisedChild, strategy: string): Error {
  return new Error(`restarted with ${failed.path} (${strategy})`);
}
