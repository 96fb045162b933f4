import { expect } from "chai";
import { ActorSystem, connectNats, type EmbeddedNats } from "../../runtime/index.js";
import { greetAcross, secondCopyGreeter, type SecondCopyGreeter } from "../fixtures/second-copy-greeter.js";
import { natsServerFor } from "../helpers/nats.js";

describe("an app whose classes come from its own copy of protobufjs (integration: nats-server)", function () {
  this.timeout(60_000);
  let server: EmbeddedNats;
  let fixture: SecondCopyGreeter;
  let nodes: ActorSystem[] = [];

  before(async function () {
    server = await natsServerFor(this);
    fixture = await secondCopyGreeter();
    // No `types`: spawn, ask and the first send register the app's classes on the fly.
    nodes = await Promise.all(["a", "b"].map(async (nodeId) => ActorSystem.start({ name: "it-copies", nodeId, transport: await connectNats({ servers: server.url }) })));
    for (const node of nodes) node.spawn(fixture.greeter, { name: "greeter" });
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.shutdown()));
    await server?.stop();
    fixture?.app.remove();
  });

  it("second copy: tell and ask with the app's classes work in both directions over NATS, with no dead letters", async () => {
    const [a, b] = nodes as [ActorSystem, ActorSystem];
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const { sent, greeting, greeted } = await greetAcross(from, to, fixture.types);
      expect(greeting).to.be.instanceOf(fixture.types.Greeting);
      expect(greeting).to.deep.include({ text: `hello ${from.nodeId}`, node: to.nodeId });
      expect(greeting.badge).to.deep.include({ label: `badge of ${from.nodeId}`, level: 7 });
      expect(greeted.greets).to.have.length(1);
      const got = greeted.greets[0]!;
      expect(got).to.be.instanceOf(fixture.types.Greet);
      expect(got).to.deep.include({ name: sent.name, scores: sent.scores });
      expect(got.badge).to.deep.include({ ...sent.badge });
      expect([...got.token]).to.deep.equal([...sent.token]);
    }
    expect(a.deadLetters.count).to.equal(0);
    expect(b.deadLetters.count).to.equal(0);
  });
});
