import { expect } from "chai";
import { AskFailedError, MAX_ENTITY_HOPS, type EntityPlacement } from "../../runtime/index.js";
import { Add, Get, Total, counterEntity } from "../fixtures/entity-counter.js";
import { GatedStore } from "../helpers/gated-store.js";
import { EntityNodes } from "../helpers/entity-nodes.js";
import { eventually, settle } from "../helpers/conditions.js";

const KEY = "entities/counter/x";

/** Two nodes that do not see each other (membership off): each owns what its placement says. */
describe("entities: durable before reply, fencing, forwarding (system tier, in-memory network, manual clock)", () => {
  let env: EntityNodes;
  beforeEach(() => (env = new EntityNodes("ents")));
  afterEach(() => env.shutdown());

  const failureOf = (ask: Promise<unknown>): Promise<AskFailedError> => ask.then(() => expect.fail("the ask succeeded"), (e: unknown) => e as AskFailedError);

  it("entities: messages that arrive while a write is in flight are written together, and each ask is answered once, after its effect is durable", async () => {
    const gated = new GatedStore(env.shared);
    const a = await env.start("a");
    a.hostEntities(counterEntity, { store: gated });
    const x = a.entityRef(counterEntity, "x");
    gated.hold();
    const answers: { value: number; durable: number }[] = [];
    const asks = Array.from({ length: 10 }, () =>
      x.ask(Add.create({ amount: 1 }), Total).then((total) => {
        answers.push({ value: total.value, durable: Total.decode(gated.lastLanded!).value });
        return total.value;
      }),
    );
    await eventually("the first write waiting at the gate", () => gated.heldWrites === 1);
    await settle();
    expect(answers).to.have.length(0);
    expect(await env.stored(KEY)).to.equal(undefined);
    gated.release();
    expect(await Promise.all(asks)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // One write for the first message, one for the nine processed while it was in flight.
    expect(gated.writesAsked).to.equal(2);
    for (const answer of answers) expect(answer.durable).to.be.at.least(answer.value);
    expect(await env.stored(KEY)).to.equal(10);
  });

  it("entities: with writeEveryMs an entity writes at most once per interval, and the asks of an interval are answered together once it is written", async () => {
    const gated = new GatedStore(env.shared);
    const a = await env.start("a");
    a.hostEntities(counterEntity, { store: gated, writeEveryMs: 1_000 });
    const x = a.entityRef(counterEntity, "x");
    expect((await x.ask(Add.create({ amount: 1 }), Total)).value).to.equal(1);
    const answered: number[] = [];
    const asks = [2, 3, 4].map(() => x.ask(Add.create({ amount: 1 }), Total).then((t) => answered.push(t.value)));
    await eventually("a write waiting for its turn", () => env.clock.pending > 1);
    await settle();
    expect(answered).to.deep.equal([]);
    expect(gated.writesAsked).to.equal(1);
    env.clock.advance(999);
    await settle();
    expect(gated.writesAsked).to.equal(1);
    env.clock.advance(1);
    await Promise.all(asks);
    expect(answered).to.deep.equal([2, 3, 4]);
    expect(gated.writesAsked).to.equal(2);
    expect(await env.stored(KEY)).to.equal(4);
  });

  it("entities: after a write whose outcome is unknown the entity looks before it answers: a write that landed is kept, one that did not is made again", async () => {
    let failNext: "after-landing" | "before-landing" | undefined;
    const flaky = env.sharedWith(async (key, bytes, expected) => {
      const mode = failNext;
      failNext = undefined;
      if (mode === "before-landing") throw new Error("connection reset");
      const generation = await env.shared.write(key, bytes, expected);
      if (mode === "after-landing") throw new Error("timed out waiting for the response");
      return generation;
    });
    const a = await env.start("a");
    a.hostEntities(counterEntity, { store: flaky });
    const x = a.entityRef(counterEntity, "x");
    for (const [mode, expected] of [["after-landing", 1], ["before-landing", 2]] as const) {
      failNext = mode;
      let answered = false;
      const ask = x.ask(Add.create({ amount: 1 }), Total).finally(() => (answered = true));
      await eventually(`the ${mode} failure`, () => failNext === undefined);
      await settle();
      expect(answered, mode).to.equal(false);
      env.clock.advance(1_000);
      expect((await ask).value, mode).to.equal(expected);
      expect(await env.stored(KEY), mode).to.equal(expected);
    }
    expect(a.deadLetters.countOf("fenced")).to.equal(0);
  });

  it("entities: two copies that both think they own a key never both commit: the loser's write fails its precondition, its held reply is not sent and its mail moves to the owner", async () => {
    const gatedForA = new GatedStore(env.shared);
    let ownerSeenByA = "a";
    const a = await env.start("a");
    const b = await env.start("b");
    a.hostEntities(counterEntity, { store: gatedForA, placement: () => ownerSeenByA });
    b.hostEntities(counterEntity, { store: env.shared, placement: () => "b" });
    const viaA = a.entityRef(counterEntity, "x");
    const viaB = b.entityRef(counterEntity, "x");
    expect((await viaA.ask(Add.create({ amount: 1 }), Total)).node).to.equal("a");
    // b activates its own copy: it reads a's write, and replaces it.
    expect(await viaB.ask(Add.create({ amount: 10 }), Total)).to.include({ value: 11, node: "b" });

    gatedForA.hold();
    const lost = failureOf(viaA.ask(Add.create({ amount: 100 }), Total));
    await eventually("a's stale write waiting at the gate", () => gatedForA.heldWrites === 1);
    // Processed by a's copy while its write is in flight: held, never written by a.
    viaA.tell(Add.create({ amount: 1_000 }));
    const moved = viaA.ask(Add.create({ amount: 10_000 }), Total);
    await settle();
    ownerSeenByA = "b";
    gatedForA.release();

    expect((await lost).reason).to.equal("fenced");
    expect(await moved).to.include({ value: 11_011, node: "b" });
    expect(await env.stored(KEY)).to.equal(11_011);
    expect(a.deadLetters.countOf("fenced")).to.equal(1);
    expect(a.deadLetters.recent().find((d) => d.reason === "fenced")?.detail).to.match(/1 ask\(s\) failed "fenced", 2 message\(s\) forwarded/);
    expect(a.entityActivations()).to.deep.equal([]);
    expect(await viaA.ask(Get.create(), Total)).to.include({ value: 11_011, node: "b" });
  });

  it("entities: a message that nodes keep forwarding to each other is given up after a bounded number of hops, with a Failure and a dead letter", async () => {
    const a = await env.start("a");
    const b = await env.start("b");
    const other = (self: string): EntityPlacement => () => (self === "a" ? "b" : "a");
    a.hostEntities(counterEntity, { store: env.shared, placement: other("a") });
    b.hostEntities(counterEntity, { store: env.shared, placement: other("b") });
    const failure = await failureOf(a.entityRef(counterEntity, "x").ask(Add.create({ amount: 1 }), Total));
    expect(failure.reason).to.equal("no-owner");
    expect(failure.message).to.match(new RegExp(`forwarded ${MAX_ENTITY_HOPS} times`));
    expect(a.deadLetters.countOf("no-owner") + b.deadLetters.countOf("no-owner")).to.equal(1);
    expect(await env.stored(KEY)).to.equal(undefined);
  });

  it("entities: a hop count from the wire that is not a whole number from 0 (say -1,000,000) counts as the limit: the message is given up at once, not bounced", async () => {
    const a = await env.start("a");
    const b = await env.start("b");
    const other = (self: string): EntityPlacement => () => (self === "a" ? "b" : "a");
    a.hostEntities(counterEntity, { store: env.shared, placement: other("a") });
    b.hostEntities(counterEntity, { store: env.shared, placement: other("b") });
    for (const hops of ["-1000000", "2.5", "x"]) {
      a.deliver(a.refFor({ system: a.name, node: "a", path: "/entity/counter/x" }), Add.create({ amount: 1 }), undefined, { "troupe-entity-hops": hops });
    }
    await eventually("all three given up", () => a.deadLetters.countOf("no-owner") === 3);
    expect(a.deadLetters.recent().filter((d) => d.reason === "no-owner").every((d) => d.detail.includes(`forwarded ${MAX_ENTITY_HOPS} times`))).to.equal(true);
    expect(b.deadLetters.countOf("no-owner")).to.equal(0);
    expect(await env.stored(KEY)).to.equal(undefined);
  });

  it("entities: a message for a kind that no live node hosts fails with no-owner", async () => {
    const a = await env.start("a");
    const failure = await failureOf(a.entityRef(counterEntity, "x").ask(Get.create(), Total));
    expect(failure.reason).to.equal("no-owner");
    expect(a.deadLetters.countOf("no-owner")).to.equal(1);
  });

  it("entities: kinds and keys that are not safe path segments are refused when the ref is made", async () => {
    const a = await env.start("a");
    for (const key of ["", ".", "..", "a/b", ".hidden", "spaced key"]) expect(() => a.entityRef(counterEntity, key), key).to.throw(TypeError, /invalid entity key/);
    expect(() => a.entityRef("no/slash", "k")).to.throw(TypeError, /invalid entity kind/);
  });
});
