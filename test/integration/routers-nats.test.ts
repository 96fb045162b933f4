import { expect } from "chai";
import {
  ActorSystem,
  broadcast,
  connectNats,
  consistentHash,
  defineActor,
  random,
  roundRobin,
  smallestMailbox,
  type ActorRef,
  type EmbeddedNats,
  type RoutingStrategy,
} from "../../runtime/index.js";
import { Ping, Pong } from "../../examples/ping-pong/messages.js";
import { eventually } from "../helpers/conditions.js";
import { natsServerFor } from "../helpers/nats.js";

const SYSTEM = "it-routers";

/** Answers each Ping with a Pong whose `node` names the routee and how many Pings it had handled: `<address>#<n>`. */
const numberedRoutee = defineActor({
  kind: "numbered-routee",
  messages: { Ping },
  init: () => ({ handled: 0 }),
  handlers: {
    Ping: (state, ping, ctx) => {
      ctx.reply(Pong.create({ seq: ping.seq, node: `${ctx.self.toString()}#${state.handled + 1}` }));
      return { handled: state.handled + 1 };
    },
  },
});

interface Answer {
  readonly seq: number;
  readonly routee: string;
  readonly nth: number;
}

describe("routers over a real nats-server: a pool on two other nodes, by kind (integration)", function () {
  this.timeout(60_000);
  let server: EmbeddedNats;
  let nodes: ActorSystem[];

  before(async function () {
    server = await natsServerFor(this);
    nodes = [];
    for (const nodeId of ["n1", "n2", "n3"]) {
      const kinds = nodeId === "n1" ? [] : [numberedRoutee];
      nodes.push(await ActorSystem.start({ name: SYSTEM, nodeId, transport: await connectNats({ servers: server.url }), types: [Ping, Pong], kinds }));
    }
    await eventually("n1 sees three nodes", () => nodes[0]!.nodes().length === 3);
  });
  after(async () => {
    await Promise.all((nodes ?? []).map((n) => n.shutdown()));
    await server?.stop();
  });

  let seqBase = 0;
  /** A router named `name` on n1 over two routees on each of n2 and n3; `n` asks from n3's side (a remote asker), all at once. */
  async function askThrough(name: string, strategy: RoutingStrategy<Ping>, n: number): Promise<Answer[]> {
    const n1 = nodes[0]!;
    const router = n1.spawn(n1.defineRouter<Ping>({ strategy, routees: { pool: { definition: numberedRoutee, perNode: 2 } } }), { name });
    await eventually("four routees on n2 and n3", () => nodes.slice(1).flatMap((n) => n.actors()).filter((a) => a.path.startsWith(`/remote/n1/user/${name}/`)).length === 4);
    const remote: ActorRef<Ping> = nodes[2]!.refFor(router.address);
    const base = (seqBase += 10_000);
    const pongs = await Promise.all(Array.from({ length: n }, (_, i) => remote.ask(Ping.create({ seq: base + i }), Pong, { timeoutMs: 10_000 })));
    await n1.stop(router);
    return pongs.map((p) => {
      const [routee, nth] = p.node.split("#") as [string, string];
      return { seq: p.seq - base, routee, nth: Number(nth) };
    });
  }

  const counts = (answers: readonly Answer[]): number[] => {
    const byRoutee = new Map<string, number>();
    for (const a of answers) byRoutee.set(a.routee, (byRoutee.get(a.routee) ?? 0) + 1);
    return [...byRoutee.values()].sort((x, y) => x - y);
  };

  it("round-robin: 400 asks from another node reach the four routees 100 times each, every answer accepted", async () => {
    const answers = await askThrough("rr", roundRobin(), 400);
    expect(answers.map((a) => a.seq)).to.deep.equal(Array.from({ length: 400 }, (_, i) => i));
    expect(counts(answers)).to.deep.equal([100, 100, 100, 100]);
    expect(new Set(answers.map((a) => a.routee.split("@")[1]!.split("/")[0]))).to.deep.equal(new Set(["n2", "n3"]));
  });

  it("random: 400 asks reach all four routees", async () => {
    const answers = await askThrough("rnd", random(), 400);
    const spread = counts(answers);
    expect(spread).to.have.length(4);
    expect(spread[0]).to.be.greaterThan(40);
  });

  it("smallest-mailbox: 400 asks at once spread over all four routees by unanswered asks", async () => {
    const spread = counts(await askThrough("small", smallestMailbox(), 400));
    expect(spread).to.have.length(4);
    expect(spread[0]).to.be.greaterThan(50);
  });

  it("consistent-hash: each key's asks reach one routee, which handles them in the order sent", async () => {
    const answers = await askThrough("hash", consistentHash<Ping>((ping) => `user-${ping.seq % 10}`), 400);
    for (let key = 0; key < 10; key++) {
      const ofKey = answers.filter((a) => a.seq % 10 === key);
      expect(new Set(ofKey.map((a) => a.routee)).size, `key ${key}`).to.equal(1);
      const nths = ofKey.map((a) => a.nth);
      expect(nths, `key ${key} handled in order`).to.deep.equal([...nths].sort((x, y) => x - y));
    }
    expect(counts(answers).length).to.be.greaterThan(1);
  });

  it("broadcast: each ask reaches all four routees, in order, and is answered once", async () => {
    const n1 = nodes[0]!;
    const router = n1.spawn(n1.defineRouter<Ping>({ strategy: broadcast(), routees: { pool: { definition: numberedRoutee, perNode: 2 } } }), { name: "all" });
    const routees = () => nodes.slice(1).flatMap((n) => n.actors().filter((a) => a.path.startsWith("/remote/n1/user/all/")).map((a) => n.refFor<Ping>({ system: SYSTEM, node: n.nodeId, path: a.path })));
    await eventually("four routees on n2 and n3", () => routees().length === 4);
    const remote: ActorRef<Ping> = nodes[2]!.refFor(router.address);
    const pongs = await Promise.all(Array.from({ length: 50 }, (_, i) => remote.ask(Ping.create({ seq: i }), Pong, { timeoutMs: 10_000 })));
    expect(pongs.map((p) => p.seq)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
    // Each routee handled all fifty: asked directly now, it answers as its 51st.
    const direct = await Promise.all(routees().map((ref) => ref.ask(Ping.create({ seq: 99 }), Pong, { timeoutMs: 10_000 })));
    expect(direct.map((p) => p.node.split("#")[1])).to.deep.equal(["51", "51", "51", "51"]);
    expect(nodes[2]!.deadLetters.countOf("late-reply") + nodes[2]!.deadLetters.countOf("forged-reply")).to.equal(0);
    await n1.stop(router);
  });
});
