import { expect } from "chai";
import protobuf from "protobufjs/minimal.js";
import { ActorSystem, MemoryNetwork, TypeRegistry } from "../../runtime/index.js";
import { encodeFrame } from "../../runtime/codec/frame-codec.js";
import { Ping } from "../../examples/ping-pong/messages.js";
import { greetAcross, secondCopyGreeter, type SecondCopyGreeter } from "../fixtures/second-copy-greeter.js";
import { eventually } from "../helpers/conditions.js";

describe("an app whose classes come from its own copy of protobufjs (system tier, in-memory network)", () => {
  let fixture: SecondCopyGreeter;
  let network: MemoryNetwork;
  let nodes: ActorSystem[];

  before(async function () {
    this.timeout(60_000);
    fixture = await secondCopyGreeter();
  });
  after(() => fixture?.app.remove());

  beforeEach(async () => {
    network = new MemoryNetwork(64 * 1024);
    // No `types`: spawn, ask and the first send register the app's classes on the fly.
    nodes = await Promise.all(["a", "b"].map((nodeId) => ActorSystem.start({ name: "copies", nodeId, transport: network.connect(nodeId) })));
  });
  afterEach(() => Promise.all(nodes.map((n) => n.shutdown())));

  it("second copy: the app's generated code refuses the runtime's Reader, which is what breaks in-place decoding", () => {
    const { Greet } = fixture.types;
    expect(fixture.app.protobuf.Writer).to.not.equal(protobuf.Writer);
    const bytes = Greet.encode(Greet.create({ name: "x" })).finish();
    expect(() => Greet.decode(protobuf.Reader.create(bytes), bytes.length)).to.throw(/illegal buffer/);
  });

  it("second copy: the registry tells the app's classes from the runtime's own", () => {
    const registry = new TypeRegistry().register(Ping, fixture.types.Greet);
    expect(registry.usesOtherProtobuf(Ping)).to.equal(false);
    expect(registry.usesOtherProtobuf(fixture.types.Greet)).to.equal(true);
  });

  it("second copy: tell and ask with the app's classes work in both directions, with no dead letters", async () => {
    const [a, b] = nodes as [ActorSystem, ActorSystem];
    a.spawn(fixture.greeter, { name: "greeter" });
    b.spawn(fixture.greeter, { name: "greeter" });
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const { sent, greeting, greeted } = await greetAcross(from, to, fixture.types);
      expect(greeting).to.be.instanceOf(fixture.types.Greeting);
      expect(greeting.text).to.equal(`hello ${from.nodeId}`);
      expect(greeting.node).to.equal(to.nodeId);
      expect(greeting.badge).to.deep.include({ label: `badge of ${from.nodeId}`, level: 7 });
      expect(greeted.greets).to.have.length(1);
      const got = greeted.greets[0]!;
      expect(got).to.be.instanceOf(fixture.types.Greet);
      expect(got.name).to.equal(sent.name);
      expect(got.badge).to.deep.include({ ...sent.badge });
      expect(got.scores).to.deep.equal(sent.scores);
      expect([...got.token]).to.deep.equal([...sent.token]);
    }
    expect(a.deadLetters.count).to.equal(0);
    expect(b.deadLetters.count).to.equal(0);
  });

  it("second copy: a payload that does not decode says that the class uses another copy of protobufjs", async () => {
    const [, b] = nodes as [ActorSystem, ActorSystem];
    b.spawn(fixture.greeter, { name: "greeter" });
    const raw = network.connect("intruder");
    // A Greet envelope whose payload claims a 50-byte name and holds one byte.
    const garbage = { encode: (_m: object, w: protobuf.Writer) => w.uint32(0x0a).uint32(50).bytes(new Uint8Array([1])) } as never;
    raw.publish(b.inboxSubject, encodeFrame([{ target: "/user/greeter", typeName: "secondcopy.Greet", type: garbage, message: {}, sender: undefined, headers: undefined }]));
    await eventually("a dead letter on b", () => b.deadLetters.count === 1);
    const [letter] = b.deadLetters.recent();
    expect(letter?.reason).to.equal("malformed-payload");
    expect(letter?.detail).to.match(/secondcopy\.Greet/).and.match(/another copy of protobufjs/).and.match(/npm ls protobufjs/);
    await raw.close();
  });
});
