import { defineActor } from "../runtime/index.js";
import { alternate, within, type Benchmark } from "./benchmark.js";
import { Blob, blob } from "./messages.js";
import type { Peer } from "./remote-env.js";
import { median, nowMs } from "./stats.js";

/**
 * Flow control, identical for baseline and Troupe, so that the sender never overruns the receiver
 * (which would measure the server's buffering, or get the receiver cut off as a slow consumer):
 * the sender publishes CHUNK messages, awaits `flush()`, and never runs more than WINDOW messages
 * ahead of what the receiver has reported (every ACK_EVERY messages) over the IPC channel.
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

/** The peer's side: publishes Blobs 1..n in flushed chunks within the credit window; returns the ms it took. */
export async function sendBlobs(n: number, publish: (message: Blob) => void, flush: () => Promise<void>, credit: Credit): Promise<number> {
  const started = nowMs();
  let sent = 0;
  while (sent < n) {
    await credit.until(sent + 1);
    const end = Math.min(n, sent + CHUNK, sent + credit.room(sent));
    while (sent < end) publish(blob(++sent));
    await flush();
  }
  return nowMs() - started;
}

/** The receiving side, the same for both: counts Blobs, checks their order, reports progress, times first to last. */
class Receiver {
  private count = 0;
  private firstMs = 0;
  private settle!: { resolve: (rate: number) => void; reject: (error: Error) => void };
  readonly finished = new Promise<number>((resolve, reject) => (this.settle = { resolve, reject }));

  constructor(
    private readonly n: number,
    private readonly peer: Peer,
  ) {}

  get received(): number {
    return this.count;
  }

  receive(seq: number): void {
    const count = ++this.count;
    if (count === 1) this.firstMs = nowMs();
    if (seq !== count) this.settle.reject(new Error(`message ${count} carried seq ${seq}: lost or reordered`));
    if (count % ACK_EVERY === 0) this.peer.ack(count);
    // Messages after the first, over the time from the first to the last.
    if (count === this.n) this.settle.resolve((this.n - 1) / ((nowMs() - this.firstMs) / 1000));
  }

  fail(error: Error): void {
    this.settle.reject(error);
  }
}

/** The Troupe receiver: an actor that hands every Blob to a Receiver. */
const sink = defineActor({
  messages: { Blob },
  init: (receiver: Receiver) => receiver,
  handlers: {
    Blob: (receiver, message) => receiver.receive(message.seq),
  },
});

/**
 * Blobs with 100 payload bytes from the peer process to this one, over nats-server, measured as
 * messages received per second at the receiver. Baseline: plain nats.js publish/subscribe of the same
 * Blob (encoded per message at the sender, decoded at the receiver).
 */
export const remoteTell: Benchmark = {
  name: "remote-tell",
  async run(ctx) {
    const env = await ctx.remote();
    const n = ctx.quick ? 50_000 : 500_000;
    let round = 0;
    const sizeOf = (warmup: boolean): number => (warmup ? n / 4 : n);
    const raw = async (warmup: boolean): Promise<number> => {
      const count = sizeOf(warmup);
      const receiver = new Receiver(count, env.peer);
      const subject = `bench.raw.tell.${++round}`;
      const subscription = env.raw.subscribe(subject, {
        callback: (error, msg) => (error ? receiver.fail(error) : receiver.receive(Blob.decode(msg.data).seq)),
      });
      await env.raw.flush();
      try {
        const sent = await env.peer.send({ mode: "raw", subject, n: count });
        const rate = await within(receiver.finished, 60_000, () => `raw receive (${receiver.received} of ${count})`);
        if (!warmup) ctx.log(`    raw: sender ${Math.round(sent.sent / (sent.ms / 1000)).toLocaleString("en-US")} msg/s`);
        return rate;
      } finally {
        subscription.unsubscribe();
      }
    };
    const troupe = async (warmup: boolean): Promise<number> => {
      const count = sizeOf(warmup);
      const receiver = new Receiver(count, env.peer);
      const ref = env.system.spawn(sink, { name: `sink-${++round}`, props: receiver, mailbox: { capacity: Infinity } });
      try {
        const sent = await env.peer.send({ mode: "troupe", target: ref.address, n: count });
        const rate = await within(receiver.finished, 60_000, () => `troupe receive (${receiver.received} of ${count})`);
        if (!warmup) ctx.log(`    troupe: sender ${Math.round(sent.sent / (sent.ms / 1000)).toLocaleString("en-US")} msg/s`);
        return rate;
      } finally {
        await env.system.stop(ref);
      }
    };
    const runs = await alternate(ctx, "remote-tell", raw, troupe);
    return [
      {
        name: "remote-tell",
        value: median(runs.troupe),
        unit: "msg/s",
        baseline: "nats.js publish/subscribe",
        baselineValue: median(runs.baseline),
        target: { op: ">=", ratio: 1.0 },
      },
    ];
  },
};
