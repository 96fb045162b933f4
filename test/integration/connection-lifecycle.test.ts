import { expect } from "chai";
import { ActorSystem, connectNats, startEmbeddedNats, type ActorRef, type TransportEvent } from "../../runtime/index.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { player } from "../../examples/ping-pong/player.js";
import { eventually, eventuallyAsync } from "../helpers/conditions.js";
import { natsServerFor } from "../helpers/nats.js";

const types = [Ping, Pong, GetStats, Stats];

describe("connection lifecycle over a real nats-server (integration)", function () {
  this.timeout(30_000);

  it("connection: a server restart surfaces disconnect and reconnect events, and messaging resumes", async function () {
    let server = await natsServerFor(this);
    const port = server.port;
    const events: TransportEvent[] = [];
    const nodes = await Promise.all(
      ["x", "y"].map(async (nodeId) =>
        ActorSystem.start({ name: "restart", nodeId, types, transport: await connectNats({ servers: server.url, reconnectTimeWait: 50 }) }),
      ),
    );
    const [x, y] = nodes as [ActorSystem, ActorSystem];
    x.onEvent((e) => {
      if (e.type === "transport") events.push(e.event);
    });
    y.spawn(player, { name: "player" });
    const remote = x.refFor<Ping>({ system: "restart", node: "y", path: "/user/player" });
    expect((await remote.ask(Ping.create({ seq: 1 }), Pong)).seq).to.equal(1);

    await server.stop();
    await eventually("a disconnect event", () => events.some((e) => e.type === "disconnect"));
    server = await startEmbeddedNats({ port });
    await eventually("a reconnect event", () => events.some((e) => e.type === "reconnect"), 10_000);
    // Both nodes resubscribe on reconnect; once y is back too, asks go through again.
    await eventuallyAsync("an ask to succeed after the restart", () =>
      remote.ask(Ping.create({ seq: 2 }), Pong, { timeoutMs: 200 }).then(
        (pong) => pong.seq === 2,
        () => false,
      ),
    );
    await Promise.all(nodes.map((n) => n.shutdown()));
    await server.stop();
  });

  it("connection: shutdown drains, so messages told just before it still arrive", async function () {
    const server = await natsServerFor(this);
    const start = async (nodeId: string) => ActorSystem.start({ name: "drain", nodeId, types, transport: await connectNats({ servers: server.url }) });
    const [sender, receiver] = await Promise.all([start("sender"), start("receiver")]);
    const collector = receiver.spawn(player, { name: "player" });
    const target: ActorRef<Ping> = sender.refFor({ system: "drain", node: "receiver", path: "/user/player" });
    for (let seq = 1; seq <= 5_000; seq++) target.tell(Ping.create({ seq, replyTo: collector.address }));
    await sender.shutdown();
    let stats = await collector.ask(GetStats.create(), Stats);
    // The player answers each Ping with a Pong to itself, so both counts reach 5000 once everything arrived.
    await eventuallyAsync("all 5000 Pings and Pongs handled", async () => {
      stats = await collector.ask(GetStats.create(), Stats);
      return stats.pings === 5_000 && stats.pongs === 5_000;
    });
    expect(stats.outOfOrder).to.equal(0);
    await receiver.shutdown();
    await server.stop();
  });
});
