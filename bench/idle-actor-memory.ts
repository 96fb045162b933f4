import { ActorSystem, MemoryNetwork, defineActor } from "../runtime/index.js";
import { alternate, type BenchContext, type Figure } from "./benchmark.js";
import { inGcProcess } from "./gc-process.js";
import { Blob } from "./messages.js";
import { median, nowMs } from "./stats.js";

interface IdleState {
  count: number;
}

/** An actor that could count Blobs but is never sent one. */
const idle = defineActor({
  messages: { Blob },
  init: (): IdleState => ({ count: 0 }),
  handlers: {
    Blob: (state) => {
      state.count++;
    },
  },
});

/** The baseline's idle actor: its state and an empty queue, nothing else. */
interface BareActor {
  readonly state: IdleState;
  readonly queue: object[];
}

/** Measured rounds of each side in a full run: the figure hardly moves (±1 B), and a million-actor round takes ~10 s here. */
const FULL_ROUNDS = 3;

/** Live heap after pending work (actor starts) has run and two full collections. */
async function liveHeap(gc: () => void): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Heap bytes per idle actor: live heap (after forced GC) before and after spawning 1,000,000
 * top-level actors (100,000 with `--quick`) that never receive a message, divided by their number.
 * Baseline: as many bare `{ state, queue: [] }` objects in a Map, in the same process and run.
 */
export const idleActorMemory = inGcProcess("idle-actor-memory", async (ctx: BenchContext, gc: () => void): Promise<Figure[]> => {
  const n = ctx.quick ? 100_000 : 1_000_000;
  const sizeOf = (warmup: boolean): number => (warmup ? n / 10 : n);
  const spawnMs: number[] = [];

  const bare = async (warmup: boolean): Promise<number> => {
    const count = sizeOf(warmup);
    const before = await liveHeap(gc);
    const actors = new Map<number, BareActor>();
    for (let i = 0; i < count; i++) actors.set(i, { state: { count: 0 }, queue: [] });
    const after = await liveHeap(gc);
    if (actors.size !== count) throw new Error(`bare map holds ${actors.size} of ${count}`);
    return (after - before) / count;
  };

  const troupe = async (warmup: boolean): Promise<number> => {
    const count = sizeOf(warmup);
    const system = await ActorSystem.start({ name: "bench", nodeId: "local", transport: new MemoryNetwork().connect() });
    try {
      const before = await liveHeap(gc);
      const started = nowMs();
      for (let i = 0; i < count; i++) system.spawn(idle);
      if (!warmup) spawnMs.push(nowMs() - started);
      const after = await liveHeap(gc);
      // Checked on the (smaller) warm-up only: listing a million actors sorts a million paths.
      const running = warmup ? system.actors().length : count;
      if (running !== count) throw new Error(`${running} of ${count} idle actors are running`);
      return (after - before) / count;
    } finally {
      await system.shutdown();
    }
  };

  const show = (bytes: number): string => `${bytes.toFixed(0)} B`;
  const rounds = ctx.quick ? ctx.reps : Math.min(ctx.reps, FULL_ROUNDS);
  const runs = await alternate(ctx, "idle-actor-memory", bare, troupe, { rounds, show });
  ctx.log(`  idle-actor-memory: spawning ${n.toLocaleString("en-US")} idle actors took ${median(spawnMs).toFixed(0)} ms (median)`);
  return [
    {
      name: "idle-actor-memory",
      value: median(runs.troupe),
      unit: "B/actor",
      baseline: "bare { state, queue: [] } in a Map",
      baselineValue: median(runs.baseline),
      target: { op: "<=", value: 500 },
    },
  ];
});
