import { expect } from "chai";
import { ActorSystem, AskFailedError, MemoryNetwork, MessageTooLargeError, UnregisteredTypeError, type ActorRef } from "../../runtime/index.js";
import { encodeFrame } from "../../runtime/codec/frame-codec.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { player } from "../../examples/ping-pong/player.js";
import { Add, Total } from "../../examples/custom-actor/counter.js";
import { eventually, eventuallyAsync } from "../helpers/conditions.js";

describe("actors across nodes (system tier, in-memory network)", () => {
  let network: MemoryNetwork;
  let nodes: ActorSystem[];

  beforeEach(async () => {
    network = new MemoryNetwork(64 * 1024);
    nodes = await Promise.all(
      ["a", "b", "c"].map((nodeId) => ActorSystem.start({ name: "mesh", nodeId, transport: network.connect(nodeId), maxMessageBytes: 16 * 1024, types: [Ping, Pong, GetStats, Stats] })),
    );
  });
  afterEach(() => Promise.all(nodes.map((n) => n.shutdown())));

  const a = (): ActorSystem => nodes[0]!;
  const b = (): ActorSystem => nodes[1]!;
  const c = (): ActorSystem => nodes[2]!;
  const playerOn = (from: ActorSystem, node: string): ActorRef<Ping | GetStats> =>
    from.refFor({ system: "mesh", node, path: "/user/player" });

  it("remote: tell and ask reach an actor on another node", async () => {
    b().spawn(player, { name: "player" });
    const remote = playerOn(a(), "b");
    remote.tell(Ping.create({ seq: 1 }));
    const pong = await remote.ask(Ping.create({ seq: 2 }), Pong);
    expect(pong.node).to.equal("b");
    expect((await remote.ask(GetStats.create(), Stats)).pings).to.equal(2);
  });

  it("remote: a ref passed inside a message works from a third node", async () => {
    b().spawn(player, { name: "player" });
    const collector = c().spawn(player, { name: "player" });
    // a tells b's player to answer to c's player: the address travels inside the Ping.
    for (let seq = 1; seq <= 50; seq++) playerOn(a(), "b").tell(Ping.create({ seq, replyTo: collector.address }));
    let stats = await playerOn(a(), "c").ask(GetStats.create(), Stats);
    await eventuallyAsync("50 Pongs at c", async () => (stats = await playerOn(a(), "c").ask(GetStats.create(), Stats)).pongs === 50);
    expect(stats.outOfOrder).to.equal(0);
  });

  it("remote: lookup by name finds an actor on another node", async () => {
    const ref = c().spawn(player, { name: "unique" });
    const found = await a().lookup("unique");
    expect(found?.equals(ref)).to.equal(true);
    expect(await a().lookup("nobody", { timeoutMs: 50 })).to.equal(undefined);
  });

  it("remote: sending an unregistered type or an oversized message throws at the sender and sends nothing", () => {
    const remote = playerOn(a(), "b");
    class NotProtobuf {}
    expect(() => remote.tell(new NotProtobuf() as never)).to.throw(UnregisteredTypeError);
    const huge = Stats.create({ node: "x".repeat(20_000) });
    expect(() => (remote as ActorRef<object>).tell(huge)).to.throw(MessageTooLargeError, /over the limit of 16384 bytes/);
  });

  it("remote: an ask the target node cannot decode fails at once with the reason", async () => {
    b().spawn(player, { name: "player" });
    const remote = b().refFor<object>({ system: "mesh", node: "b", path: "/user/player" });
    const fromA = a().refFor<object>(remote.address);
    // node b has never heard of demo.counter.Add.
    const error = await fromA.ask(Add.create({ amount: 1 }), Total).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(AskFailedError);
    expect((error as AskFailedError).reason).to.equal("unknown-type");
    expect(b().deadLetters.countOf("unknown-type")).to.equal(1);
    // A type b knows but the player does not handle: "unhandled".
    b().registry.register(Total);
    const unhandled = await fromA.ask(Total.create({ value: 1 }), Pong).then(() => undefined, (e: unknown) => e);
    expect((unhandled as AskFailedError).reason).to.equal("unhandled");
  });

  it("remote: bad frames become dead letters with a reason and the node keeps serving", async () => {
    b().spawn(player, { name: "player" });
    const inbox = b().inboxSubject;
    const raw = network.connect("intruder");
    const pong = (target: string, typeName: string) =>
      encodeFrame([{ target, typeName, type: Pong, message: Pong.create({ seq: 1, node: "x" }), sender: undefined, headers: undefined }]);
    raw.publish(inbox, new Uint8Array([0xff, 0xff, 0xff]));
    raw.publish(inbox, pong("/user/player", "no.such.Type"));
    raw.publish(inbox, pong("/user/nobody", "troupe.examples.pingpong.Pong"));
    raw.publish(inbox, new Uint8Array(20_000));
    // A Ping envelope whose payload is garbage for that type.
    const garbage = encodeFrame([{ target: "/user/player", typeName: "troupe.examples.pingpong.Ping", type: { encode: (_m: object, w: any) => w.uint32(0x0a).uint32(50).bytes(new Uint8Array([1])) } as never, message: {}, sender: undefined, headers: undefined }]);
    raw.publish(inbox, garbage);
    await eventually("five dead letters on b", () => b().deadLetters.count === 5);
    expect(b().deadLetters.byReason()).to.deep.equal({
      "malformed-frame": 1,
      "unknown-type": 1,
      "unknown-target": 1,
      oversized: 1,
      "malformed-payload": 1,
    });
    expect(b().deadLetters.recent().every((d) => d.detail.length > 10)).to.equal(true);
    const reply = await playerOn(a(), "b").ask(Ping.create({ seq: 9 }), Pong);
    expect(reply.seq).to.equal(9);
    await raw.close();
  });
});
