import { expect } from "chai";
import { ActorSystem, AskTimeoutError, MemoryNetwork, addressFromWire, defineActor, type ActorRef } from "../../runtime/index.js";
import { Ping, Pong } from "../../examples/ping-pong/messages.js";

/** Answers a Ping with a Pong: as itself, or (`seq` odd) in the name of the actor that forwarded it, named in `replyTo`. */
const worker = defineActor({
  messages: { Ping },
  init: () => ({}),
  handlers: {
    Ping: (state, ping, ctx) => {
      const pong = Pong.create({ seq: ping.seq, node: ctx.nodeId });
      const router = addressFromWire(ping.replyTo);
      if (ping.seq % 2 === 1 && router) ctx.sender?.tell(pong, ctx.refFor(router));
      else ctx.reply(pong);
      return state;
    },
  },
});

/** Passes every Ping on to its worker with the original sender, naming itself as the one to answer for. */
const router = defineActor({
  messages: { Ping },
  init: (worker: ActorRef<Ping>) => ({ worker }),
  handlers: {
    Ping: (state, ping, ctx) => {
      state.worker.tell(Ping.create({ seq: ping.seq, replyTo: ctx.self.address }), ctx.sender);
      return state;
    },
  },
});

describe("asks answered by another actor (system tier, in-memory network)", () => {
  let network: MemoryNetwork;
  let nodes: ActorSystem[];

  beforeEach(async () => {
    network = new MemoryNetwork();
    nodes = await Promise.all(["a", "b", "c"].map((nodeId) => ActorSystem.start({ name: "fwd", nodeId, transport: network.connect(nodeId), types: [Ping, Pong], membership: false })));
  });
  afterEach(() => Promise.all(nodes.map((n) => n.shutdown())));

  for (const [where, asker, workerNode] of [
    ["on one node", 1, 1],
    ["across three nodes", 0, 2],
  ] as const) {
    it(`forwarding ${where}: a request passed on with its sender is answered when the worker replies in the router's name; a reply in the worker's own name is a forged reply`, async () => {
      const w = nodes[workerNode]!.spawn(worker, { name: "worker" });
      const r = nodes[1]!.spawn(router, { name: "router", props: nodes[1]!.refFor<Ping>(w.address) });
      const ref = nodes[asker]!.refFor<Ping>(r.address);
      expect((await ref.ask(Ping.create({ seq: 1 }), Pong, { timeoutMs: 2_000 })).seq).to.equal(1);
      const error = await ref.ask(Ping.create({ seq: 2 }), Pong, { timeoutMs: 200 }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(AskTimeoutError);
      expect(nodes[asker]!.deadLetters.countOf("forged-reply")).to.equal(1);
      expect(nodes[asker]!.deadLetters.recent().at(-1)?.detail).to.match(/not from troupe:\/\/fwd@b\/user\/router/);
    });
  }
});
