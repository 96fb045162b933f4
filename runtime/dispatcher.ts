import { Mailbox } from "./mailbox.js";

/** What the dispatcher runs: an actor with messages waiting. */
export interface Runnable {
  /** Processes a turn of messages; returns how many it handled (0 when it had nothing to do). */
  runTurn(): number;
}

/** Messages (plus turns) handled in one drain before the dispatcher yields the event loop to I/O and timers. */
const WORK_PER_DRAIN = 20_000;
const RESOLVED = Promise.resolve();

/**
 * The node's run queue: actors with messages waiting, run in turn (FIFO) from one microtask, as
 * Akka's dispatcher and Erlang's run queue do. One queue for the node instead of a microtask per
 * actor: Node's `queueMicrotask` allocates an async resource per call, which dominated spawning a
 * million actors. After `WORK_PER_DRAIN` messages the drain continues from `setImmediate`, so a
 * chain of actors that keep each other busy cannot starve sockets and timers.
 */
export class Dispatcher {
  /** The ready actors, in order: a mailbox's ring serves as the queue (no capacity: each actor is in it at most once). */
  private readonly ready = new Mailbox({ capacity: Infinity });
  /** A drain is queued or running. */
  private draining = false;
  private readonly drainBound: () => void;

  constructor() {
    this.drainBound = () => this.drain();
  }

  /** Queues `actor` for a turn; the caller makes sure it is not queued twice. */
  schedule(actor: Runnable): void {
    this.ready.push(actor, undefined, undefined);
    if (!this.draining) {
      this.draining = true;
      // A reaction on a settled promise, not queueMicrotask: the same microtask queue without the async
      // resource Node's queueMicrotask creates per call (an ask between two idle actors pays this once).
      void RESOLVED.then(this.drainBound);
    }
  }

  private drain(): void {
    let work = 0;
    while (this.ready.size > 0) {
      if (work >= WORK_PER_DRAIN) {
        setImmediate(this.drainBound);
        return;
      }
      const actor = this.ready.shift() as Runnable;
      // A turn costs at least one unit, so actors woken with nothing to do still use up the budget.
      try {
        work += actor.runTurn() + 1;
      } catch (error) {
        // Handlers' errors are the actors' own business; this is a fault in the runtime or in a user
        // hook it calls (a supervisor's decider). Surface it as an uncaught error, as a microtask per
        // actor did, but keep the other actors running.
        work += 1;
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    this.draining = false;
  }
}
