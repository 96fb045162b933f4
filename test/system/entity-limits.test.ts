import { expect } from "chai";
import { ActorSystem, AskFailedError, defineEntity, type HostEntitiesOptions, type StateStore } from "../../runtime/index.js";
import { approximateBytes } from "../../runtime/approximate-bytes.js";
import { Add, Get, Total, counterEntity } from "../fixtures/entity-counter.js";
import { GatedStore } from "../helpers/gated-store.js";
import { EntityNodes } from "../helpers/entity-nodes.js";
import { eventually, settle } from "../helpers/conditions.js";

/** A counter that answers only asks: a tell with an idempotency key is applied with no reply to keep. */
const quietCounter = defineEntity({
  kind: "quiet-counter",
  state: Total,
  initial: () => Total.create({ value: 0 }),
  messages: { Add, Get },
  handlers: {
    Add: (state, add, ctx) => {
      const next = Total.create({ value: state.value + add.amount });
      if (ctx.sender !== undefined) ctx.reply(next);
      return next;
    },
    Get: (state, _get, ctx) => ctx.reply(state),
  },
  idleMs: 60_000,
});

/** A store that cannot be reached: every read and write fails, as a timed-out request does. */
const unreachable = (inner: StateStore, down: { now: boolean }): StateStore => ({
  description: "unreachable",
  read: (key) => (down.now ? Promise.reject(new Error("connect ETIMEDOUT")) : inner.read(key)),
  write: (key, bytes, expected) => (down.now ? Promise.reject(new Error("connect ETIMEDOUT")) : inner.write(key, bytes, expected)),
  list: (prefix) => inner.list(prefix),
  close: () => inner.close(),
});

