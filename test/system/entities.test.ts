import { expect } from "chai";
import { ActorSystem, rendezvous } from "../../runtime/index.js";
import { encodeFrame } from "../../runtime/codec/frame-codec.js";
import { troupe } from "../../proto/gen/troupe.js";
import { Add, COUNTER_IDLE_MS, Get, Total, counterEntity } from "../fixtures/entity-counter.js";
import { EntityNodes } from "../helpers/entity-nodes.js";
import { eventually } from "../helpers/conditions.js";

describe("entities: activation, passivation and moves (system tier, in-memory network, manual clock)", () => {
  let env: EntityNodes;

  const start = (nodeId: string, hosts = true): Promise<ActorSystem> => env.startMember(nodeId, { entities: hosts ? [{ definition: counterEntity, store: env.shared }] : [] });
  const node = (id: string): ActorSystem => env.node(id);
  const stop = async (id: string): Promise<void> => {
    await node(id).shutdown();
    env.nodes.delete(id);
  };
  const seenBy = (id: string): string[] => node(id).nodes().map((n) => n.node);
  const storedValue = (key: string): Promise<number | undefined> => env.stored(`entities/counter/${key}`);
  /** A key that rendezvous hashing gives to `owner` among `hosts`. */
  const keyOwnedBy = (owner: string, hosts: readonly string[]): string => {
    for (let i = 0; ; i++) if (rendezvous("counter", `k${i}`, hosts) === owner) return `k${i}`;
  };
  const activeKeys = (id: string): string[] => node(id).entityActivations().map((a) => a.key).sort();

  beforeEach(async () => {
    env = new EntityNodes("ents");
    await start("n1", false);
    await start("n2");
    await start("n3");
    await env.elapse(500); // everyone has heard everyone's heartbeat
  });
  afterEach(() => env.shutdown());

  it("entities: the first message, sent from a node that does not host the kind, activates the entity on its owner with its initial state", async () => {
    const key = keyOwnedBy("n3", ["n2", "n3"]);
    const ref = node("n1").entityRef(counterEntity, key);
    expect(await ref.ask(Get.create(), Total)).to.include({ value: 0, node: "n3" });
    expect(await ref.ask(Add.create({ amount: 5 }), Total)).to.include({ value: 5, node: "n3" });
    expect(activeKeys("n3")).to.deep.equal([key]);
    expect(activeKeys("n2")).to.deep.equal([]);
    expect(await storedValue(key)).to.equal(5);
  });

  it("entities: a message sent to a node that does not own the key is forwarded, and answered in the name of the node asked", async () => {
    const key = keyOwnedBy("n2", ["n2", "n3"]);
    const wrongNode = node("n1").refFor<InstanceType<typeof Add>>({ system: "ents", node: "n3", path: `/entity/counter/${key}` });
    expect(await wrongNode.ask(Add.create({ amount: 2 }), Total)).to.include({ value: 2, node: "n2" });
    expect(activeKeys("n3")).to.deep.equal([]);
  });

  it("entities: a plain NATS request carrying a Frame to /entity/<kind>/<key> is answered on its reply subject, whichever node it reaches", async () => {
    const key = keyOwnedBy("n2", ["n2", "n3"]);
    const client = env.network.connect("client");
    const frame = encodeFrame([{ target: `/entity/counter/${key}`, typeName: "demo.counter.Add", type: Add, message: Add.create({ amount: 3 }), sender: undefined, headers: undefined }]);
    // Any node that knows the message types: the hosts, and any that made a ref from the definition.
    for (const [via, expected] of [["n2", 3], ["n3", 6]] as const) {
      const reply = troupe.wire.Frame.decode(await client.request(node(via).inboxSubject, frame, 2_000)).envelopes[0]!;
      expect(reply.type, via).to.equal("demo.counter.Total");
      expect(Total.decode(reply.payload!), via).to.include({ value: expected, node: "n2" });
    }
    await client.close();
  });

  it("entities: state survives passivation and a restart of the owner node exactly", async () => {
    const key = keyOwnedBy("n2", ["n2", "n3"]);
    const ref = node("n1").entityRef(counterEntity, key);
    for (let i = 1; i <= 10; i++) await ref.ask(Add.create({ amount: i }), Total);
    expect(activeKeys("n2")).to.deep.equal([key]);
    await env.elapse(COUNTER_IDLE_MS + 250);
    expect(activeKeys("n2")).to.deep.equal([]);
    expect(await ref.ask(Get.create(), Total)).to.include({ value: 55, node: "n2" });

    await stop("n2");
    await env.elapseUntil("n1 knows n2 has left", () => !seenBy("n1").includes("n2"));
    expect(await ref.ask(Add.create({ amount: 1 }), Total)).to.include({ value: 56, node: "n3" });
    await start("n2");
    await env.elapseUntil("n1 sees n2 host counters again", () => node("n1").nodes().some((n) => n.node === "n2" && n.kinds.includes("entity.counter")));
    expect(await ref.ask(Add.create({ amount: 1 }), Total)).to.include({ value: 57, node: "n2" });
    expect(await storedValue(key)).to.equal(57);
  });

  it("entities: when a node joins and another leaves, keys move to their new owners and no message sent meanwhile is lost", async () => {
    const keys = Array.from({ length: 24 }, (_, i) => `acct-${i}`);
    const refs = keys.map((key) => node("n1").entityRef(counterEntity, key));
    const tellAll = (): void => {
      for (const ref of refs) ref.tell(Add.create({ amount: 1 }));
    };
    tellAll();
    await start("n4");
    tellAll();
    await env.elapseUntil("everyone sees n4", () => [...env.nodes.keys()].every((id) => seenBy(id).includes("n4")));
    tellAll();
    // Sent before n2 leaves: what reaches n2 while it shuts down is forwarded to the new owners.
    tellAll();
    await stop("n2");
    await env.elapseUntil("n1 knows n2 has left", () => !seenBy("n1").includes("n2"));
    tellAll();

    for (const ref of refs) expect((await ref.ask(Get.create(), Total)).value, ref.key).to.equal(5);
    const owners = new Set<string>();
    for (const ref of refs) owners.add((await ref.ask(Get.create(), Total)).node);
    expect([...owners].sort()).to.deep.equal(["n3", "n4"]);
    for (const key of keys) expect(await storedValue(key), key).to.equal(5);
    await eventually("no activation left outside its owner", () => [...env.nodes.values()].every((n) => n.entityActivations().every((a) => rendezvous("counter", a.key, ["n3", "n4"]) === n.nodeId)));
  });

  it("entities: a node that starts hosting the kind later becomes an owner on every node once its heartbeat lists the kind (the hosts each node caches are refreshed)", async () => {
    const key = keyOwnedBy("n1", ["n1", "n2", "n3"]);
    // n1 hosts nothing yet: every node places the key on n2 or n3, and remembers those hosts.
    const before = (await node("n2").entityRef(counterEntity, key).ask(Add.create({ amount: 1 }), Total)).node;
    expect(before).to.be.oneOf(["n2", "n3"]);
    expect((await node("n1").entityRef(counterEntity, key).ask(Get.create(), Total)).node).to.equal(before);
    node("n1").hostEntities(counterEntity, { store: env.shared });
    await env.elapseUntil("n2 and n3 hear n1 host counters", () => ["n2", "n3"].every((id) => node(id).nodes().some((n) => n.node === "n1" && n.kinds.includes("entity.counter"))));
    for (const via of ["n1", "n2", "n3"]) expect(await node(via).entityRef(counterEntity, key).ask(Add.create({ amount: 1 }), Total), `asked through ${via}`).to.include({ node: "n1" });
    expect(await storedValue(key)).to.equal(4);
  });
});
