import { expect } from "chai";
import {  } from "../../runtime/index.js";
import { Add, Get, Total, counterEntity } from "../fixtures/entity-counter.js";
import { GatedStore } from "../helpers/gated-store.js";
import { EntityNodes } from "../helpers/entity-nodes.js";
import { eventually, settle } from "../helpers/conditions.js";

const KEY = "entities/counter/x";

describe("entities: write-behind (system tier, in-memory network, manual clock)", () => {
  let env: EntityNodes;
  beforeEach(() => (env = new EntityNodes("ents")));
  afterEach(() => env.shutdown());


  it("write-behind: replies leave before the write, and the entity still writes at most once per writeEveryMs", async () => {
    const gated = new GatedStore(env.shared);
    const a = await env.start("a");
    a.hostEntities(counterEntity, { store: gated, writeEveryMs: 1_000, writeBehind: true });
    const x = a.entityRef(counterEntity, "x");
    gated.hold();
    // Answered while the first write waits at the gate.
    for (let i = 1; i <= 3; i++) expect((await x.ask(Add.create({ amount: 1 }), Total)).value).to.equal(i);
    expect(gated.writesAsked).to.equal(1);
    expect(await env.stored(KEY)).to.equal(undefined);
    gated.release();
    await eventually("the first write landed", () => gated.lastLanded !== undefined);
    expect(Total.decode(gated.lastLanded!).value).to.equal(1);

    for (let i = 4; i <= 10; i++) expect((await x.ask(Add.create({ amount: 1 }), Total)).value).to.equal(i);
    await settle();
    expect(gated.writesAsked).to.equal(1);
    env.clock.advance(1_000);
    await eventually("the second write landed", () => gated.writesAsked === 2 && Total.decode(gated.lastLanded!).value === 10);
    expect(await env.stored(KEY)).to.equal(10);
    expect(a.entityActivations()[0]!.writes).to.equal(2);
  });

  it("write-behind: what a copy answered but had not written is lost when another copy wrote meanwhile (fenced), and the dead letter says how much", async () => {
    const gatedForA = new GatedStore(env.shared);
    let ownerSeenByA = "a";
    const a = await env.start("a");
    const b = await env.start("b");
    a.hostEntities(counterEntity, { store: gatedForA, writeBehind: true, placement: () => ownerSeenByA });
    b.hostEntities(counterEntity, { store: env.shared, placement: () => "b" });
    const viaA = a.entityRef(counterEntity, "x");
    expect((await viaA.ask(Add.create({ amount: 1 }), Total)).value).to.equal(1);
    await eventually("a's first write landed", () => gatedForA.lastLanded !== undefined);
    expect(await b.entityRef(counterEntity, "x").ask(Add.create({ amount: 10 }), Total)).to.include({ value: 11, node: "b" });

    gatedForA.hold();
    // a answers at once from its stale state; its write then fails its precondition.
    expect(await viaA.ask(Add.create({ amount: 100 }), Total)).to.include({ value: 101, node: "a" });
    await eventually("a's write at the gate", () => gatedForA.heldWrites === 1);
    ownerSeenByA = "b";
    gatedForA.release();
    await eventually("a fenced", () => a.deadLetters.countOf("fenced") === 1);
    expect(a.deadLetters.recent().find((d) => d.reason === "fenced")?.detail).to.match(/1 processed message\(s\) lost \(write-behind\)/);
    expect(await env.stored(KEY)).to.equal(11);
    expect(await viaA.ask(Get.create(), Total)).to.include({ value: 11, node: "b" });
  });
});
