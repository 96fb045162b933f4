import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { MembershipDigest, RosterPage } from "../../runtime/codec/wire-types.js";
import { ActorSystem, connectNats, defineActor, type ActorRef, type EmbeddedNats, type MembershipEvent, type MessagesOf } from "../../runtime/index.js";
import { encodeHeartbeat, type Heartbeat } from "../../runtime/membership/heartbeat.js";
import { encodeChange, type Change } from "../../runtime/membership/ring-messages.js";
import { MAX_ANSWERS_PER_CHECK } from "../../runtime/membership/ring-membership.js";
import { DEFAULT_FAILURE_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS } from "../../runtime/membership/membership.js";
import { GetStats, Ping, Stats } from "../../examples/ping-pong/messages.js";
import { counter } from "../fixtures/counter.js";
import { eventually } from "../helpers/conditions.js";
import { LEGIT_ASK_MS } from "../helpers/hostile-bus.js";
import { natsServerFor } from "../helpers/nats.js";

// A real collection before each heap reading: garbage from decoding the attack must not count.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const heapUsed = (): number => {
  gc();
  return process.memoryUsage().heapUsed;
};

/** A parent that spawns one counter on `node` and answers GetStats with where its child runs. */
const parentOn = (node: string) =>
  defineActor({
    messages: { GetStats },
    init: () => ({}),
    started: (state, ctx) => {
      ctx.spawn(counter, { name: "child", placement: { node }, props: Stats.create({ node: "child" }) });
      return state;
    },
    handlers: {
      GetStats: (_s, _m, ctx) => ctx.reply(Stats.create({ node: ctx.children().map((c) => `${c.address.node}${c.address.path}`).join(",") })),
    },
  });

/**
 * Three nodes (home, n1, n2, all hosting counters, on the default ring membership: with three members
 * every node monitors every other) and a raw nats.js connection that forges membership notices on
 * `membership.changes` and messages to a node's `membership.to.<node>`.
 * home's parent has a child on n1; n2's parent has a child on n1 too, so that n1 hosts a child of n2.
 */
interface Scene {
  readonly system: string;
  readonly home: ActorSystem;
  readonly n1: ActorSystem;
  readonly n2: ActorSystem;
  readonly attacker: NatsConnection;
  readonly events: { readonly home: string[]; readonly n1: string[]; readonly n2: string[] };
  close(): Promise<void>;
}

