import { expect } from "chai";
import {
  ActorSystem,
  AskFailedError,
  MemoryNetwork,
  broadcast,
  consistentHash,
  defineActor,
  random,
  roundRobin,
  smallestMailbox,
  type ActorRef,
  type RoutingStrategy,
} from "../../runtime/index.js";
import { Ping, Pong } from "../../examples/ping-pong/messages.js";
import { countsByRoutee, Gate, recordingRoutee, type Seen } from "../fixtures/recording-routee.js";
import { eventually } from "../helpers/conditions.js";
import { SeededRandom } from "../helpers/seeded-random.js";

describe("routers (system tier, in-memory network)", () => {
  let network: MemoryNetwork;
  let nodes: ActorSystem[];
  let log: Seen[];
  let gate: Gate;

  beforeEach(async () => {
    network = new MemoryNetwork();
    log = [];
    gate = new Gate();
    const routee = recordingRoutee(log, gate);
    nodes = await Promise.all(
      ["a", "b"].map((nodeId) => ActorSystem.start({ name: "routing", nodeId, transport: network.connect(nodeId), types: [Ping, Pong], membership: false, kinds: [routee] })),
    );
  });
  afterEach(async () => {
    gate.open();
    await Promise.all(nodes.map((n) => n.shutdown()));
  });

  const [a, b] = [() => nodes[0]!, () => nodes[1]!];
  const routeeDef = () => recordingRoutee(log, gate);
  /** A pool router of `size` recording routees on node a, named "r". */
  const pool = (strategy: RoutingStrategy<Ping>, size: number, extra: { maxInFlightPerRoutee?: number; maxQueued?: number } = {}): ActorRef<Ping> =>
    a().spawn(a().defineRouter<Ping>({ strategy, routees: { pool: { definition: routeeDef(), size } }, ...extra }), { name: "r" });
  const tellAll = (router: ActorRef<Ping>, seqs: readonly number[]): void => seqs.forEach((seq) => router.tell(Ping.create({ seq })));
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

  it("round-robin: forty tells reach four routees ten times each", async () => {
    const router = pool(roundRobin(), 4);
    tellAll(router, range(40));
    await eventually("40 pings handled", () => log.length === 40);
    expect(countsByRoutee(log)).to.deep.equal([10, 10, 10, 10]);
  });

  it("round-robin: asks through the router from another node are answered in the router's name, each with its own seq", async () => {
    const router = pool(roundRobin(), 3);
    const remote = b().refFor<Ping>(router.address);
    const pongs = await Promise.all(range(30).map((seq) => remote.ask(Ping.create({ seq }), Pong, { timeoutMs: 2_000 })));
    expect(pongs.map((p) => p.seq)).to.deep.equal(range(30));
    expect(countsByRoutee(log)).to.deep.equal([10, 10, 10]);
    expect(b().deadLetters.countOf("forged-reply")).to.equal(0);
  });

  it("random: four hundred tells spread over four routees, none starved (seeded draws)", async () => {
    const seeded = new SeededRandom(7);
    const router = pool(random(() => seeded.next()), 4);
    tellAll(router, range(400));
    await eventually("400 pings handled", () => log.length === 400);
    const counts = countsByRoutee(log);
    expect(counts).to.have.length(4);
    for (const count of counts) expect(count).to.be.within(70, 130);
  });

  it("smallest-mailbox: a request goes to the routee with the fewest unanswered, not the next in turn", async () => {
    gate.close();
    const router = pool(smallestMailbox(), 3);
    const first = range(3).map((seq) => router.ask(Ping.create({ seq }), Pong, { timeoutMs: 5_000 }));
    await eventually("three routees each hold one ping", () => gate.held === 3);
    gate.open();
    await Promise.all(first);
    // Keep the first routee busy with five more, then ask three times: none of them goes to it.
    gate.close();
    const busyRoutee = log[0]!.routee;
    const group = a().spawn(a().defineRouter<Ping>({ strategy: smallestMailbox(), routees: { group: [a().refFor<Ping>(busyRoutee), ...(await childrenOtherThan(router, busyRoutee))] } }), { name: "g" });
    const busy = range(5).map((i) => a().refFor<Ping>(busyRoutee).ask(Ping.create({ seq: 100 + i }), Pong, { timeoutMs: 5_000 }));
    await eventually("the busy routee holds its first ping", () => gate.held === 1);
    const later = range(3).map((i) => group.ask(Ping.create({ seq: 200 + i }), Pong, { timeoutMs: 5_000 }));
    // One held by each of the two others (their mailboxes hold the third), none by the busy one's mailbox.
    await eventually("the two other routees each hold one", () => gate.held === 3);
    gate.open();
    await Promise.all([...busy, ...later]);
    const toBusy = log.filter((s) => s.seq >= 200 && s.routee === busyRoutee);
    expect(toBusy).to.deep.equal([]);
  });

  /** The other routees of a pool router, found through the pool's routee log of a round of pings. */
  async function childrenOtherThan(router: ActorRef<Ping>, except: string): Promise<ActorRef<Ping>[]> {
    const routees = [...new Set(log.map((s) => s.routee))].filter((r) => r !== except);
    expect(routees).to.have.length(2, `pool ${router.toString()} has three routees`);
    return routees.map((r) => a().refFor<Ping>(r));
  }

  it("consistent-hash: every message of one key reaches one routee, in the order sent", async () => {
    const router = pool(consistentHash<Ping>((ping) => `key-${ping.seq % 7}`), 4);
    tellAll(router, range(280));
    await eventually("280 pings handled", () => log.length === 280);
    for (let key = 0; key < 7; key++) {
      const ofKey = log.filter((s) => s.seq % 7 === key);
      expect(new Set(ofKey.map((s) => s.routee)).size, `key ${key}`).to.equal(1);
      expect(ofKey.map((s) => s.seq)).to.deep.equal(range(40).map((i) => i * 7 + key));
    }
    expect(new Set(log.map((s) => s.routee)).size).to.be.greaterThan(1);
  });

  it("consistent-hash: a key whose routee is at its bound waits in the router, in order, while other keys go past", async () => {
    gate.close();
    const router = pool(consistentHash<Ping>((ping) => `key-${ping.seq % 5}`), 2, { maxInFlightPerRoutee: 1 });
    // Five keys, eight asks each, interleaved: at most one request per routee is out at any time.
    const asks = range(40).map((seq) => router.ask(Ping.create({ seq }), Pong, { timeoutMs: 5_000 }));
    await eventually("a ping held", () => gate.held >= 1);
    expect(gate.held).to.be.at.most(2);
    gate.open();
    expect((await Promise.all(asks)).map((p) => p.seq)).to.deep.equal(range(40));
    for (let key = 0; key < 5; key++) {
      const ofKey = log.filter((s) => s.seq % 5 === key);
      expect(new Set(ofKey.map((s) => s.routee)).size).to.equal(1);
      expect(ofKey.map((s) => s.seq)).to.deep.equal(range(8).map((i) => i * 5 + key));
    }
    expect(new Set(log.map((s) => s.routee)).size, "both routees own keys").to.equal(2);
  });

  it("broadcast: every routee gets every message in order; an ask gets one answer", async () => {
    const router = pool(broadcast(), 3);
    tellAll(router, range(10));
    const pong = await router.ask(Ping.create({ seq: 10 }), Pong, { timeoutMs: 2_000 });
    expect(pong.seq).to.equal(10);
    await eventually("33 pings handled", () => log.length === 33);
    for (const routee of new Set(log.map((s) => s.routee))) expect(log.filter((s) => s.routee === routee).map((s) => s.seq)).to.deep.equal(range(11));
    expect(a().deadLetters.countOf("late-reply")).to.equal(0);
  });

  it("backpressure: with every routee at its bound, requests wait in the router up to maxQueued, then fail as mailbox-overflow dead letters; the rest are answered", async () => {
    gate.close();
    const router = pool(roundRobin(), 2, { maxInFlightPerRoutee: 2, maxQueued: 3 });
    const outcomes = range(10).map((seq) =>
      router.ask(Ping.create({ seq }), Pong, { timeoutMs: 5_000 }).then(
        (pong) => `pong ${pong.seq}`,
        (error: unknown) => (error instanceof AskFailedError ? error.reason : String(error)),
      ),
    );
    // 2 routees x 2 in flight, 3 waiting: the last 3 asks are refused at once.
    await eventually("three refusals", () => a().deadLetters.countOf("mailbox-overflow") === 3);
    expect(a().deadLetters.recent().at(-1)?.detail).to.match(/every routee is at maxInFlightPerRoutee 2 and 3 messages wait \(maxQueued\); 3 refused so far/);
    gate.open();
    expect(await Promise.all(outcomes)).to.deep.equal([...range(7).map((seq) => `pong ${seq}`), "mailbox-overflow", "mailbox-overflow", "mailbox-overflow"]);
  });

  it("a message from an actor (not an ask) is passed on with its sender: the routee's reply reaches it from the routee", async () => {
    const heard: string[] = [];
    const listener = b().spawn(defineActor({ messages: { Pong }, init: () => ({}), handlers: { Pong: (state, pong, ctx) => void heard.push(`${pong.seq} from ${ctx.sender?.toString()}`) } }), { name: "listener" });
    const router = pool(roundRobin(), 1);
    b().refFor<Ping>(router.address).tell(Ping.create({ seq: 5 }), listener);
    await eventually("the listener heard the Pong", () => heard.length === 1);
    expect(heard).to.deep.equal([`5 from ${log[0]!.routee}`]);
    expect(log[0]!.routee).to.match(/^troupe:\/\/routing@a\/user\/r\//);
  });

  it("a group router routes to refs it is given on other nodes, and drops one that stops", async () => {
    const routees = [a().spawn(routeeDef(), { name: "w1" }), b().spawn(routeeDef(), { name: "w2" })];
    const group = a().spawn(a().defineRouter<Ping>({ strategy: roundRobin(), routees: { group: routees.map((r) => a().refFor<Ping>(r.address)) } }), { name: "g" });
    const pongs = await Promise.all(range(4).map((seq) => group.ask(Ping.create({ seq }), Pong, { timeoutMs: 2_000 })));
    expect(pongs.map((p) => p.node).sort()).to.deep.equal(["a", "a", "b", "b"]);
    await b().stop(routees[1]!);
    // The router hears of it through its watch; then everything goes to w1.
    await eventually("w2's Terminated reached the router", () => a().actors().find((x) => x.path === "/user/g")?.mailboxSize === 0);
    log.length = 0;
    await eventuallyRoutedOnlyTo(group, "troupe://routing@a/user/w1");
  });

  async function eventuallyRoutedOnlyTo(router: ActorRef<Ping>, routee: string): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      log.length = 0;
      await Promise.all(range(4).map((seq) => router.ask(Ping.create({ seq }), Pong, { timeoutMs: 2_000 }).catch(() => undefined)));
      if (log.length === 4 && log.every((s) => s.routee === routee)) return;
    }
    throw new Error(`router still routes elsewhere than ${routee}: ${JSON.stringify(log)}`);
  }
});
