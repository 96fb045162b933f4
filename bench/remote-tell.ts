import { defineActor } from "../runtime/index.js";
import { alternate, within, type BenchContext, type Benchmark } from "./benchmark.js";
import { Blob } from "./messages.js";
import { median } from "./stats.js";
import type { RemoteEnv } from "./remote-env.js";
import { Receiver, type Flow } from "./tell-flow.js";

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
    const n = ctx.quick ? 50_000 : 500_000;
    const sides = tellSides(ctx, await ctx.remote(), (warmup) => (warmup ? n / 4 : n));
    const runs = await alternate(ctx, "remote-tell", sides.raw, sides.troupe);
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

/** What a remote tell round may change: the payload size, and the flow control that suits it. */
export interface TellShape {
  readonly payloadBytes?: number;
  readonly flow?: Flow;
}

let round = 0;

/**
 * One round of each side, `sizeOf(warmup)` messages from the peer process to this one: plain nats.js
 * publish/subscribe (baseline) and a Troupe actor; each resolves with messages received per second.
 */
export function tellSides(ctx: BenchContext, env: RemoteEnv, sizeOf: (warmup: boolean) => number, shape: TellShape = {}): Record<"raw" | "troupe", (warmup: boolean) => Promise<number>> {
  const ackEvery = shape.flow?.ackEvery;
  const raw = async (warmup: boolean): Promise<number> => {
    const count = sizeOf(warmup);
    const receiver = new Receiver(count, (acked) => env.peer.ack(acked), ackEvery);
    const subject = `bench.raw.tell.${++round}`;
    const subscription = env.raw.subscribe(subject, {
      callback: (error, msg) => (error ? receiver.fail(error) : receiver.receive(Blob.decode(msg.data).seq)),
    });
    await env.raw.flush();
    try {
      const sent = await env.peer.send({ mode: "raw", subject, n: count, ...shape });
      const rate = await within(receiver.finished, 60_000, () => `raw receive (${receiver.received} of ${count})`);
      if (!warmup) ctx.log(`    raw: sender ${Math.round(sent.sent / (sent.ms / 1000)).toLocaleString("en-US")} msg/s`);
      return rate;
    } finally {
      subscription.unsubscribe();
    }
  };
  const troupe = async (warmup: boolean): Promise<number> => {
    const count = sizeOf(warmup);
    const receiver = new Receiver(count, (acked) => env.peer.ack(acked), ackEvery);
    const ref = env.system.spawn(sink, { name: `sink-${++round}`, props: receiver, mailbox: { capacity: Infinity } });
    try {
      const sent = await env.peer.send({ mode: "troupe", target: ref.address, n: count, ...shape });
      const rate = await within(receiver.finished, 60_000, () => `troupe receive (${receiver.received} of ${count})`);
      if (!warmup) ctx.log(`    troupe: sender ${Math.round(sent.sent / (sent.ms / 1000)).toLocaleString("en-US")} msg/s`);
      return rate;
    } finally {
      await env.system.stop(ref);
    }
  };
  return { raw, troupe };
}
