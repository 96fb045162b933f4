// The host nodes of the entity benchmarks (bench/entities.ts): `troupe node --module` this file with
// ENTITY_BENCH_STATE=gs://bucket/prefix (and STORAGE_EMULATOR_HOST) hosts the "bench-counter" entity
// kind there, and spawns a plain actor at /user/echo that answers the same messages, for the baselines.
import { defineActor, defineEntity, defineTopology, openStateStore } from "../runtime/index.js";
import { Add, Get, Total } from "../examples/custom-actor/counter.js";

/** The entity: Add answers with the new total once it is durable, Get with the current one. */
export const benchCounter = defineEntity({
  kind: "bench-counter",
  state: Total,
  initial: () => Total.create({ value: 0 }),
  messages: { Add, Get },
  handlers: {
    Add: (state, add, ctx) => {
      const next = Total.create({ value: state.value + add.amount });
      ctx.reply(next);
      return next;
    },
    Get: (state, _get, ctx) => ctx.reply(state),
  },
  // No copy passivates during a benchmark.
  idleMs: 600_000,
});

/** The baseline: a plain actor with the same protocol, its state in memory. */
export const echoCounter = defineActor({
  kind: "bench-echo-counter",
  messages: { Add, Get },
  init: () => ({ value: 0 }),
  handlers: {
    Add: (state, add, ctx) => {
      const value = state.value + add.amount;
      ctx.reply(Total.create({ value }));
      return { value };
    },
    Get: (state, _get, ctx) => ctx.reply(Total.create({ value: state.value })),
  },
});

export default defineTopology({
  name: "entity-bench-hosts",
  types: [Add, Get, Total],
  entities: [benchCounter],
  worker: (system) => {
    const url = process.env.ENTITY_BENCH_STATE;
    if (!url) throw new Error("ENTITY_BENCH_STATE is not set");
    system.hostEntities(benchCounter, { store: openStateStore(url) });
    system.spawn(echoCounter, { name: "echo" });
  },
  main: () => Promise.reject(new Error("entity-bench-hosts only provides worker nodes")),
});
