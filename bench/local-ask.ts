import { ActorSystem, MemoryNetwork, defineActor, type ActorRef } from "../runtime/index.js";
import { LOCAL_ROUNDS_FACTOR, alternate, within, type Benchmark } from "./benchmark.js";
import { echo } from "./echo.js";
import { Ack, Blob, Run, blob } from "./messages.js";
import { median, nowMs } from "./stats.js";
import { BareMailbox } from "./bare-mailbox.js";

const POOL_SIZE = 1024;

interface AskerProps {
  readonly target: ActorRef<Blob>;
  readonly pool: readonly Blob[];
  readonly done: (error?: Error) => void;
}

/** On Run, asks `target` `count` times in sequence (each ask awaits its Ack), then calls `done`. */
const asker = defineActor({
  messages: { Run },
  init: (props: AskerProps) => props,
  handlers: {
    Run: async (state, run) => {
      const { target, pool, done } = state;
      for (let i = 0; i < run.count; i++) {
        const request = pool[i & (POOL_SIZE - 1)]!;
        const ack = await target.ask(request, Ack);
        if (ack.seq !== request.seq) return done(new Error(`asked seq ${request.seq}, got Ack ${ack.seq}`));
      }
      done();
    },
  },
});

/** Actor A asks actor B with `ref.ask` in a loop, one ask in flight; round trips per second. */
export const localAsk: Benchmark = {
  name: "local-ask",
  async run(ctx) {
    const n = ctx.quick ? 50_000 : 200_000;
    const pool = Array.from({ length: POOL_SIZE }, (_, i) => blob(i));
    const system = await ActorSystem.start({ name: "bench", nodeId: "local", transport: new MemoryNetwork().connect() });
    try {
      const bare = async (): Promise<number> => {
        // A sends a Blob to B's queue; B answers with an Ack into A's queue; A sends the next Blob.
        const a = new BareMailbox<Blob | Ack>();
        const b = new BareMailbox<Blob | Ack>();
        let sent = 0;
        let done!: () => void;
        const finished = new Promise<void>((resolve) => (done = resolve));
        b.handle = (message) => a.push(Ack.create({ seq: (message as Blob).seq }));
        a.handle = () => {
          if (sent === n) return done();
          b.push(pool[sent++ & (POOL_SIZE - 1)]!);
        };
        const started = nowMs();
        b.push(pool[sent++]!);
        await within(finished, 60_000, () => `bare ping-pong (${sent} of ${n})`);
        return n / ((nowMs() - started) / 1000);
      };
      const troupe = async (): Promise<number> => {
        let done!: (error?: Error) => void;
        const finished = new Promise<void>((resolve, reject) => (done = (error) => (error ? reject(error) : resolve())));
        const b = system.spawn(echo);
        const a = system.spawn(asker, { props: { target: b, pool, done } });
        const started = nowMs();
        a.tell(Run.create({ count: n }));
        await within(finished, 60_000, () => `troupe asker (${n} asks)`);
        const rate = n / ((nowMs() - started) / 1000);
        await Promise.all([system.stop(a), system.stop(b)]);
        return rate;
      };
      const runs = await alternate(ctx, "local-ask", bare, troupe, { rounds: LOCAL_ROUNDS_FACTOR * ctx.reps });
      return [
        {
          name: "local-ask",
          value: median(runs.troupe),
          unit: "round trips/s",
          baseline: "bare ping-pong of two microtask queues",
          baselineValue: median(runs.baseline),
          target: { op: ">=", ratio: 0.3 },
        },
      ];
    } finally {
      await system.shutdown();
    }
  },
};
