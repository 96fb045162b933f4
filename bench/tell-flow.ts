// The sending and receiving halves of the remote tell benchmarks, shared by every build and mode
// compared: they import no runtime and no generated code, so that a process running another build
// (bench/build-node.ts) measures that build with exactly this harness.
import { nowMs } from "./stats.js";

/**
 * Flow control, identical for baseline and Troupe, so that the sender never overruns the receiver
 * (which would measure the server's buffering, or get the receiver cut off as a slow consumer):
 * the sender publishes CHUNK messages, awaits `flush()`, and never runs more than WINDOW messages
 * ahead of what the receiver has reported (every ACK_EVERY messages).
 */
const CHUNK = 1_000;
const WINDOW = 50_000;
const ACK_EVERY = 5_000;

/** The sender's view of the receiver's progress. */
export class Credit {
  private acked = 0;
  private wake: (() => void) | undefined;

  reset(): void {
    this.acked = 0;
  }

  ack(count: number): void {
    this.acked = Math.max(this.acked, count);
    this.wake?.();
    this.wake = undefined;
  }

  /** Resolves once the sender may publish message number `seq`. */
  async until(seq: number): Promise<void> {
    while (seq > this.acked + WINDOW) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** How many of the messages after `sent` may go now. */
  room(sent: number): number {
    return this.acked + WINDOW - sent;
  }
}

/** The sending side: publishes messages 1..n in flushed chunks within the credit window; returns the ms it took. */
export async function sendBlobs(n: number, publish: (seq: number) => void, flush: () => Promise<void>, credit: Credit): Promise<number> {
  const started = nowMs();
  let sent = 0;
  while (sent < n) {
    await credit.until(sent + 1);
    const end = Math.min(n, sent + CHUNK, sent + credit.room(sent));
    while (sent < end) publish(++sent);
    await flush();
  }
  return nowMs() - started;
}

/** The receiving side, the same for all: counts messages, checks their order, reports progress, times first to last. */
export class Receiver {
  private count = 0;
  private firstMs = 0;
  private settle!: { resolve: (rate: number) => void; reject: (error: Error) => void };
  /** Messages per second, from the first message to the last. */
  readonly finished = new Promise<number>((resolve, reject) => (this.settle = { resolve, reject }));

  constructor(
    private readonly n: number,
    /** Tells the sender how many messages have arrived (every ACK_EVERY). */
    private readonly ack: (count: number) => void,
  ) {}

  get received(): number {
    return this.count;
  }

  receive(seq: number): void {
    const count = ++this.count;
    if (count === 1) this.firstMs = nowMs();
    if (seq !== count) this.settle.reject(new Error(`message ${count} carried seq ${seq}: lost or reordered`));
    if (count % ACK_EVERY === 0) this.ack(count);
    // Messages after the first, over the time from the first to the last.
    if (count === this.n) this.settle.resolve((this.n - 1) / ((nowMs() - this.firstMs) / 1000));
  }

  fail(error: Error): void {
    this.settle.reject(error);
  }
}
