import { ActorSystem, MemoryNetwork, defineActor, type ActorDefinition, type ActorRef } from "../runtime/index.js";
import { alternate, within, type Benchmark } from "./benchmark.js";
import { BareMailbox } from "./bare-mailbox.js";
import { Ack, Run } from "./messages.js";
import { median, nowMs } from "./stats.js";

/**
 * The skynet benchmark (github.com/atemerev/skynet): a tree in which every actor spawns 10 children
 * until there are `leaves` leaves; each leaf replies with its number, each parent sums its children's
 * replies and replies with the sum, and the root's answer is the sum of 0..leaves-1.
 *
 * Protocol: `Run.count` tells an actor how many leaves are below it (1 for a leaf); its own number is
 * its spawn props. `Ack.seq` carries the number or the sum. bench.proto declares `seq` as int32, which
 * sums above 2^31 would overflow on the wire; they never go on the wire here (one node, local
 * delivery passes the objects themselves), so the JS number is exact.
 */
const FAN_OUT = 10;

/** The sum skynet must arrive at: 0 + 1 + ... + (leaves - 1). */
export function skynetSum(leaves: number): number {
  return (leaves * (leaves - 1)) / 2;
}

/** Actors in a tree with `leaves` leaves and a fan-out of 10 (1,111,111 for a million leaves). */
export function skynetActors(leaves: number): number {
  let total = 0;
  for (let level = leaves; level >= 1; level /= FAN_OUT) total += level;
  return total;
}

interface NodeState {
  readonly num: number;
  /** Whom to answer: the parent, or the asker for the root. */
  parent: ActorRef<Ack> | undefined;
  sum: number;
  pending: number;
}

/** One actor of the tree; its props are its number. Mutates its state: the figure is the runtime's cost, not the handler's. */
const skynetNode: ActorDefinition<NodeState, Run | Ack, number> = defineActor({
  messages: { Run, Ack },
  init: (num: number): NodeState => ({ num, parent: undefined, sum: 0, pending: 0 }),
  handlers: {
    Run: (state, run, ctx) => {
      if (run.count === 1) return ctx.reply(Ack.create({ seq: state.num }));
      state.parent = ctx.sender;
      state.pending = FAN_OUT;
      const size = run.count / FAN_OUT;
      for (let i = 0; i < FAN_OUT; i++) {
        ctx.spawn(skynetNode, { props: state.num + i * size }).tell(Run.create({ count: size }), ctx.self);
      }
    },
    Ack: (state, ack, ctx) => {
      state.sum += ack.seq;
      if (--state.pending === 0) state.parent!.tell(Ack.create({ seq: state.sum }), ctx.self);
    },
  },
});

/** Where a bare node sends its answer. */
interface BareParent {
  tell(ack: Ack): void;
}

/**
 * The baseline's actor: a bare mailbox (an array drained in a microtask), its number, its parent and
 * the same Run/Ack handling, with no runtime around it. Nothing keeps a bare node once it has
 * answered, so the tree is garbage as it completes.
 */
class BareNode implements BareParent {
  private readonly mailbox = new BareMailbox<Run | Ack>((message) => this.receive(message));
  private sum = 0;
  private pending = 0;

  constructor(
    private readonly num: number,
    private readonly parent: BareParent,
  ) {}

  tell(message: Run | Ack): void {
    this.mailbox.push(message);
  }

  private receive(message: Run | Ack): void {
    if (message instanceof Run) {
      if (message.count === 1) return this.parent.tell(Ack.create({ seq: this.num }));
      this.pending = FAN_OUT;
      const size = message.count / FAN_OUT;
      for (let i = 0; i < FAN_OUT; i++) new BareNode(this.num + i * size, this).tell(Run.create({ count: size }));
      return;
    }
    this.sum += message.seq;
    if (--this.pending === 0) this.parent.tell(Ack.create({ seq: this.sum }));
  }
}

/** Measured rounds of each side in a full run: a million-leaf Troupe round with its teardown takes ~15 s here. */
const FULL_ROUNDS = 3;

/**
 * Spawns a skynet tree of 1,000,000 leaves (100,000 with `--quick`) and sums it; the figure is the
 * wall time from the root's spawn to its answer. The tree is then stopped (`system.shutdown()`,
 * children first), timed apart and logged. Baseline: the same tree of bare nodes in the same run.
 * Each Troupe round runs on a fresh node, so no round inherits the previous one's tables.
 */
export const skynet: Benchmark = {
  name: "skynet",
  async run(ctx) {
    const leaves = ctx.quick ? 100_000 : 1_000_000;
    const sizeOf = (warmup: boolean): number => (warmup ? leaves / FAN_OUT : leaves);
    const check = (sum: number, size: number): void => {
      if (sum !== skynetSum(size)) throw new Error(`skynet of ${size} leaves summed to ${sum}, expected ${skynetSum(size)}`);
    };
    const teardowns: number[] = [];

    const bare = async (warmup: boolean): Promise<number> => {
      const size = sizeOf(warmup);
      let answer!: (ack: Ack) => void;
      const answered = new Promise<Ack>((resolve) => (answer = resolve));
      const started = nowMs();
      new BareNode(0, { tell: answer }).tell(Run.create({ count: size }));
      const ack = await within(answered, 120_000, () => `bare skynet of ${size} leaves`);
      const ms = nowMs() - started;
      check(ack.seq, size);
      return ms;
    };

    const troupe = async (warmup: boolean): Promise<number> => {
      const size = sizeOf(warmup);
      const system = await ActorSystem.start({ name: "bench", nodeId: "local", transport: new MemoryNetwork().connect() });
      const shutdown = (): Promise<void> =>
        within(system.shutdown(), 300_000, () => `stopping a skynet tree of ${skynetActors(size).toLocaleString("en-US")} actors`);
      let ms: number;
      try {
        const started = nowMs();
        const root = system.spawn(skynetNode, { props: 0 });
        const ack = await root.ask(Run.create({ count: size }), Ack, { timeoutMs: 300_000 });
        ms = nowMs() - started;
        check(ack.seq, size);
      } catch (error) {
        await shutdown().catch(() => undefined);
        throw error;
      }
      const stopping = nowMs();
      await shutdown();
      if (!warmup) teardowns.push(nowMs() - stopping);
      return ms;
    };

    const rounds = ctx.quick ? ctx.reps : Math.min(ctx.reps, FULL_ROUNDS);
    const show = (ms: number): string => `${ms.toFixed(0)} ms`;
    const runs = await alternate(ctx, "skynet", bare, troupe, { rounds, show });
    ctx.log(`  skynet: ${skynetActors(leaves).toLocaleString("en-US")} actors; teardown (system.shutdown) median ${median(teardowns).toFixed(0)} ms, rounds ${teardowns.map(show).join(", ")}`);
    return [
      {
        name: "skynet",
        value: median(runs.troupe),
        unit: "ms",
        baseline: `bare actors (microtask mailboxes), ${leaves.toLocaleString("en-US")} leaves`,
        baselineValue: median(runs.baseline),
        target: { op: "<=", value: ctx.quick ? 150 : 1_500 },
      },
    ];
  },
};