describe("hostile client: ring membership that checks its notices (integration: nats-server)", function () {
  this.timeout(30_000);
  let nats: EmbeddedNats;
  let scene: Scene | undefined;

  before(async function () {
    nats = await natsServerFor(this);
  });
  afterEach(async () => {
    await scene?.close();
    scene = undefined;
  });
  after(() => nats?.stop());

  async function start(): Promise<Scene> {
    const system = `hostile-m-${Math.random().toString(36).slice(2, 8)}`;
    const node = async (nodeId: string) =>
      ActorSystem.start({ name: system, nodeId, transport: await connectNats({ servers: nats.url }), types: [Ping, GetStats, Stats], kinds: [counter] });
    const [home, n1, n2] = await Promise.all([node("home"), node("n1"), node("n2")]);
    const events: Scene["events"] = { home: [], n1: [], n2: [] };
    for (const [id, s] of [["home", home], ["n1", n1], ["n2", n2]] as const) {
      s.onEvent((e) => e.type === "membership" && events[id].push(describe(e.event)));
    }
    await eventually("every node sees the three", () => [home, n1, n2].every((s) => s.nodes().length === 3), 5_000);
    const attacker = await connect({ servers: nats.url, name: "attacker" });
    return {
      system,
      home,
      n1,
      n2,
      attacker,
      events,
      async close() {
        await attacker.close();
        await Promise.all([home.shutdown(), n1.shutdown(), n2.shutdown()]);
      },
    };
  }

  const describe = (e: MembershipEvent): string => `${e.type} ${e.node.node}`;
  const heartbeat = (s: Scene, fields: Partial<Heartbeat>): Heartbeat => ({ node: "ghost", incarnation: "forged", startedAtMs: Date.now(), kinds: [], actorCount: 0, intervalMs: 500, leaving: false, system: s.system, ...fields });
  /** A notice on the changes subject, from `reporter` (by default the node it is about, as a real `joined` or `left` is). */
  const forge = (s: Scene, fields: Partial<Heartbeat>, kind: Change["kind"] = "joined", reporter?: string): void => {
    const beat = heartbeat(s, fields);
    s.attacker.publish(s.home.subjects.membershipChanges, encodeChange(kind, beat, reporter ?? beat.node, s.system));
  };

  /** Asks `ref` (from `from`) and fails unless it answers within LEGIT_ASK_MS. */
  async function askInTime(ref: ActorRef<MessagesOf<typeof counter>>): Promise<Stats> {
    const started = performance.now();
    const stats = await ref.ask(GetStats.create(), Stats, { timeoutMs: LEGIT_ASK_MS });
    expect(performance.now() - started, "legitimate ask round trip (ms)").to.be.below(LEGIT_ASK_MS);
    return stats;
  }

  /** The child `parentNode`'s parent placed on n1, as seen from `from`, once it answers. */
  async function childOnN1(s: Scene, parentNode: ActorSystem, from: ActorSystem): Promise<ActorRef<MessagesOf<typeof counter>>> {
    const parent = parentNode.spawn(parentOn("n1"), { name: "parent" });
    const where = await parent.ask(GetStats.create(), Stats, { timeoutMs: 5_000 });
    expect(where.node).to.equal(`n1/remote/${parentNode.nodeId}/user/parent/child`);
    // The spawn request travels on the parent node's connection; an ask from another node could overtake it.
    await eventually("the child running on n1", () => s.n1.actors().some((a) => a.path === `/remote/${parentNode.nodeId}/user/parent/child`), 5_000);
    const child = from.refFor<MessagesOf<typeof counter>>({ system: s.system, node: "n1", path: `/remote/${parentNode.nodeId}/user/parent/child` });
    child.tell(Ping.create({ seq: 1 }));
    expect((await child.ask(GetStats.create(), Stats, { timeoutMs: 5_000 })).pings).to.equal(1);
    return child;
  }

  it("membership attack: a ghost announced with intervalMs 2^32-1 is not immortal: its monitors find it silent and it is lost after their own failure timeout", async () => {
    const s = (scene = await start());
    const child = await childOnN1(s, s.home, s.home);
    forge(s, { node: "ghost", intervalMs: 0xffff_ffff, kinds: ["counter"] });
    await s.attacker.flush();
    await eventually("the ghost seen", () => s.home.nodes().some((n) => n.node === "ghost"), 2_000);
    const silentSince = Date.now();
    // This node's own settings (the defaults), whatever the ghost claims.
    await eventually("the ghost lost", () => !s.home.nodes().some((n) => n.node === "ghost"), DEFAULT_FAILURE_TIMEOUT_MS + 1_500);
    expect(Date.now() - silentSince).to.be.below(DEFAULT_FAILURE_TIMEOUT_MS + DEFAULT_HEARTBEAT_INTERVAL_MS + 500);
    expect(s.events.home).to.include("lost ghost");
    expect((await askInTime(child)).pings).to.equal(1);
  });

  it("membership attack: one forged 'n1 restarted' while n1 is alive changes nothing: n1, its incarnation and its remote children stay", async () => {
    const s = (scene = await start());
    const child = await childOnN1(s, s.home, s.home);
    const real = s.home.nodes().find((n) => n.node === "n1")!;
    forge(s, { node: "n1", incarnation: "forged-restart", startedAtMs: Date.now(), kinds: ["counter"] });
    await s.attacker.flush();
    // The real n1 reads the claim too, and announces itself again: the claim is dropped for good.
    await eventually("the claim contradicted", () => s.home.heartbeatsRefused()["incarnation-conflict"] >= 1, 5_000);
    expect(s.events.home.filter((e) => e.endsWith(" n1") && e !== "joined n1"), "home's membership events about n1").to.deep.equal([]);
    expect(s.home.nodes().find((n) => n.node === "n1")?.incarnation).to.equal(real.incarnation);
    expect((await askInTime(child)).pings, "the child on n1 kept its state").to.equal(1);
    const parent = s.home.refFor<GetStats>({ system: s.system, node: "home", path: "/user/parent" });
    expect((await parent.ask(GetStats.create(), Stats, { timeoutMs: LEGIT_ASK_MS })).node, "the parent still has its child on n1").to.equal("n1/remote/home/user/parent/child");
    expect(s.home.heartbeatsRefused()["incarnation-conflict"], "conflicts counted").to.be.at.least(1);
  });

  it("membership attack: a forged 'n2 is leaving' does not make n1 stop n2's children", async () => {
    const s = (scene = await start());
    const child = await childOnN1(s, s.n2, s.home);
    const incarnation = s.n1.nodes().find((n) => n.node === "n2")!.incarnation;
    forge(s, { node: "n2", incarnation, kinds: ["counter"] }, "left");
    await s.attacker.flush();
    await eventually("the leave contradicted", () => s.n1.heartbeatsRefused()["leave-contradicted"] >= 1, 5_000);
    expect(s.events.n1.filter((e) => e.endsWith(" n2") && e !== "joined n2"), "n1's membership events about n2").to.deep.equal([]);
    expect(s.n1.nodes().map((n) => n.node)).to.include("n2");
    expect((await askInTime(child)).pings, "n2's child on n1 still runs, with its state").to.equal(1);
    expect(s.n1.heartbeatsRefused()["leave-contradicted"], "the contradicted leave counted").to.be.at.least(1);
  });

  it("membership attack: notices listing 95,000 kinds are refused and counted; memory stays bounded and the nodes keep answering", async () => {
    const s = (scene = await start());
    const child = await childOnN1(s, s.home, s.home);
    const kinds = Array.from({ length: 95_000 }, (_, i) => `k${i}`);
    const heapBefore = heapUsed();
    const GHOSTS = 30;
    for (let i = 0; i < GHOSTS; i++) {
      forge(s, { node: `ghost-${i}`, kinds });
      await s.attacker.flush();
      expect((await askInTime(child)).pings).to.equal(1);
    }
    // Every node has read every forged notice (and refused it) before memory is measured.
    await eventually("all three nodes to have refused every forged notice", () => [s.home, s.n1, s.n2].every((n) => n.heartbeatsRefused()["kinds-over-limit"] >= GHOSTS), 10_000);
    const grownBytes = heapUsed() - heapBefore;
    console.log(`      heap growth after ${GHOSTS} notices of 95,000 kinds, seen by 3 nodes: ${(grownBytes / 1024 / 1024).toFixed(1)} MiB`);
    expect(grownBytes, "heap growth (bytes)").to.be.below(24 * 1024 * 1024);
    expect(s.home.nodes().map((n) => n.node)).to.deep.equal(["home", "n1", "n2"]);
    expect((await askInTime(child)).pings).to.equal(1);
    for (const n of [s.home, s.n1, s.n2]) expect(n.heartbeatsRefused()["kinds-over-limit"], `refusals counted by ${n.nodeId}`).to.equal(GHOSTS);
  });
  it("membership attack: a forged 'n1 lost' is refused by every node, from a stranger (not a monitor) or from a real monitor (every node heard n1 lately)", async () => {
    const s = (scene = await start());
    const child = await childOnN1(s, s.home, s.home);
    const incarnation = s.home.nodes().find((n) => n.node === "n1")!.incarnation;
    forge(s, { node: "n1", incarnation, kinds: ["counter"] }, "lost", "ghost");
    forge(s, { node: "n1", incarnation, kinds: ["counter"] }, "lost", "n2");
    await s.attacker.flush();
    await eventually("both notices refused", () => s.home.heartbeatsRefused()["not-a-monitor"] >= 1 && s.home.heartbeatsRefused()["lost-contradicted"] >= 1, 5_000);
    await eventually("n2 refused the one naming a stranger", () => s.n2.heartbeatsRefused()["not-a-monitor"] >= 1, 5_000);
    expect(s.events.home.filter((e) => e !== "joined n1" && e.endsWith(" n1")), "home's events about n1").to.deep.equal([]);
    expect((await askInTime(child)).pings, "the child on n1 kept its state").to.equal(1);
  });

  it("membership attack: a forged roster read in a digest repair plants no ghost and bumps no incarnation: home believes only what the nodes answer", async () => {
    const s = (scene = await start());
    const child = await childOnN1(s, s.home, s.home);
    const n1 = s.home.nodes().find((n) => n.node === "n1")!;
    const n2 = s.home.nodes().find((n) => n.node === "n2")!;
    // The attacker's roster: a ghost, and n1 restarted (another incarnation, a later start). It lacks
    // home, so home tells the attacker its digest once the repair is done.
    const page = RosterPage.encode({
      nodes: [
        { node: "ghost", incarnation: "forged", startedAtMs: Date.now(), kinds: ["counter"], system: s.system },
        { node: "n1", incarnation: "forged-restart", startedAtMs: Date.now() + 60_000, kinds: ["counter"], system: s.system, server: n1.server ?? "" },
        { node: "n2", incarnation: n2.incarnation, startedAtMs: n2.startedAtMs, kinds: [...n2.kinds], system: s.system, server: n2.server ?? "" },
      ],
      total: 3,
      answerer: "attacker",
      system: s.system,
    }).finish();
    let rosterReads = 0;
    s.attacker.subscribe(`${s.home.subjects.membershipRoster}.attacker`, {
      callback: (_error, message) => {
        rosterReads++;
        message.respond(page);
      },
    });
    let digestsBack = 0;
    s.attacker.subscribe(s.home.subjects.membershipTo("attacker"), { callback: () => void digestsBack++ });
    await s.attacker.flush();
    s.attacker.publish(s.home.subjects.membershipTo("home"), MembershipDigest.encode({ node: "attacker", system: s.system, count: 9, xor: "0123456789abcdef" }).finish());
    await eventually("home's repair done (its digest back to the attacker)", () => digestsBack >= 1, 5_000);
    expect(rosterReads, "home read the attacker's roster").to.equal(1);
    // A restart claim would be believed after silenceMs (625 ms): proving it was not takes waiting past that.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(s.home.nodes().map((n) => n.node)).to.deep.equal(["home", "n1", "n2"]);
    expect(s.home.nodes().find((n) => n.node === "n1")?.incarnation).to.equal(n1.incarnation);
    expect(s.events.home.filter((e) => !e.startsWith("joined")), "home's membership events").to.deep.equal([]);
    expect((await askInTime(child)).pings, "the child on n1 kept its state").to.equal(1);
  });

  it("membership attack: 20,000 probes and strangers' heartbeats at one node are answered at a bounded rate and counted; it keeps answering", async () => {
    const s = (scene = await start());
    const child = await childOnN1(s, s.home, s.home);
    let answers = 0;
    const replies = `${s.home.subjects.root}.membership.to.prober`;
    s.attacker.subscribe(replies, { callback: () => void answers++ });
    const FLOOD = 20_000;
    const startedMs = Date.now();
    for (let i = 0; i < FLOOD; i++) {
      s.attacker.publish(s.home.subjects.membershipTo("n1"), encodeHeartbeat(heartbeat(s, { node: `stranger-${i % 100}` })), { reply: replies });
      if (i % 2_000 === 0) await s.attacker.flush();
    }
    await s.attacker.flush();
    expect((await askInTime(child)).pings).to.equal(1);
    await eventually("every probe refused or answered", () => s.n1.heartbeatsRefused()["over-rate"] + answers >= FLOOD - 2 * MAX_ANSWERS_PER_CHECK, 10_000);
    const periods = Math.ceil((Date.now() - startedMs) / 500) + 1;
    expect(answers, `answers in ${periods} check periods`).to.be.at.most(periods * MAX_ANSWERS_PER_CHECK);
    expect(s.n1.nodes().map((n) => n.node)).to.deep.equal(["home", "n1", "n2"]);
    for (const id of ["home", "n1", "n2"] as const) expect(s.events[id].filter((e) => !e.startsWith("joined")), `${id}'s events`).to.deep.equal([]);
  });
});
