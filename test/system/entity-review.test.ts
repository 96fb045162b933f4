import { expect } from "chai";
import { ActorSystem, AskFailedError, CountingStore, decodeEntityObject, defineEntity, type StateStore } from "../../runtime/index.js";
import { troupe } from "../../proto/gen/troupe.js";
import { Add, Get, Total } from "../fixtures/entity-counter.js";
import { Alarms, CancelAlarm, SetAlarm, alarmsEntity } from "../fixtures/entity-alarms.js";
import { ReminderIndex } from "../../runtime/entities/reminder-index.js";
import { GatedStore } from "../helpers/gated-store.js";
import { EntityNodes } from "../helpers/entity-nodes.js";
import { eventually, settle } from "../helpers/conditions.js";

const KEY = "entities/slow-counter/x";

/** A promise a test resolves when it chooses: what an async handler waits on. */
class Deferred {
  resolve!: () => void;
  readonly promise = new Promise<void>((resolve) => (this.resolve = resolve));
}

describe("entities: review of the runtime's edge cases (system tier, in-memory network, manual clock)", () => {
  let env: EntityNodes;
  /** What the next slow Add (amount >= 1000) waits for. */
  let handlerGate: Deferred;

  /** A counter whose Add of 1000 or more awaits `handlerGate` before it returns (an async handler doing I/O); a negative Add replies, tells itself +100, then throws. */
  const slowCounter = defineEntity({
    kind: "slow-counter",
    state: Total,
    initial: () => Total.create({ value: 0 }),
    messages: { Add, Get },
    handlers: {
      Add: async (state, add, ctx) => {
        if (add.amount < 0) {
          ctx.reply(Total.create({ value: state.value + add.amount }));
          ctx.tell(ctx.self, Add.create({ amount: 100 }));
          throw new Error("refused after replying");
        }
        if (add.amount >= 1000) await handlerGate.promise;
        const next = Total.create({ value: state.value + add.amount });
        ctx.reply(Total.create({ value: next.value, node: ctx.nodeId }));
        return next;
      },
      Get: (state, _get, ctx) => ctx.reply(Total.create({ value: state.value, node: ctx.nodeId })),
    },
    idleMs: 60_000,
  });

  beforeEach(() => {
    env = new EntityNodes("review", 1_000_000);
    handlerGate = new Deferred();
  });
  afterEach(async () => {
    handlerGate.resolve();
    await env.shutdown();
  });

  const start = async (store: StateStore): Promise<ActorSystem> => {
    const node = await env.start("a");
    node.hostEntities(slowCounter, { store });
    return node;
  };
  const storedValue = async (): Promise<number | undefined> => {
    const object = await env.shared.read(KEY);
    return object === undefined ? undefined : Total.decode(decodeEntityObject(object.bytes).state).value;
  };
  /** Tracks a promise's outcome without awaiting it. */
  const track = <T>(promise: Promise<T>): { value?: T; error?: unknown; settled: boolean } => {
    const state: { value?: T; error?: unknown; settled: boolean } = { settled: false };
    promise.then(
      (value) => Object.assign(state, { value, settled: true }),
      (error: unknown) => Object.assign(state, { error, settled: true }),
    );
    return state;
  };

  // Bug (fixed): a write landing while an async handler awaited released and replaced the batch the
  // handler was filling; its reply went into a batch nobody would send, and the ask hung.
  it("review: an async handler's reply is sent when a write lands while it awaits", async () => {
    const gated = new GatedStore(env.shared);
    const a = await start(gated);
    const x = a.entityRef(slowCounter, "x");
    gated.hold();
    const first = track(x.ask(Add.create({ amount: 1 }), Total));
    await eventually("the first write waiting at the gate", () => gated.heldWrites === 1);
    const slow = track(x.ask(Add.create({ amount: 1000 }), Total));
    await settle();
    gated.release();
    await eventually("the first ask answered", () => first.settled);
    handlerGate.resolve();
    await eventually("the slow ask answered", () => slow.settled, 2_000);
    expect(slow.value?.value).to.equal(1001);
    expect(await storedValue()).to.equal(1001);
  });

  // Bug (fixed): a write that began while an async handler awaited took the handler's batch with the
  // state from before the handler returned: its reply left with that write, before its effect was durable.
  it("review: an async handler's reply never leaves before the write holding its effect has landed", async () => {
    const gated = new GatedStore(env.shared);
    const a = await start(gated);
    const x = a.entityRef(slowCounter, "x");
    gated.hold();
    const first = track(x.ask(Add.create({ amount: 1 }), Total));
    await eventually("the first write waiting at the gate", () => gated.heldWrites === 1);
    const second = track(x.ask(Add.create({ amount: 10 }), Total));
    let storedWhenAnswered: number | undefined;
    const slowAsk = x.ask(Add.create({ amount: 1000 }), Total);
    const slow = track(slowAsk.then(async (reply) => ((storedWhenAnswered = await storedValue()), reply)));
    await settle();
    // Let the first write through and hold the next ones again.
    gated.release();
    gated.hold();
    await eventually("the first ask answered", () => first.settled);
    handlerGate.resolve();
    await settle();
    // Every write from here on lands one at a time; the slow reply must come with (or after) 1011 stored.
    for (let i = 0; i < 10 && !slow.settled; i++) {
      await eventually("a write at the gate", () => gated.heldWrites === 1 || slow.settled);
      if (slow.settled) break;
      gated.release();
      gated.hold();
      await settle();
    }
    gated.release();
    await eventually("the slow ask answered", () => slow.settled && second.settled, 2_000);
    expect(slow.value?.value).to.equal(1011);
    expect(storedWhenAnswered).to.equal(1011);
  });

  // Bug (fixed): the replies and tells a handler sent before it threw went out anyway: the asker got a
  // value for an effect that did not happen, and the tell's effect happened.
  it("review: a handler that throws after replying and telling sends neither: its asker gets a Failure handler-failed", async () => {
    const a = await start(env.shared);
    const x = a.entityRef(slowCounter, "x");
    expect((await x.ask(Add.create({ amount: 5 }), Total)).value).to.equal(5);
    const failed = await x.ask(Add.create({ amount: -1 }), Total).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failed).to.be.instanceOf(AskFailedError);
    expect((failed as AskFailedError).reason).to.equal("handler-failed");
    await settle();
    expect((await x.ask(Get.create(), Total)).value).to.equal(5);
    expect(await storedValue()).to.equal(5);
  });

  // Bug (fixed): a ReminderWake is an ordinary data-plane message, so any client can send one. To an
  // entity of a kind with onReminder that has no reminders and no index entry, each wake wrote the
  // entity's object (creating it if it never existed) and claimed in the index twice: confirmIndex
  // claimed because the record carries no token, and later wakes claimed again because `raise`
  // reported an absent entry as "not ours". Left: each wake still activates the key (one read) and
  // costs one index read-modify-write; only nodes should be able to wake (docs/entities.md).
  it("review: a ReminderWake from a client to an entity with no reminders writes nothing (no entity object, no index shard) and claims nothing", async () => {
    const counting = new CountingStore(env.shared);
    const node = await env.start("a");
    node.hostEntities(alarmsEntity, { store: counting });
    const target = node.refFor({ system: node.name, node: "a", path: "/entity/alarms/never-used" });
    for (let i = 0; i < 5; i++) {
      node.deliver(target, troupe.entity.ReminderWake.create(), undefined);
      for (let j = 0; j < 5; j++) await settle();
    }
    expect(node.entityActivations().map((e) => e.key)).to.deep.equal(["never-used"]);
    expect(await env.shared.read("entities/alarms/never-used")).to.equal(undefined);
    expect(counting.writesTo("entities/alarms/never-used")).to.deep.equal([]);
    expect(counting.totalWrites, "writes of any object (entity or index): a wake that changes nothing writes nothing").to.equal(0);
    const index = new ReminderIndex(env.shared, "entities", "alarms", 16, env.clock, 0);
    expect((await index.read(index.shardOf("never-used"))).map((e) => e.key)).to.deep.equal([]);
  });
  it("review: an entry claimed for a never-written entity by a copy that then died is healed by the wake it causes, and wakes no more", async () => {
    const counting = new CountingStore(env.shared);
    const node = await env.start("a");
    node.hostEntities(alarmsEntity, { store: counting });
    const index = new ReminderIndex(env.shared, "entities", "alarms", 16, env.clock, 0);
    await index.lower("orphan", env.clock.now());
    const entry = async () => (await index.read(index.shardOf("orphan"))).find((e) => e.key === "orphan");
    for (let i = 0; i < 20 && (await entry()) !== undefined; i++) {
      env.clock.advance(500);
      for (let j = 0; j < 5; j++) await settle();
    }
    expect(await entry()).to.equal(undefined);
    const writes = counting.writesTo("entities/alarms/orphan").length;
    expect(writes).to.equal(1); // the claim that healed it
    for (let i = 0; i < 20; i++) {
      env.clock.advance(500);
      await settle();
    }
    expect(counting.writesTo("entities/alarms/orphan").length).to.equal(writes);
  });
  it("review: after shutdown no timer is left on the clock: reminder timers, idle timers, the scan and the index's coalescing", async () => {
    const bare = await ActorSystem.start({ name: "review", nodeId: "z", transport: env.network.connect("z"), clock: env.clock, membership: false, askTimeoutMs: 60_000 });
    await bare.shutdown();
    const baseline = env.clock.pending;
    const node = await ActorSystem.start({ name: "review", nodeId: "a", transport: env.network.connect("a"), clock: env.clock, membership: false, askTimeoutMs: 60_000 });
    node.hostEntities(alarmsEntity, { store: env.shared, writeEveryMs: 1_000 });
    /** Moves the clock in small steps until `promise` settles (writes wait for writeEveryMs). */
    const pump = async <T>(promise: Promise<T>): Promise<T> => {
      const state = track(promise);
      for (let i = 0; i < 100 && !state.settled; i++) {
        env.clock.advance(100);
        await settle();
      }
      return promise;
    };
    for (let i = 0; i < 3; i++) await pump(node.entityRef(alarmsEntity, `k${i}`).ask(SetAlarm.create({ name: "r", atMs: env.clock.now() + 60_000 }), Alarms));
    await pump(node.entityRef(alarmsEntity, "k0").ask(CancelAlarm.create({ name: "r" }), Alarms));
    await pump(node.shutdown());
    expect(env.clock.pending).to.equal(baseline);
  });
  // Bug (fixed): fireDue took the due reminders (a one-off one removed, a periodic one moved on) before
  // onReminder ran, outside the handler's undo, so a throwing onReminder used up its tick. Now it keeps
  // its tick and fires again after a backoff (test/system/entity-reminder-retry.test.ts has the rest).
  it("review: a one-off reminder whose onReminder throws fires again later instead of being dropped", async () => {
    let calls = 0;
    const flaky = defineEntity({
      kind: "flaky-alarms",
      state: Alarms,
      initial: () => Alarms.create({ fired: [] }),
      messages: { SetAlarm },
      handlers: {
        SetAlarm: (state, set, ctx) => {
          ctx.remind(set.name, { atMs: set.atMs });
          ctx.reply(state);
        },
      },
      onReminder: () => {
        calls++;
        if (calls === 1) throw new Error("a transient failure");
      },
      idleMs: 600_000,
    });
    const node = await env.start("a");
    node.hostEntities(flaky, { store: env.shared });
    await node.entityRef(flaky, "x").ask(SetAlarm.create({ name: "once", atMs: env.clock.now() + 1_000 }), Alarms);
    for (let i = 0; i < 120 && calls < 2; i++) {
      env.clock.advance(1_000);
      await settle();
    }
    expect(calls).to.equal(2);
  });
});
