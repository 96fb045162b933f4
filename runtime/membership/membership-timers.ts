import type { Clock, TimerHandle } from "../clock.js";

/**
 * A membership's timers, on its clock: a task runs only while the membership runs, and `clear` stops
 * them all at once when it stops.
 */
export class MembershipTimers {
  private readonly handles = new Set<TimerHandle>();

  constructor(
    private readonly clock: Clock,
    private readonly running: () => boolean,
  ) {}

  after(delayMs: number, task: () => void): TimerHandle {
    const handle = this.clock.setTimeout(() => {
      this.handles.delete(handle);
      if (this.running()) task();
    }, delayMs);
    this.handles.add(handle);
    return handle;
  }

  cancel(handle: TimerHandle): void {
    this.clock.clearTimeout(handle);
    this.handles.delete(handle);
  }

  /** Runs `task` every `periodMs`; a round that comes more than `skipIfLateMs` late (this process stalled) is skipped. */
  every(periodMs: number, task: () => void, skipIfLateMs = Number.POSITIVE_INFINITY): void {
    const schedule = (): void => {
      const dueMs = this.clock.now() + periodMs;
      this.after(periodMs, () => {
        if (this.clock.now() - dueMs <= skipIfLateMs) task();
        if (this.running()) schedule();
      });
    };
    schedule();
  }

  clear(): void {
    for (const handle of this.handles) this.clock.clearTimeout(handle);
    this.handles.clear();
  }
}
