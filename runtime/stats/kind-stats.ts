import { BucketHistogram } from "./bucket-histogram.js";

/**
 * The counters of one actor kind on one node, kept by its cells while metrics are on: plain fields
 * bumped on the hot paths, read by the metrics module when a reader collects.
 */
export class KindStats {
  /** Messages put in a mailbox of this kind (dropped by an overflow too). */
  received = 0;
  /** Messages handed to a handler (or found to have none), counted per mailbox turn. */
  processed = 0;
  /** Handlers that threw or rejected. */
  failed = 0;
  restarts = 0;
  /**
   * Processing time per message in seconds. A synchronous turn is timed whole (one clock read pair) and
   * counts as `handled` messages at its mean; an async handler is timed from its call to its settling.
   */
  readonly processing = new BucketHistogram();

  constructor(readonly kind: string) {}

  /** A mailbox turn of `handled` messages took `ms` milliseconds. */
  turn(handled: number, ms: number): void {
    if (handled <= 0) return;
    this.processed += handled;
    this.processing.add(ms / 1000 / handled, handled);
  }

  /** An async handler settled `ms` milliseconds after it was called. */
  settled(ms: number): void {
    this.processed++;
    this.processing.add(ms / 1000);
  }
}
