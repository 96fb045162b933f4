import { expect } from "chai";
import { ActorSystem, MemoryNetwork, roundRobin } from "../../runtime/index.js";
import { ManualClock } from "../../runtime/testkit/index.js";
import { Ping, Pong } from "../../examples/ping-pong/messages.js";
import { recordingRoutee, type Seen } from "../fixtures/recording-routee.js";
import { settle } from "../helpers/conditions.js";

describe("pool routers across nodes (system tier, in-memory network, manual clocks)", () => {
  let network: MemoryNetwork;
  let clock: ManualClock;
  /** n3's own clock: when the test stops advancing it, n3 falls silent and the others lose it. */
  let n3Clock: ManualClock;
  let nodes: ActorSystem[];
  let log: Seen[];
  const routee = () => recordingRoutee(log);

  const start = (nodeId: string, nodeClock: ManualClock, hostsRoutees = true): Promise<ActorSystem> =>
    ActorSystem.start({ name: "pools", nodeId, transport: network.connect(nodeId), clock: nodeClock, types: [Ping, Pong], kinds: hostsRoutees ? [routee()] : [], askTimeoutMs: 60_000 });

  /** Moves the clocks on, a heartbeat interval at a time, letting messages flow between steps. */
  async function elapse(ms: number, clocks = [clock, n3Clock]): Promise<void> {
    for (let done = 0; done < ms; done += 250) {
      for (const c of clocks) c.advance(Math.min(250, ms - done));
      await settle();
      await settle();
    }
  }

  /** Where the router's routees run, as the nodes that n1 counts alive report: one node id per routee, sorted. */
  const routeeNodes = (): string[] => {
    const alive = new Set(nodes[0]!.nodes().map((n) => n.node));
    return nodes.filter((n) => alive.has(n.nodeId)).flatMap((n) => n.actors().filter((a) => a.path.startsWith("/remote/n1/user/r/")).map(() => n.nodeId)).sort();
  };

  beforeEach(async () => {
    network = new MemoryNetwork();
    clock = new ManualClock();
    n3Clock = new ManualClock();
    log = [];
    nodes = [await start("n1", clock, false), await start("n2", clock), await start("n3", n3Clock)];
    await elapse(500);
  });
  afterEach(() => Promise.all(nodes.map((n) => n.shutdown())));

  it("perNode: a pool spawns its routees on every node hosting the kind, grows when one joins, shrinks when one is lost, and keeps answering asks", async () => {
    const n1 = nodes[0]!;
    const router = n1.spawn(n1.defineRouter<Ping>({ strategy: roundRobin(), routees: { pool: { definition: routee(), perNode: 2 } } }), { name: "r" });
    await elapse(250);
    expect(routeeNodes()).to.deep.equal(["n2", "n2", "n3", "n3"]);

    nodes.push(await start("n4", clock));
    await elapse(500);
    expect(routeeNodes()).to.deep.equal(["n2", "n2", "n3", "n3", "n4", "n4"]);
    const asked = await Promise.all([0, 1, 2, 3, 4, 5].map((seq) => router.ask(Ping.create({ seq }), Pong)));
    expect(asked.map((p) => p.node).sort()).to.deep.equal(["n2", "n2", "n3", "n3", "n4", "n4"]);

    await elapse(2_750, [clock]); // n3's clock stands still: it falls silent and is lost
    expect(n1.nodes().map((n) => n.node)).to.deep.equal(["n1", "n2", "n4"]);
    await elapse(500, [clock]);
    expect(routeeNodes()).to.deep.equal(["n2", "n2", "n4", "n4"]);
    // Round-robin over the four routees left: n3, which still runs on its stopped clock, gets none.
    const after = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((seq) => router.ask(Ping.create({ seq }), Pong)));
    expect(after.map((p) => p.node).sort()).to.deep.equal(["n2", "n2", "n2", "n2", "n4", "n4", "n4", "n4"]);
  });

  it("perNode: a node that leaves (shuts down) takes its routees with it, and none are spawned again elsewhere", async () => {
    const n1 = nodes[0]!;
    const router = n1.spawn(n1.defineRouter<Ping>({ strategy: roundRobin(), routees: { pool: { definition: routee(), perNode: 1 } } }), { name: "r" });
    await elapse(250);
    expect(routeeNodes()).to.deep.equal(["n2", "n3"]);
    await nodes[1]!.shutdown();
    await elapse(750);
    expect(n1.nodes().map((n) => n.node)).to.deep.equal(["n1", "n3"]);
    expect(routeeNodes()).to.deep.equal(["n3"]);
    const pongs = await Promise.all([0, 1, 2].map((seq) => router.ask(Ping.create({ seq }), Pong)));
    expect(pongs.map((p) => p.node)).to.deep.equal(["n3", "n3", "n3"]);
  });
});
