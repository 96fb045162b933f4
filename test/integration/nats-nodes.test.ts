import { expect } from "chai";
import { connect } from "@nats-io/transport-node";
import { ActorSystem, AskTimeoutError, connectNats, type ActorRef, type EmbeddedNats } from "../../runtime/index.js";
// Imported statically: a dynamic import() here would load generated protobuf modules a second time
// (mocha loads tests through require), and protobufjs's shared roots would then mix the two copies' classes.
import { decodeFrame, encodeFrame } from "../../runtime/codec/frame-codec.js";
import { startWorker, type WorkerProcess } from "../../runtime/cli/worker-processes.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { player } from "../../examples/ping-pong/player.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { eventually, eventuallyAsync } from "../helpers/conditions.js";
import { natsServerFor } from "../helpers/nats.js";

const SYSTEM = "it-nodes";
const MODULE = `${PROJECT_ROOT}/examples/ping-pong/topology.ts`;

describe("nodes in separate processes over a real nats-server (integration)", function () {
  this.timeout(60_000);
  let server: EmbeddedNats;
  let workers: WorkerProcess[] = [];
  let home: ActorSystem;
  const stderr: string[] = [];

  before(async function () {
    server = await natsServerFor(this);
    workers = await Promise.all(
      ["b", "c"].map((nodeId) => startWorker({ system: SYSTEM, nodeId, servers: [server.url], modulePath: MODULE, log: (line) => stderr.push(line) })),
    );
    home = await ActorSystem.start({
      name: SYSTEM,
      nodeId: "a",
      transport: await connectNats({ servers: server.url }),
      types: [Ping, Pong, GetStats, Stats],
    });
  });

  after(async () => {
    await home?.shutdown();
    await Promise.all(workers.map((w) => w.stop()));
    await server?.stop();
  });

  const playerOn = (node: string): ActorRef<Ping | GetStats> => home.refFor({ system: SYSTEM, node, path: "/user/player" });

  it("processes: tell and ask between node processes", async () => {
    playerOn("b").tell(Ping.create({ seq: 1 }));
    const pong = await playerOn("b").ask(Ping.create({ seq: 2 }), Pong, { timeoutMs: 5_000 });
    expect(pong.seq).to.equal(2);
    expect(pong.node).to.equal("b");
  });

  it("processes: a ref passed inside a message is used from a third node, and per-sender order holds", async () => {
    const collector = playerOn("c");
    const before = await collector.ask(GetStats.create(), Stats);
    const count = 2_000;
    for (let seq = 1; seq <= count; seq++) playerOn("b").tell(Ping.create({ seq, replyTo: collector.address }));
    let stats = before;
    await eventuallyAsync(`${count} Pongs at node c`, async () => (stats = await collector.ask(GetStats.create(), Stats)).pongs >= before.pongs + count, 20_000);
    expect(stats.pongs).to.equal(before.pongs + count);
    expect(stats.outOfOrder).to.equal(0);
  });

  it("processes: Pongs come back in the order the Pings were sent", async () => {
    const local = home.spawn(player, { name: "order-check" });
    const count = 2_000;
    for (let seq = 1; seq <= count; seq++) playerOn("c").tell(Ping.create({ seq, replyTo: local.address }));
    let stats = await local.ask(GetStats.create(), Stats);
    await eventuallyAsync(`${count} Pongs home`, async () => (stats = await local.ask(GetStats.create(), Stats)).pongs === count, 20_000);
    expect(stats.outOfOrder).to.equal(0);
  });

  it("processes: an ask that gets no reply times out with a clear error", async () => {
    // A player takes a Pong without replying to it.
    const error = await (playerOn("b") as ActorRef<object>)
      .ask(Pong.create({ seq: 1, node: "a" }), Stats, { timeoutMs: 300 })
      .then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(AskTimeoutError);
    expect((error as Error).message).to.equal("ask troupe.examples.pingpong.Pong to troupe://it-nodes@b/user/player got no reply within 300 ms");
  });

  it("processes: a malformed frame from a raw nats.js client is a dead letter, and the node keeps serving", async () => {
    const raw = await connect({ servers: server.url });
    const before = home.deadLetters.count;
    raw.publish(home.inboxSubject, new Uint8Array([0x0a, 0x05, 0x01]));
    raw.publish(home.inboxSubject, new TextEncoder().encode("hello, not protobuf"));
    await raw.flush();
    await eventually("two dead letters", () => home.deadLetters.count === before + 2);
    expect(home.deadLetters.recent().slice(-2).map((d) => d.reason)).to.deep.equal(["malformed-frame", "malformed-frame"]);
    expect(home.deadLetters.recent().at(-1)!.subject).to.equal(home.inboxSubject);
    await raw.close();
    const local = home.spawn(player, { name: "still-serving" });
    expect((await local.ask(Ping.create({ seq: 5 }), Pong)).seq).to.equal(5);
    expect((await playerOn("b").ask(Ping.create({ seq: 6 }), Pong)).seq).to.equal(6);
  });

  it("processes: a plain NATS request to a node inbox gets its reply frame on the reply subject", async () => {
    const raw = await connect({ servers: server.url });
    const request = encodeFrame([{ target: "/user/player", typeName: "troupe.examples.pingpong.Ping", type: Ping, message: Ping.create({ seq: 77 }), sender: undefined, headers: undefined }]);
    const reply = await raw.request(`troupe.${SYSTEM}.node.b`, request, { timeout: 5_000 });
    const [envelope] = decodeFrame(reply.data);
    expect(envelope!.type).to.equal("troupe.examples.pingpong.Pong");
    expect(Pong.decode(envelope!.payload!).seq).to.equal(77);
    await raw.close();
  });
});
