import { expect } from "chai";
import { BehaviorTestKit } from "../../runtime/testkit/index.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { player } from "../../examples/ping-pong/player.js";

describe("ping-pong player (behaviour, no system)", () => {
  it("player: answers a Ping with a Pong to the sender", async () => {
    const kit = await BehaviorTestKit.start(player);
    const probe = kit.probe();
    await kit.send(Ping.create({ seq: 7 }), probe);
    const [pong] = kit.sentTo(probe) as Pong[];
    expect(pong).to.be.instanceOf(Pong);
    expect(pong!.seq).to.equal(7);
    expect(kit.state.pings).to.equal(1);
  });

  it("player: sends the Pong to the ref carried inside the Ping instead of the sender", async () => {
    const kit = await BehaviorTestKit.start(player);
    const sender = kit.probe("/user/sender");
    const elsewhere = { system: "test", node: "other-node", path: "/user/collector" };
    await kit.send(Ping.create({ seq: 1, replyTo: elsewhere }), sender);
    expect(kit.sentTo(sender)).to.have.length(0);
    expect(kit.sent).to.have.length(1);
    expect(kit.sent[0]!.to).to.deep.equal(elsewhere);
  });

  it("player: counts Pongs that arrive out of order per node", async () => {
    const kit = await BehaviorTestKit.start(player);
    for (const [seq, node] of [[1, "a"], [2, "a"], [1, "b"], [4, "a"], [2, "b"]] as const) await kit.send(Pong.create({ seq, node }));
    const probe = kit.probe();
    await kit.send(GetStats.create(), probe);
    const stats = kit.sentTo(probe)[0] as Stats;
    expect(stats.pongs).to.equal(5);
    expect(stats.outOfOrder).to.equal(1);
  });
});
