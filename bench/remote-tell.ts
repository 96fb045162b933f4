import { defineActor } from "../runtime/index.js";
import { alternate, within, type Benchmark } from "./benchmark.js";
import { Blob } from "./messages.js";
import { median } from "./stats.js";
import { Receiver } from "./tell-flow.js";

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
      const receiver = new Receiver(count, (acked) => env.peer.ack(acked));
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
      const receiver = new Receiver(count, (acked) => env.peer.ack(acked));
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
