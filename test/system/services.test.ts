import { expect } from "chai";
import { ActorSystem, AskFailedError, MemoryNetwork, type ActorRef } from "../../runtime/index.js";
import { encodeFrame } from "../../runtime/codec/frame-codec.js";
import { troupe } from "../../proto/gen/troupe.js";
import { Ping, Pong } from "../../examples/ping-pong/messages.js";
import { countsByRoutee, Gate, recordingRoutee, type Seen } from "../fixtures/recording-routee.js";
import { eventually, settle } from "../helpers/conditions.js";
import { ManualClock } from "../../runtime/testkit/index.js";

describe("services over queue groups (system tier, in-memory network)", () => {
  let network: MemoryNetwork;
  let members: ActorSystem[];
  let caller: ActorSystem;
  let log: Seen[];
  let gate: Gate;

  beforeEach(async () => {
    network = new MemoryNetwork();
    log = [];
    gate = new Gate();
    const start = (nodeId: string) => ActorSystem.start({ name: "svc", nodeId, transport: network.connect(nodeId), types: [Ping, Pong], membership: false });
    members = await Promise.all(["m1", "m2", "m3"].map(start));
    for (const member of members) member.serve(recordingRoutee(log, gate), { name: "echo" });
    caller = await start("caller");
  });
  afterEach(async () => {
    gate.open();
    await Promise.all([...members, caller].map((n) => n.shutdown()));
  });

  const echo = (): ActorRef<Ping> => caller.serviceRef<Ping>("echo");
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

  it("each ask reaches one member and is answered; the queue group spreads them over the three", async () => {
    const pongs = await Promise.all(range(30).map((seq) => echo().ask(Ping.create({ seq }), Pong, { timeoutMs: 2_000 })));
    expect(pongs.map((p) => p.seq)).to.deep.equal(range(30));
    expect(countsByRoutee(log)).to.deep.equal([10, 10, 10]);
    expect(new Set(pongs.map((p) => p.node))).to.deep.equal(new Set(["m1", "m2", "m3"]));
  });

  it("each tell is handled by exactly one member", async () => {
    range(60).forEach((seq) => echo().tell(Ping.create({ seq })));
    await eventually("60 pings handled", () => log.length === 60);
    expect(log.map((s) => s.seq).sort((x, y) => x - y)).to.deep.equal(range(60));
  });

  it("a service nobody serves fails an ask at once with no-responders", async () => {
    const error = await caller.serviceRef<Ping>("nobody").ask(Ping.create({ seq: 1 }), Pong, { timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(AskFailedError);
    expect((error as AskFailedError).reason).to.equal("no-responders");
  });

  it("a plain request carrying a Frame (as any NATS client sends it) is answered on its reply subject; a target other than the service is refused", async () => {
    const frame = (target: string) => encodeFrame([{ target, typeName: "troupe.examples.pingpong.Ping", type: Ping, message: Ping.create({ seq: 42 }), sender: undefined, headers: undefined }]);
    const answer = async (target: string) => troupe.wire.Frame.decode(await caller.transport.request(caller.subjects.service("echo"), frame(target), 2_000)).envelopes[0]!;
    for (const target of ["", "echo"]) {
      const reply = await answer(target);
      expect(reply.type).to.equal("troupe.examples.pingpong.Pong");
      expect(Pong.decode(reply.payload!).seq).to.equal(42);
    }
    const refused = await answer("/user/service.echo.1");
    expect(refused.type).to.equal("troupe.system.Failure");
    expect(troupe.system.Failure.decode(refused.payload!).reason).to.equal("unknown-target");
  });

  it("a member that leaves (unserve) first leaves the group, then answers every ask it had accepted; later asks go to the others", async () => {
    gate.close();
    const accepted = range(9).map((seq) => echo().ask(Ping.create({ seq }), Pong, { timeoutMs: 5_000 }));
    await eventually("each member holds one ask", () => gate.held === 3);
    const left = members[0]!.unserve("echo");
    const later = range(6).map((seq) => echo().ask(Ping.create({ seq: 100 + seq }), Pong, { timeoutMs: 5_000 }));
    let leftDone = false;
    void left.then(() => (leftDone = true));
    // m2 and m3 each hold one ask and queue two; the six later ones queue there too.
    const queued = () => members.slice(1).flatMap((m) => m.actors()).reduce((sum, a) => sum + a.mailboxSize, 0);
    await eventually("the later asks queued at m2 and m3", () => queued() === 10);
    expect(leftDone, "unserve waits for the ask m1 holds").to.equal(false);
    gate.open();
    const pongs = await Promise.all([...accepted, ...later]);
    await left;
    expect(pongs.map((p) => p.seq)).to.deep.equal([...range(9), ...range(6).map((i) => 100 + i)]);
    expect(pongs.slice(0, 9).filter((p) => p.node === "m1")).to.have.length(3);
    expect(pongs.slice(9).map((p) => p.node).filter((n) => n === "m1")).to.deep.equal([]);
    expect(members[0]!.actors().filter((a) => a.path.startsWith("/user/service.echo"))).to.deep.equal([]);
  });

  it("shutting a member down drains it first: the asks it accepted are answered, none fail", async () => {
    gate.close();
    const accepted = range(9).map((seq) => echo().ask(Ping.create({ seq }), Pong, { timeoutMs: 5_000 }));
    await eventually("each member holds one ask", () => gate.held === 3);
    const down = members[1]!.shutdown();
    gate.open();
    await down;
    expect((await Promise.all(accepted)).map((p) => p.seq)).to.deep.equal(range(9));
  });

  it("a drain that outlasts drainTimeoutMs stops the actors anyway: the handler in progress finishes, what was still queued fails visibly (stopped-target)", async () => {
    const clock = new ManualClock();
    const member = await ActorSystem.start({ name: "svc", nodeId: "m5", transport: network.connect("m5"), types: [Ping, Pong], membership: false, clock });
    members.push(member);
    member.serve(recordingRoutee(log, gate), { name: "short", drainTimeoutMs: 50 });
    gate.close();
    const short = caller.serviceRef<Ping>("short");
    const outcomes = [0, 1, 2].map((seq) =>
      short.ask(Ping.create({ seq }), Pong, { timeoutMs: 5_000 }).then(
        (pong) => `pong ${pong.seq}`,
        (error: unknown) => (error instanceof AskFailedError ? error.reason : String(error)),
      ),
    );
    await eventually("the first held, two queued", () => gate.held === 1 && member.actors().some((a) => a.path === "/user/service.short.1" && a.mailboxSize === 2));
    const left = member.unserve("short");
    await settle(); // out of the queue group; the drain's timer is set
    clock.advance(50);
    gate.open();
    await left;
    expect(await Promise.all(outcomes)).to.deep.equal(["pong 0", "stopped-target", "stopped-target"]);
  });

  it("instances: a member runs several actors for the service and hands each message to the least busy", async () => {
    const extra = await ActorSystem.start({ name: "svc", nodeId: "m4", transport: network.connect("m4"), types: [Ping, Pong], membership: false });
    members.push(extra);
    gate.close();
    extra.serve(recordingRoutee(log, gate), { name: "wide", instances: 3 });
    const wide = caller.serviceRef<Ping>("wide");
    const asks = range(3).map((seq) => wide.ask(Ping.create({ seq }), Pong, { timeoutMs: 5_000 }));
    await eventually("three instances each hold one", () => gate.held === 3);
    gate.open();
    await Promise.all(asks);
    expect(countsByRoutee(log)).to.deep.equal([1, 1, 1]);
  });
});
