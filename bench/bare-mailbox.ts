/**
 * The local baselines' mailbox at its barest: an array queue drained in a microtask, handing each
 * message to `handle`. No actor, no dispatch on the message type.
 */
export class BareMailbox<T extends object> {
  private readonly queue: (T | undefined)[] = [];
  private head = 0;
  private scheduled = false;
  /**
   * Assigned in the constructor, not as a class field: tsx compiles with esbuild's `keepNames`, which
   * wraps an arrow-function field in `__name(fn, "drain")`, an `Object.defineProperty` on every new
   * instance (18% of the bare skynet's CPU profile, and 256 heap bytes per instance).
   */
  private readonly drain: () => void;

  constructor(public handle: (message: T) => void = () => {}) {
    this.drain = () => this.drainQueue();
  }

  push(message: T): void {
    this.queue.push(message);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.drain);
    }
  }

  private drainQueue(): void {
    const queue = this.queue;
    while (this.head < queue.length) {
      const message = queue[this.head]!;
      queue[this.head++] = undefined;
      this.handle(message);
    }
    queue.length = 0;
    this.head = 0;
    this.scheduled = false;
  }
}
