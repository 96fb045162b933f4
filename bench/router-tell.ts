import { ActorSystem, MemoryNetwork, defineActor, roundRobin, type ActorRef } from "../runtime/index.js";
import { LOCAL_ROUNDS_FACTOR, alternate, within, type Benchmark } from "./benchmark.js";
import { POOL_SIZE, troupeTellRound } from "./local-tell.js";
import { Blob, blob } from "./messages.js";
import { median, nowMs } from "./stats.js";

const ROUTEES = 4;

/** Counts Blobs into a count shared by the pool, calling `done` on the n-th. */
const sharedCounter = defineActor({
  messages: { Blob },
  init: (props: { total: { count: number }; n: number; done: () => void }) => props,
  handlers: {
    Blob: (state) => {
      if (++state.total.count === state.n) state.done();
    },
  },
});

/** Tells n Blobs to a round-robin pool router of four counters; resolves with messages per second. */
async function routerTellRound(system: ActorSystem, n: number, pool: readonly Blob[]): Promise<number> {
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const props = { total: { count: 0 }, n, done };
  const definition = system.defineRouter<Blob>({ strategy: roundRobin(), routees: { pool: { definition: sharedCounter, size: ROUTEES, props, mailbox: { capacity: Infinity } } } });
  const router: ActorRef<Blob> = system.spawn(definition, { mailbox: { capacity: Infinity } });
  const started = nowMs();
  for (let i = 0; i < n; i++) router.tell(pool[i & (POOL_SIZE - 1)]!);
  await within(finished, 60_000, () => `router of ${ROUTEES} counting ${n} tells (${props.total.count} so far)`);
  const rate = n / ((nowMs() - started) / 1000);
  await system.stop(router);
  return rate;
}

/**
 * One sender tells a round-robin pool router of four local routees n messages in a synchronous loop,
 * with the router's default bounds; the clock stops when the routees have counted them all. Baseline:
 * the same tells straight to one actor (local-tell's Troupe side), in the same run.
 */
export const routerTell: Benchmark = {
  name: "router-tell",
  async run(ctx) {
    const n = ctx.quick ? 200_000 : 1_000_000;
    const pool = Array.from({ length: POOL_SIZE }, (_, i) => blob(i));
    const system = await ActorSystem.start({ name: "bench", nodeId: "local", transport: new MemoryNetwork().connect() });
    try {
      const runs = await alternate(ctx, "router-tell", () => troupeTellRound(system, n, pool), () => routerTellRound(system, n, pool), { rounds: LOCAL_ROUNDS_FACTOR * ctx.reps });
      return [
        {
          name: "router-tell",
          value: median(runs.troupe),
          unit: "msg/s",
          baseline: "direct local tell to one actor",
          baselineValue: median(runs.baseline),
          target: { op: "record" },
        },
      ];
    } finally {
      await system.shutdown();
    }
  },
};
