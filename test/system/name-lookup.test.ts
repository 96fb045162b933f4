import { expect } from "chai";
import { ActorSystem, MemoryNetwork } from "../../runtime/index.js";
import { LookupReply, LookupRequest, RosterRequest } from "../../runtime/codec/wire-types.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { player } from "../../examples/ping-pong/player.js";
import type { Transport } from "../../runtime/transport/transport.js";
import { eventually } from "../helpers/conditions.js";

describe("name lookup through per-name subjects (system tier, in-memory network)", () => {
  let network: MemoryNetwork;
  let nodes: ActorSystem[];
  let spy: Transport;
  /** Node a's `requestMany` calls that have ended, by subject. */
  let endedRequests: Map<string, number>;

  beforeEach(async () => {
    network = new MemoryNetwork();
    endedRequests = new Map();
    const connect = (nodeId: string): Transport =>
      nodeId === "a" ? whenRequestsEnd(network.connect(nodeId), (subject) => endedRequests.set(subject, (endedRequests.get(subject) ?? 0) + 1)) : network.connect(nodeId);
    nodes = await Promise.all(["a", "b", "c", "d"].map((nodeId) => ActorSystem.start({ name: "names", nodeId, transport: connect(nodeId), types: [Ping, Pong, GetStats, Stats] })));
    spy = network.connect("spy");
  });
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.shutdown()));
    await spy.close();
  });

  const node = (id: string): ActorSystem => nodes.find((n) => n.nodeId === id)!;

  it("lookup: a request reaches only the node hosting the name, on the name's own subject", async () => {
    const ref = node("c").spawn(player, { name: "unique" });
    const subject = node("a").subjects.actorName("unique");
    expect(subject).to.equal("troupe.names.name.unique");
    const seen: string[] = [];
    spy.subscribe("troupe.names.>", (m) => seen.push(m.subject));
    const found = await node("a").lookup("unique");
    expect(found?.equals(ref)).to.equal(true);
    // One request on the name's subject (no broadcast subject); the answer came back on a's inbox.
    expect(seen.filter((s) => !s.includes("membership"))).to.deep.equal([subject]);
  });

  it("lookup: names with dots are one subject token, and found", async () => {
    const ref = node("b").spawn(player, { name: "v1.2.player" });
    const subject = node("a").subjects.actorName("v1.2.player");
    expect(subject.split(".")).to.have.length(4);
    expect((await node("a").lookup("v1.2.player"))?.equals(ref)).to.equal(true);
    expect(await node("a").lookup("v1.2", { timeoutMs: 100 })).to.equal(undefined);
  });

  it("lookup: the name's subscription goes when the actor stops, and comes back when it starts again elsewhere", async () => {
    const first = node("b").spawn(player, { name: "roaming" });
    expect((await node("a").lookup("roaming"))?.equals(first)).to.equal(true);
    await node("b").stop(first);
    expect(await node("a").lookup("roaming", { timeoutMs: 150 })).to.equal(undefined);
    // The node answers nothing for it any more, even when asked directly on the subject.
    await expectNoAnswer(spy, node("a").subjects.actorName("roaming"), "roaming");
    const second = node("d").spawn(player, { name: "roaming" });
    expect((await node("a").lookup("roaming"))?.equals(second)).to.equal(true);
    // And started again on b, under the same name, as a new actor: both hosts answer (one of them per lookup).
    const third = node("b").spawn(player, { name: "roaming" });
    const found = new Set<string>();
    for (let i = 0; i < 6; i++) found.add((await node("a").lookup("roaming"))!.address.node);
    expect([...found].sort()).to.deep.equal(["b", "d"]);
    await node("b").stop(third);
    await node("d").stop(second);
    expect(await node("a").lookup("roaming", { timeoutMs: 150 })).to.equal(undefined);
  });

  it("lookup: waits for a name that is not hosted yet, until its timeout", async () => {
    const pending = node("a").lookup("late", { timeoutMs: 2_000 });
    // Nobody hosts it yet: a's first request on the name's subject ends with no answer (no responders),
    // and the lookup asks again later. (A spy subscribed there would be a responder, and change that.)
    await eventually("a's first request for late to end unanswered", () => (endedRequests.get(node("a").subjects.actorName("late")) ?? 0) >= 1);
    const ref = node("c").spawn(player, { name: "late" });
    expect((await pending)?.equals(ref)).to.equal(true);
  });

  it("lookup: a request for another name than its subject's is not answered", async () => {
    node("b").spawn(player, { name: "here" });
    node("b").spawn(player, { name: "there" });
    await expectNoAnswer(spy, node("a").subjects.actorName("here"), "there");
  });
});

/**
 * `transport` as it is, except that `onEnded` is told each time one of its `requestMany` calls has
 * ended: it only delegates, so the node sends and receives exactly what it would without it.
 */
function whenRequestsEnd(transport: Transport, onEnded: (subject: string) => void): Transport {
  return new Proxy(transport, {
    get(target, key) {
      if (key === "requestMany" && target.requestMany) {
        const requestMany = target.requestMany.bind(target);
        return (...args: Parameters<typeof requestMany>) => requestMany(...args).finally(() => onEnded(args[0]));
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function expectNoAnswer(transport: Transport, subject: string, name: string): Promise<void> {
  const answers: LookupReply[] = [];
  const stop = transport.subscribe("_INBOX.spy", (m) => answers.push(LookupReply.decode(m.data)));
  transport.publish(subject, LookupRequest.encode({ name }).finish(), "_INBOX.spy");
  // A round trip to the nodes after the request (a roster page): any answer would have arrived before it.
  await transport.request("troupe.names.membership.roster", RosterRequest.encode({ system: "names", limit: 1 }).finish(), 1_000);
  stop();
  expect(answers).to.deep.equal([]);
}
