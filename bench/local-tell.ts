import { ActorSystem, MemoryNetwork, defineActor } from "../runtime/index.js";
import { LOCAL_ROUNDS_FACTOR, alternate, within, type Benchmark } from "./benchmark.js";
import { Blob, blob } from "./messages.js";
import { median, nowMs } from "./stats.js";
import { BareMailbox } from "./bare-mailbox.js";

/** Distinct message objects, reused cyclically by both sides (so neither pays for allocating them). */
export const POOL_SIZE = 1024;

interface CounterState {
  count: number;
  readonly n: number;
  readonly done: () => void;
}

/** Counts Blobs and calls `done` on the n-th. Mutates its state: the figure is the runtime's cost, not the handler's. */
const counter = defineActor({
  messages: { Blob },
  init: (props: { n: number; done: () => void }): CounterState => ({ count: 0, ...props }),
  handlers: {
    Blob: (state) => {
      if (++state.count === state.n) state.done();
    },
  },
});

/** Spawns a counter, tells it n messages from `pool` in a synchronous loop; resolves with messages per second. */
export async function troupeTellRound(system: ActorSystem, n: number, pool: readonly Blob[]): Promise<number> {
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const ref = system.spawn(counter, { props: { n, done }, mailbox: { capacity: Infinity } });
  const started = nowMs();
  for (let i = 0; i < n; i++) ref.tell(pool[i & (POOL_SIZE - 1)]!);
  await within(finished, 60_000, () => `troupe actor counting ${n} tells`);
  const rate = n / ((nowMs() - started) / 1000);
  await system.stop(ref);
  return rate;
}

/** One sender tells one actor n messages in a synchronous loop; the clock stops when the actor has counted them all. */
export const localTell: Benchmark = {
  name: "local-tell",
  async run(ctx) {
    const n = ctx.quick ? 200_000 : 1_000_000;
    const pool = Array.from({ length: POOL_SIZE }, (_, i) => blob(i));
    const system = await ActorSystem.start({ name: "bench", nodeId: "local", transport: new MemoryNetwork().connect() });
    try {
      const bare = async (): Promise<number> => {
        let count = 0;
        let done!: () => void;
        const finished = new Promise<void>((resolve) => (done = resolve));
        const mailbox = new BareMailbox(() => {
          if (++count === n) done();
        });
        const started = nowMs();
        for (let i = 0; i < n; i++) mailbox.push(pool[i & (POOL_SIZE - 1)]!);
        await within(finished, 60_000, () => `bare mailbox loop (${count} of ${n})`);
        return n / ((nowMs() - started) / 1000);
      };
      const troupe = (): Promise<number> => troupeTellRound(system, n, pool);
      const runs = await alternate(ctx, "local-tell", bare, troupe, { rounds: LOCAL_ROUNDS_FACTOR * ctx.reps });
      return [
        {
          name: "local-tell",
          value: median(runs.troupe),
          unit: "msg/s",
          baseline: "bare mailbox loop",
          baselineValue: median(runs.baseline),
          target: { op: ">=", ratio: 0.4 },
        },
      ];
    } finally {
      await system.shutdown();
    }
  },
};
