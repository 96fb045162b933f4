import { dispatch, spawn, start, stop } from "nact";
import { ActorSystem, MemoryNetwork } from "../runtime/index.js";
import { alternate, within, type Benchmark } from "./benchmark.js";
import { POOL_SIZE, troupeTellRound } from "./local-tell.js";
import { blob, type Blob } from "./messages.js";
import { median, nowMs } from "./stats.js";

/**
 * Local tell against a peer library: one sender dispatches n messages to one nact actor in a
 * synchronous loop; the actor counts them (its state is the count) and resolves a promise on the last.
 * Troupe side: exactly `local-tell`'s round. Issue 7: Troupe at least 10x nact.
 */
export const peerNactTell: Benchmark = {
  name: "peer-nact-tell",
  async run(ctx) {
    const n = ctx.quick ? 200_000 : 1_000_000;
    const pool = Array.from({ length: POOL_SIZE }, (_, i) => blob(i));
    const system = await ActorSystem.start({ name: "bench", nodeId: "local", transport: new MemoryNetwork().connect() });
    const nactSystem = start();
    try {
      const nact = async (warmup: boolean): Promise<number> => {
        const count = warmup ? n / 4 : n;
        let done!: () => void;
        const finished = new Promise<void>((resolve) => (done = resolve));
        const actor = spawn(nactSystem, (state: number, _message: Blob) => {
          if (state + 1 === count) done();
          return state + 1;
        }, undefined, { initialState: 0 });
        const started = nowMs();
        for (let i = 0; i < count; i++) dispatch(actor, pool[i & (POOL_SIZE - 1)]!);
        await within(finished, 120_000, () => `nact actor counting ${count} messages`);
        const rate = count / ((nowMs() - started) / 1000);
        stop(actor);
        return rate;
      };
      const troupe = (warmup: boolean): Promise<number> => troupeTellRound(system, warmup ? n / 4 : n, pool);
      const runs = await alternate(ctx, "peer-nact-tell", nact, troupe);
      return [
        {
          name: "peer-nact-tell",
          value: median(runs.troupe),
          unit: "msg/s",
          baseline: `nact 7.6.2 actor, dispatch in a loop`,
          baselineValue: median(runs.baseline),
          target: { op: ">=", ratio: 10 },
        },
      ];
    } finally {
      stop(nactSystem);
      await system.shutdown();
    }
  },
};
