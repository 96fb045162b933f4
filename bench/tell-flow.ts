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
export const CHUNK = 1_000;
export const WINDOW = 50_000;
export const ACK_EVERY = 5_000;

/** The flow-control sizes of one send; larger messages need a smaller window (see `flowFor`). */
export interface Flow {
  readonly chunk: number;
  readonly window: number;
  readonly ackEvery: number;
}

/**
 * Flow sizes for messages of `bytes` each: the defaults for 100-byte Blobs, and a window of at most
 * 8 MiB for larger ones, so that nats-server never holds more for the receiver than a slow consumer may.
 */
export function flowFor(bytes: number): Flow {
  const window = Math.max(64, Math.min(WINDOW, Math.floor((8 << 20) / bytes)));
  return { window, chunk: Math.min(CHUNK, Math.max(1, window >> 2)), ackEvery: Math.min(ACK_EVERY, Math.max(1, Math.floor(window / 10))) };
}

/** The sender's view of the receiver's progress. */
export class Credit {
  private acked = 0;
  private window = WINDOW;
  private wake: (() => void) | undefined;

  reset(window = WINDOW): void {
    this.acked = 0;
    this.window = window;
  }

  ack(count: number): void {
    this.acked = Math.max(this.acked, count);
    this.wake?.();
    this.wake = undefined;
  }

  /** Resolves once the sender may publish message number `seq`. */
  async until(seq: number): Promise<void> {
    while (seq > this.acked + this.window) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** How many of the messages after `sent` may go now. */
  room(sent: number): number {
    return this.acked + this.window - sent;
  }
}

/** The sending side: publishes messages 1..n in flushed chunks within the credit window; returns the ms it took. */
export async function sendBlobs(n: number, publish: (seq: number) => void, flush: () => Promise<void>, credit: Credit, chunk = CHUNK): Promise<number> {
  const started = nowMs();
  let sent = 0;
  while (sent < n) {
    await credit.until(sent + 1);
    const end = Math.min(n, sent + chunk, sent + credit.room(sent));
    while (sent < end) publish(++sent);
    await flush();
  }
  return nowMs() - started;
}

/** The receiving side, the same for all: counts messages, checks their order, reports progress, times first to last. */
export class Receiver {
  private count = 0;
  private firstMs = 0;
  private lastMs = 0;
  private settle!: { resolve: (rate: number) => void; reject: (error: Error) => void };
  /** Messages per second, from the first message to the last. */
  readonly finished = new Promise<number>((resolve, reject) => (this.settle = { resolve, reject }));

  constructor(
    private readonly n: number,
    /** Tells the sender how many messages have arrived (every `ackEvery`). */
    private readonly ack: (count: number) => void,
    private readonly ackEvery = ACK_EVERY,
  ) {}

  get received(): number {
    return this.count;
  }

  /** When the first and the last message arrived, in ms since the epoch (`performance.timeOrigin` based). */
  get span(): { firstAtMs: number; lastAtMs: number } {
    return { firstAtMs: performance.timeOrigin + this.firstMs, lastAtMs: performance.timeOrigin + this.lastMs };
  }

  receive(seq: number): void {
    const count = ++this.count;
    if (count === 1) this.firstMs = nowMs();
    if (seq !== count) this.settle.reject(new Error(`message ${count} carried seq ${seq}: lost or reordered`));
    if (count % this.ackEvery === 0) this.ack(count);
    // Messages after the first, over the time from the first to the last.
    if (count === this.n) {
      this.lastMs = nowMs();
      this.settle.resolve((this.n - 1) / ((this.lastMs - this.firstMs) / 1000));
    }
  }

  fail(error: Error): void {
    this.settle.reject(error);
  }
}
