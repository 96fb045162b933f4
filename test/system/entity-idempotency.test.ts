import { expect } from "chai";
import {
  ActorSystem,
  AskFailedError,
  AskTimeoutError,
  IDEMPOTENCY_KEY_HEADER,
  decodeEntityObject,
  defineEntity,
  rendezvous,
  type HostEntitiesOptions,
  type StateStore,
} from "../../runtime/index.js";
import { encodeFrame } from "../../runtime/codec/frame-codec.js";
import { troupe } from "../../proto/gen/troupe.js";
import { Add, COUNTER_IDLE_MS, Get, Total, counterEntity } from "../fixtures/entity-counter.js";
import { Fired } from "../fixtures/entity-alarms.js";
import { GatedStore } from "../helpers/gated-store.js";
import { EntityNodes } from "../helpers/entity-nodes.js";
import { eventually, settle } from "../helpers/conditions.js";

const KEY = "entities/counter/x";

describe("entities: idempotency keys (system tier, in-memory network, manual clock)", () => {
  let env: EntityNodes;
  beforeEach(() => (env = new EntityNodes("ents")));
  afterEach(() => env.shutdown());

  /** A node without membership: it owns what its placement says. */
  const startAlone = async (nodeId: string, options: Omit<HostEntitiesOptions, "store"> & { store?: StateStore } = {}): Promise<ActorSystem> => {
    const node = await env.start(nodeId);
    node.hostEntities(counterEntity, { store: env.shared, ...options });
    return node;
  };
  /** A node of a membership, hosting counters unless `hosts` is false. */
  const startMember = (nodeId: string, hosts = true): Promise<ActorSystem> => env.startMember(nodeId, { entities: hosts ? [{ definition: counterEntity, store: env.shared }] : [] });
  const stored = async (key = KEY): Promise<{ value: number; keys: string[] } | undefined> => {
    const object = await env.shared.read(key);
    if (object === undefined) return undefined;
    const decoded = decodeEntityObject(object.bytes);
    return { value: Total.decode(decoded.state).value, keys: decoded.applied.map((a) => a.key!) };
  };
  const failureOf = (ask: Promise<unknown>): Promise<Error> => ask.then(() => expect.fail("the ask succeeded"), (e: unknown) => e as Error);

  it("idempotency: an ask retried after it timed out gets the first outcome, and its effect happens once", async () => {
    const gated = new GatedStore(env.shared);
    const a = await startAlone("a", { store: gated });
    const x = a.entityRef(counterEntity, "x");
    expect((await x.ask(Add.create({ amount: 100 }), Total)).value).to.equal(100);

    gated.hold();
    const first = failureOf(x.ask(Add.create({ amount: 1 }), Total, { timeoutMs: 1_000, idempotencyKey: "op-1" }));
    await eventually("the write waiting at the gate", () => gated.heldWrites === 1);
    env.clock.advance(1_000);
    expect(await first).to.be.instanceOf(AskTimeoutError);
    // The retry reaches the copy while the first write is still in flight: answered once it lands, not applied again.
    const retry = x.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: "op-1" });
    await settle();
    gated.release();
    expect((await retry).value).to.equal(101);
    expect((await x.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: "op-1" })).value).to.equal(101);
    expect(await stored()).to.deep.equal({ value: 101, keys: ["op-1"] });

    // From the stored object, after passivation: the key was written with the effect.
    await env.elapse(COUNTER_IDLE_MS + 250);
    expect(a.entityActivations()).to.deep.equal([]);
    expect((await x.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: "op-1" })).value).to.equal(101);
    expect((await x.ask(Get.create(), Total)).value).to.equal(101);
    // A tell with a key is applied once too; a new key applies.
    for (let i = 0; i < 3; i++) x.tell(Add.create({ amount: 10 }), undefined, { idempotencyKey: "tell-1" });
    expect((await x.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: "op-2" })).value).to.equal(112);
    expect(await stored()).to.deep.equal({ value: 112, keys: ["op-1", "tell-1", "op-2"] });
  });

  it("idempotency: after a write in doubt that another copy replaced (the ask failed fenced), the retry gets the first outcome from the new owner", async () => {
    let failNext = false;
    const flaky = env.sharedWith(async (key, bytes, expected) => {
      const fail = failNext;
      failNext = false;
      const generation = await env.shared.write(key, bytes, expected);
      if (fail) throw new Error("timed out waiting for the response");
      return generation;
    });
    let ownerSeenByA = "a";
    const a = await startAlone("a", { store: flaky, placement: () => ownerSeenByA });
    const b = await startAlone("b", { placement: () => "b" });
    const viaA = a.entityRef(counterEntity, "x");
    const viaB = b.entityRef(counterEntity, "x");

    failNext = true;
    const first = failureOf(viaA.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: "op-1" }));
    await eventually("a's write landed and was reported failed", () => !failNext);
    await settle();
    // b's copy reads a's object (its effect and its key), and replaces it before a looks.
    expect(await viaB.ask(Add.create({ amount: 10 }), Total)).to.include({ value: 11, node: "b" });
    ownerSeenByA = "b";
    env.clock.advance(1_000);
    expect(((await first) as AskFailedError).reason).to.equal("fenced");

    const retried = await viaA.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: "op-1" });
    expect(retried).to.include({ value: 1, node: "a" }); // a's first reply, as stored with the key
    expect(await stored()).to.deep.equal({ value: 11, keys: ["op-1"] });
  });

  it("idempotency: an ask retried after its entity moved to another node gets the first outcome there, also as a plain NATS request through a node that relays it", async () => {
    await startMember("n1", false);
    await startMember("n2");
    await startMember("n3");
    await env.elapse(500);
    let key = "k0";
    for (let i = 0; rendezvous("counter", key, ["n2", "n3"]) !== "n2"; i++) key = `k${i}`;
    const ref = env.node("n1").entityRef(counterEntity, key);
    expect(await ref.ask(Add.create({ amount: 5 }), Total, { idempotencyKey: "op-1" })).to.include({ value: 5, node: "n2" });

    await env.node("n2").shutdown();
    env.nodes.delete("n2");
    await env.elapseUntil("n1 and n3 know n2 has left", () => ["n1", "n3"].every((id) => !env.node(id).nodes().some((n) => n.node === "n2")));
    expect(await ref.ask(Add.create({ amount: 5 }), Total, { idempotencyKey: "op-1" })).to.include({ value: 5, node: "n2" });
    expect(await ref.ask(Get.create(), Total)).to.include({ value: 5, node: "n3" });

    // A client in any language sets the header on the envelope; n1 (no host) relays the request with it.
    const client = env.network.connect("client");
    const frame = encodeFrame([
      { target: `/entity/counter/${key}`, typeName: "demo.counter.Add", type: Add, message: Add.create({ amount: 7 }), sender: undefined, headers: { [IDEMPOTENCY_KEY_HEADER]: "client-op" } },
    ]);
    for (let i = 0; i < 2; i++) {
      const reply = troupe.wire.Frame.decode(await client.request(env.node("n1").inboxSubject, frame, 2_000)).envelopes[0]!;
      expect(Total.decode(reply.payload!).value, `request ${i}`).to.equal(12);
    }
    await client.close();
    expect(await stored(`entities/counter/${key}`)).to.deep.equal({ value: 12, keys: ["op-1", "client-op"] });
  });

  it("idempotency: keys are remembered for a bounded window: the oldest beyond maxKeys and any older than maxAgeMs are forgotten, and applied again", async () => {
    const a = await startAlone("a", { idempotency: { maxKeys: 3, maxAgeMs: 60_000 } });
    const x = a.entityRef(counterEntity, "x");
    for (let i = 1; i <= 5; i++) await x.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: `op-${i}` });
    expect(await stored()).to.deep.equal({ value: 5, keys: ["op-3", "op-4", "op-5"] });
    expect((await x.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: "op-5" })).value).to.equal(5);
    expect((await x.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: "op-1" })).value).to.equal(6);
    expect(await stored()).to.deep.equal({ value: 6, keys: ["op-4", "op-5", "op-1"] });

    await env.elapse(30_000);
    await x.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: "op-6" });
    await env.elapse(30_000);
    // op-4, op-5 and op-1 are 60 s old now: forgotten; op-6 is remembered.
    expect((await x.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: "op-6" })).value).to.equal(7);
    expect((await x.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: "op-4" })).value).to.equal(8);
    expect(await stored()).to.deep.equal({ value: 8, keys: ["op-6", "op-4"] });
  });

  it("idempotency: the window is bounded in bytes too, and a key over 256 bytes is refused: by the ref at once, from the wire with a Failure and a dead letter", async () => {
    const a = await startAlone("a", { idempotency: { maxBytes: 200 } });
    const x = a.entityRef(counterEntity, "x");
    for (let i = 0; i < 10; i++) await x.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: `${"k".repeat(40)}-${i}` });
    const kept = (await stored())!.keys;
    expect(kept.length).to.be.within(1, 4);
    expect(kept.at(-1)).to.equal(`${"k".repeat(40)}-9`);

    expect(() => x.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: "x".repeat(257) })).to.throw(RangeError, /1-256 bytes/);
    expect(() => x.tell(Add.create({ amount: 1 }), undefined, { idempotencyKey: "" })).to.throw(RangeError);
    a.deliver(a.refFor({ system: a.name, node: "a", path: "/entity/counter/x" }), Add.create({ amount: 1000 }), undefined, { [IDEMPOTENCY_KEY_HEADER]: "y".repeat(300) });
    await eventually("the dead letter", () => a.deadLetters.countOf("invalid-idempotency-key") === 1);
    expect((await x.ask(Get.create(), Total)).value).to.equal(10);
  });

  it("idempotency: a stored reply of a type the repeating node does not know fails visibly (unknown-type) unless the definition lists it in replies", async () => {
    const define = (replies: boolean) =>
      defineEntity({
        kind: "counter",
        state: Total,
        initial: () => Total.create(),
        messages: { Add },
        handlers: {
          Add: (state, add, ctx) => {
            ctx.reply(Fired.create({ name: "added", node: ctx.nodeId }));
            return Total.create({ value: state.value + add.amount });
          },
        },
        ...(replies ? { replies: [Fired] } : {}),
      });
    const a = await env.start("a");
    a.hostEntities(define(false), { store: env.shared });
    expect(await a.entityRef(define(false), "x").ask(Add.create({ amount: 1 }), Fired, { idempotencyKey: "op" })).to.include({ node: "a" });
    const client = env.network.connect("client");
    const retry = encodeFrame([{ target: "/entity/counter/x", typeName: "demo.counter.Add", type: Add, message: Add.create({ amount: 1 }), sender: undefined, headers: { [IDEMPOTENCY_KEY_HEADER]: "op" } }]);
    for (const [nodeId, replies] of [["b", false], ["c", true]] as const) {
      const node = await env.start(nodeId);
      node.hostEntities(define(replies), { store: env.shared });
      const reply = troupe.wire.Frame.decode(await client.request(node.inboxSubject, retry, 2_000)).envelopes[0]!;
      if (replies) expect(Fired.decode(reply.payload!)).to.include({ name: "added", node: "a" });
      else expect(troupe.system.Failure.decode(reply.payload!)).to.include({ reason: "unknown-type" });
    }
    await client.close();
    expect(await stored()).to.deep.equal({ value: 1, keys: ["op"] });
  });

  it("idempotency: an entity stored before records existed (bare state) loads, and its object stays bare until it keeps a key", async () => {
    await env.shared.write(KEY, Total.encode(Total.create({ value: 41 })).finish(), "absent");
    const a = await startAlone("a");
    const x = a.entityRef(counterEntity, "x");
    expect((await x.ask(Add.create({ amount: 1 }), Total)).value).to.equal(42);
    expect(Total.decode((await env.shared.read(KEY))!.bytes).value).to.equal(42);
    expect((await x.ask(Add.create({ amount: 1 }), Total, { idempotencyKey: "k" })).value).to.equal(43);
    expect((await env.shared.read(KEY))!.bytes[0]).to.equal(0);
    expect(await stored()).to.deep.equal({ value: 43, keys: ["k"] });
  });
});
