import { expect } from "chai";
import { ActorSystem, AskFailedError, defineActor, defineEntity } from "../../runtime/index.js";
import { Add, Get, Total, counterEntity } from "../fixtures/entity-counter.js";
import { GatedStore } from "../helpers/gated-store.js";
import { EntityNodes } from "../helpers/entity-nodes.js";
import { eventually, eventuallyAsync, settle } from "../helpers/conditions.js";

/** Passes each Add on to the counter entity of the same key, through `ctx.entityRef`, and counts it. */
const relayEntity = defineEntity({
  kind: "relay",
  state: Total,
  initial: () => Total.create({ value: 0 }),
  messages: { Add },
  handlers: {
    Add: (state, add, ctx) => {
      ctx.tell(ctx.entityRef(counterEntity, ctx.key), Add.create({ amount: add.amount }));
      ctx.reply(Total.create({ value: state.value + add.amount, node: ctx.nodeId }));
      return Total.create({ value: state.value + add.amount });
    },
  },
});

/** A plain actor that reaches an entity by kind and key from its own context. */
const forwarder = defineActor({
  kind: "forwarder",
  messages: { Add },
  init: () => undefined,
  handlers: {
    Add: (_state, add, ctx) => ctx.entityRef("counter", "from-actor").tell(Add.create({ amount: add.amount })),
  },
});

describe("entities: entity to entity through ctx.entityRef (system tier, in-memory network, manual clock)", () => {
  let env: EntityNodes;
  beforeEach(() => (env = new EntityNodes("e2e")));
  afterEach(() => env.shutdown());

  const counted = (node: ActorSystem, key: string): Promise<number> => node.entityRef(counterEntity, key).ask(Get.create(), Total).then((t) => t.value);

  it("entities: a tell from an entity's handler to another entity leaves only once the sender's new state is durable", async () => {
    const gated = new GatedStore(env.shared);
    const a = await env.start("a");
    a.hostEntities(relayEntity, { store: gated });
    a.hostEntities(counterEntity, { store: env.shared });
    gated.hold();
    const reply = a.entityRef(relayEntity, "x").ask(Add.create({ amount: 5 }), Total);
    await eventually("the relay's write waiting at the gate", () => gated.heldWrites === 1);
    await settle();
    expect(await counted(a, "x")).to.equal(0);
    gated.release();
    expect((await reply).value).to.equal(5);
    await eventuallyAsync("the counter told after the relay's write", async () => (await counted(a, "x")) === 5);
  });

  it("entities: a copy that loses its generation never sends its held tells to other entities; the message is processed again by the owner, so the effect happens once", async () => {
    const gatedForA = new GatedStore(env.shared);
    let ownerSeenByA = "a";
    const a = await env.start("a");
    const b = await env.start("b");
    a.hostEntities(relayEntity, { store: gatedForA, placement: () => ownerSeenByA });
    a.hostEntities(counterEntity, { store: env.shared, placement: () => "b" });
    b.hostEntities(relayEntity, { store: env.shared, placement: () => "b" });
    b.hostEntities(counterEntity, { store: env.shared, placement: () => "b" });
    expect((await a.entityRef(relayEntity, "x").ask(Add.create({ amount: 1 }), Total)).node).to.equal("a");
    // b's copy reads a's write and replaces it: a's copy is now stale.
    expect(await b.entityRef(relayEntity, "x").ask(Add.create({ amount: 10 }), Total)).to.include({ value: 11, node: "b" });
    await eventuallyAsync("both relayed adds counted", async () => (await counted(b, "x")) === 11);

    gatedForA.hold();
    const lost = a.entityRef(relayEntity, "x").ask(Add.create({ amount: 100 }), Total).then(
      () => expect.fail("the stale copy's ask succeeded"),
      (e: unknown) => e as AskFailedError,
    );
    a.entityRef(relayEntity, "x").tell(Add.create({ amount: 1_000 }));
    await eventually("a's stale write waiting at the gate", () => gatedForA.heldWrites === 1);
    await settle();
    ownerSeenByA = "b";
    gatedForA.release();

    expect((await lost).reason).to.equal("fenced");
    // The fenced ask's tell never left; the tell processed by a went on to b and was relayed from there.
    await eventuallyAsync("the forwarded tell relayed by the owner", async () => (await counted(b, "x")) === 1_011);
    await settle();
    expect(await counted(b, "x")).to.equal(1_011);
  });

  it("entities: a plain actor reaches an entity with ctx.entityRef", async () => {
    const a = await env.start("a");
    a.hostEntities(counterEntity, { store: env.shared });
    a.spawn(forwarder, { name: "fwd" }).tell(Add.create({ amount: 7 }));
    await eventuallyAsync("the actor's tell counted", async () => (await counted(a, "from-actor")) === 7);
  });
});