describe("entities: limits on queued messages, activations and shutdown (system tier, in-memory network, manual clock)", () => {
  let env: EntityNodes;
  beforeEach(() => (env = new EntityNodes("limits", 1_000_000)));
  afterEach(async () => {
    const stopping = env.shutdown();
    // A node whose store is still down waits for its drainTimeoutMs on the manual clock.
    for (let i = 0; i < 100 && !(await Promise.race([stopping.then(() => true), settle().then(() => false)])); i++) env.clock.advance(1_000);
    await stopping;
  });

  const start = async (options: Omit<HostEntitiesOptions, "store"> & { store: StateStore }, definition = counterEntity): Promise<ActorSystem> => {
    const node = await env.start("a");
    node.hostEntities(definition, options);
    return node;
  };
  const outcome = <T>(promise: Promise<T>): { value?: T; reason?: string; settled: boolean } => {
    const state: { value?: T; reason?: string; settled: boolean } = { settled: false };
    promise.then(
      (value) => Object.assign(state, { value, settled: true }),
      (error: unknown) => Object.assign(state, { reason: error instanceof AskFailedError ? error.reason : String(error), settled: true }),
    );
    return state;
  };

  it("limits: while its store holds a write, an entity takes maxQueuedPerEntity messages and refuses the next with mailbox-overflow; every accepted ask is answered once the store lands", async () => {
    const gated = new GatedStore(env.shared);
    const a = await start({ store: gated, maxQueuedPerEntity: 5 });
    const x = a.entityRef(counterEntity, "x");
    gated.hold();
    const accepted = [outcome(x.ask(Add.create({ amount: 1 }), Total))];
    await eventually("the first write held", () => gated.heldWrites === 1);
    for (let i = 0; i < 4; i++) accepted.push(outcome(x.ask(Add.create({ amount: 1 }), Total)));
    const refused = [outcome(x.ask(Add.create({ amount: 1 }), Total)), outcome(x.ask(Add.create({ amount: 1 }), Total))];
    x.tell(Add.create({ amount: 1000 })); // a tell past the bound: a dead letter only
    await eventually("the asks past the bound refused", () => refused.every((r) => r.settled));
    expect(refused.map((r) => r.reason)).to.deep.equal(["mailbox-overflow", "mailbox-overflow"]);
    expect(accepted.some((r) => r.settled)).to.equal(false);
    expect(a.deadLetters.countOf("mailbox-overflow")).to.equal(3);
    expect(a.deadLetters.limitHits().maxQueuedPerEntity).to.equal(3);
    expect(a.deadLetters.recent().at(-1)?.detail).to.match(/counter\/x .*holds 5 message\(s\).*maxQueuedPerEntity 5/);

    gated.release();
    await eventually("every accepted ask answered", () => accepted.every((r) => r.settled));
    expect(accepted.map((r) => r.value?.value)).to.deep.equal([1, 2, 3, 4, 5]);
    expect(await env.stored("entities/counter/x")).to.equal(5);
    // Room again once written.
    expect((await x.ask(Add.create({ amount: 1 }), Total)).value).to.equal(6);
  });

  it("limits: maxQueuedBytesPerEntity refuses by the estimated bytes held, as maxQueuedPerEntity does by count", async () => {
    const gated = new GatedStore(env.shared);
    const a = await start({ store: gated, maxQueuedBytesPerEntity: 3 * approximateBytes(Add.create({ amount: 1 })) });
    const x = a.entityRef(counterEntity, "x");
    gated.hold();
    const asks = Array.from({ length: 5 }, () => outcome(x.ask(Add.create({ amount: 1 }), Total)));
    await eventually("two refused", () => asks.filter((r) => r.settled).length === 2);
    expect(asks.map((r) => r.reason)).to.deep.equal([undefined, undefined, undefined, "mailbox-overflow", "mailbox-overflow"]);
    expect(a.deadLetters.limitHits().maxQueuedBytesPerEntity).to.equal(2);
    gated.release();
    await eventually("the accepted asks answered", () => asks.every((r) => r.settled));
    expect(asks.slice(0, 3).map((r) => r.value?.value)).to.deep.equal([1, 2, 3]);
  });

  it("limits: past maxActivations a new key passivates the least recently used idle activation; its state is durable and comes back on the next message", async () => {
    const a = await start({ store: env.shared, maxActivations: 2 });
    const ref = (key: string) => a.entityRef(counterEntity, key);
    await ref("x").ask(Add.create({ amount: 1 }), Total);
    await ref("y").ask(Add.create({ amount: 2 }), Total);
    await ref("x").ask(Add.create({ amount: 10 }), Total); // x is now the most recently used
    await ref("z").ask(Add.create({ amount: 3 }), Total);
    expect(a.entityActivations().map((e) => e.key).sort()).to.deep.equal(["x", "z"]);
    expect((await ref("y").ask(Get.create(), Total)).value).to.equal(2); // y back, x (least recent now) gone
    expect(a.entityActivations().map((e) => e.key).sort()).to.deep.equal(["y", "z"]);
    expect(a.deadLetters.count).to.equal(0);
  });

  it("limits: past maxActivations with every activation busy (its write not landed), a new key is refused with too-many-activations, counted; it is served once one is idle", async () => {
    const gated = new GatedStore(env.shared);
    const a = await start({ store: gated, maxActivations: 1 });
    gated.hold();
    const busy = outcome(a.entityRef(counterEntity, "p").ask(Add.create({ amount: 1 }), Total));
    await eventually("p's write held", () => gated.heldWrites === 1);
    const refused = outcome(a.entityRef(counterEntity, "q").ask(Add.create({ amount: 1 }), Total));
    await eventually("q refused", () => refused.settled);
    expect(refused.reason).to.equal("too-many-activations");
    expect(a.deadLetters.countOf("too-many-activations")).to.equal(1);
    expect(a.deadLetters.limitHits().maxActivationsPerKind).to.equal(1);
    expect(a.entityActivations().map((e) => e.key)).to.deep.equal(["p"]);
    gated.release();
    await eventually("p answered", () => busy.settled);
    expect(busy.value?.value).to.equal(1);
    expect((await a.entityRef(counterEntity, "q").ask(Add.create({ amount: 1 }), Total)).value).to.equal(1);
    expect(a.entityActivations().map((e) => e.key)).to.deep.equal(["q"]);
  });

  it("limits: shutdown with the store unreachable ends after drainTimeoutMs: the unwritten ask gets a Failure unwritten, each unwritten message is a dead letter, no timer is left", async () => {
    const bare = await ActorSystem.start({ name: "limits", nodeId: "z", transport: env.network.connect("z"), clock: env.clock, membership: false });
    await bare.shutdown();
    const baseline = env.clock.pending;
    const down = { now: false };
    const a = await start({ store: unreachable(env.shared, down), drainTimeoutMs: 5_000 });
    const x = a.entityRef(counterEntity, "x");
    expect((await x.ask(Add.create({ amount: 1 }), Total)).value).to.equal(1);
    down.now = true;
    const ask = outcome(x.ask(Add.create({ amount: 1 }), Total));
    x.tell(Add.create({ amount: 1 }));
    for (let i = 0; i < 10; i++) await settle();
    env.clock.advance(3_000); // the write is in doubt, looked at every second, still failing
    await settle();
    let stopped = false;
    void a.shutdown().then(() => (stopped = true));
    let seconds = 0;
    while (!stopped && seconds < 30) {
      env.clock.advance(1_000);
      seconds++;
      for (let j = 0; j < 3; j++) await settle();
    }
    expect(stopped).to.equal(true);
    // 5 s of the clock after the drain began (shutdown's first steps take a few turns of the event loop).
    expect(seconds).to.be.within(5, 8);
    expect(ask.reason).to.equal("unwritten");
    expect(a.deadLetters.countOf("unwritten")).to.equal(2);
    expect(a.deadLetters.recent().filter((l) => l.reason === "unwritten").map((l) => l.detail)).to.satisfy((details: string[]) =>
      details.every((d) => /counter\/x on node a shut down with work not durable after drainTimeoutMs 5000/.test(d)),
    );
    expect(env.clock.pending).to.equal(baseline);
    expect(await env.stored("entities/counter/x")).to.equal(1);
  });

  it("idempotency: an ask whose key was first applied by a tell (no reply kept) gets a Failure already-applied instead of timing out, and the effect stays once", async () => {
    const a = await start({ store: env.shared }, quietCounter);
    const x = a.entityRef(quietCounter, "x");
    x.tell(Add.create({ amount: 5 }), undefined, { idempotencyKey: "op-1" });
    const failed = await x.ask(Add.create({ amount: 5 }), Total, { idempotencyKey: "op-1" }).then(
      () => expect.fail("the ask succeeded"),
      (error: unknown) => error as AskFailedError,
    );
    expect(failed.reason).to.equal("already-applied");
    expect(failed.message).to.match(/op-1 was applied .* sent no reply/);
    expect((await x.ask(Get.create(), Total)).value).to.equal(5);
    expect(a.deadLetters.count).to.equal(0);
  });
});
