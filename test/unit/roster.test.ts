import { expect } from "chai";
import { NodeHeartbeat, RosterPage, RosterRequest } from "../../runtime/codec/wire-types.js";
import type { NodeInfo } from "../../runtime/membership/node-table.js";
import { fetchRoster, serveRoster, type Roster, type RosterRefusal } from "../../runtime/membership/roster.js";
import { Subjects } from "../../runtime/subjects.js";
import { ManualClock } from "../../runtime/testkit/manual-clock.js";
import { MemoryNetwork } from "../../runtime/transport/memory-network.js";
import type { Transport, Unsubscribe } from "../../runtime/transport/transport.js";
import { eventually, settle } from "../helpers/conditions.js";

const SYSTEM = "unit";
const SUBJECT = new Subjects("troupe", SYSTEM).membershipRoster;

function nodeInfo(i: number, kinds: string[] = ["worker"]): NodeInfo {
  return { node: `n${String(i).padStart(5, "0")}`, incarnation: `inc-${i}`, startedAtMs: 1_000 + i, kinds, actorCount: i % 7, lastSeenMs: 0, self: false, server: `server-${i % 3}` };
}

describe("roster (in-memory network)", () => {
  let network: MemoryNetwork;
  let stops: Unsubscribe[];
  let reader: Transport;

  beforeEach(() => {
    network = new MemoryNetwork();
    stops = [];
    reader = network.connect("reader");
  });
  afterEach(() => stops.forEach((stop) => stop()));

  const serve = (nodeId: string, nodes: () => readonly NodeInfo[], extra: { maxPage?: number; onRefused?: (reason: RosterRefusal, detail: string) => void; system?: string } = {}): Transport => {
    const transport = network.connect(nodeId);
    stops.push(serveRoster({ transport, subject: SUBJECT, system: extra.system ?? SYSTEM, nodeId, nodes, maxPage: extra.maxPage, onRefused: extra.onRefused }));
    return transport;
  };

  it("roster: pages through 2,500 members at 1,000 a page, from one answerer, in node id order", async () => {
    const members = Array.from({ length: 2_500 }, (_, i) => nodeInfo(i));
    const requests: { answerer: string; after: string; limit: number }[] = [];
    for (const id of ["a", "b", "c"]) {
      const transport = serve(id, () => members);
      // Watch what each member is asked (the queue group spreads first pages; follow-ups must stay on one).
      stops.push(transport.subscribe(`${SUBJECT}.${id}`, (m) => requests.push({ answerer: id, ...RosterRequest.decode(m.data) })));
    }
    const roster = await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 5_000, maxNodes: 10_000, pageSize: 5_000 });
    expect(roster).to.not.equal(undefined);
    expect(roster!.nodes.map((n) => n.node)).to.deep.equal(members.map((n) => n.node));
    expect(roster!.total).to.equal(2_500);
    expect(roster!.complete).to.equal(true);
    expect(roster!.nodes[1234]).to.include({ incarnation: "inc-1234", startedAtMs: 2_234, actorCount: 1234 % 7, self: false });
    expect(roster!.nodes[1234]!.kinds).to.deep.equal(["worker"]);
    expect(roster!.nodes[1234]!.server).to.equal("server-1");
    // Asked for 5,000 a page, served 1,000 (the cap): two follow-ups, both to the first page's answerer.
    expect(requests.map((r) => r.answerer)).to.deep.equal([roster!.answerer, roster!.answerer]);
    expect(requests.map((r) => r.after)).to.deep.equal(["n00999", "n01999"]);
  });

  it("roster: reads every page from the member named, past 1,000 members, and nobody else's", async () => {
    const members = Array.from({ length: 3_500 }, (_, i) => nodeInfo(i));
    const asked: string[] = [];
    for (const id of ["a", "b", "c"]) {
      const transport = serve(id, () => (id === "b" ? members : members.slice(0, 10)));
      stops.push(transport.subscribe(`${SUBJECT}.${id}`, () => asked.push(id)));
    }
    const roster = await fetchRoster(reader, SUBJECT, { member: "b", system: SYSTEM, timeoutMs: 5_000, maxNodes: 10_000 });
    expect(roster!.answerer).to.equal("b");
    expect(roster!.nodes.map((n) => n.node)).to.deep.equal(members.map((n) => n.node));
    expect(roster!.complete).to.equal(true);
    expect(asked).to.deep.equal(["b", "b", "b", "b"]);
  });

  it("roster: a member named that does not answer ends the reading, without asking the others", async () => {
    serve("a", () => [nodeInfo(1)]);
    const started = Date.now();
    expect(await fetchRoster(reader, SUBJECT, { member: "gone", system: SYSTEM, timeoutMs: 300, maxNodes: 100 })).to.equal(undefined);
    expect(Date.now() - started).to.be.below(2_000);
  });

  it("roster: stops at maxNodes and says the roster is incomplete", async () => {
    const members = Array.from({ length: 2_500 }, (_, i) => nodeInfo(i));
    serve("a", () => members);
    const roster = await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 5_000, maxNodes: 1_500 });
    expect(roster!.nodes).to.have.length(1_500);
    expect(roster!.nodes.at(-1)!.node).to.equal("n01499");
    expect(roster!.total).to.equal(2_500);
    expect(roster!.complete).to.equal(false);
  });

  it("roster: a page with more nodes than asked for has only those asked for decoded (bounded cost), and is incomplete", async () => {
    const forger = network.connect("forger");
    // The 10 asked for, then 5,000 more that would each be refused (and reported) if they were decoded.
    const entries = [...Array.from({ length: 10 }, (_, i) => ({ node: `n${i}`, incarnation: "i", system: SYSTEM })), ...Array.from({ length: 5_000 }, () => ({ node: "bad.node", incarnation: "i" }))];
    const page = RosterPage.encode({ nodes: entries.map((n) => NodeHeartbeat.create(n)), total: entries.length, answerer: "forger", system: SYSTEM }).finish();
    stops.push(forger.subscribe(SUBJECT, (m) => forger.publish(m.reply!, page)));
    const invalid: string[] = [];
    const roster = await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 2_000, maxNodes: 10, onInvalid: (d) => invalid.push(d) });
    expect(roster!.nodes.map((n) => n.node)).to.deep.equal(Array.from({ length: 10 }, (_, i) => `n${i}`));
    expect(roster!.complete).to.equal(false);
    expect(invalid).to.deep.equal(["roster: page from forger holds 5000 nodes more than the 10 asked for: not read"]);
  });

  it("roster: keeps each page under the transport's max payload", async () => {
    network = new MemoryNetwork(64 * 1024);
    reader = network.connect("reader");
    const kinds = Array.from({ length: 40 }, (_, k) => `kind-with-a-long-name-${k}`);
    const members = Array.from({ length: 300 }, (_, i) => nodeInfo(i, kinds));
    serve("a", () => members);
    const roster = await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 5_000, maxNodes: 1_000 });
    expect(roster!.nodes).to.have.length(300);
    expect(roster!.complete).to.equal(true);
  });

  it("roster: sorts a view that is not in node id order before paging", async () => {
    const members = [nodeInfo(3), nodeInfo(1), nodeInfo(2)];
    serve("a", () => members, { maxPage: 2 });
    const roster = await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 5_000, maxNodes: 10 });
    expect(roster!.nodes.map((n) => n.node)).to.deep.equal(["n00001", "n00002", "n00003"]);
  });

  it("roster: resolves undefined when no member answers", async () => {
    const started = Date.now();
    expect(await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 2_000, maxNodes: 10 })).to.equal(undefined);
    expect(Date.now() - started).to.be.below(1_000); // no responders: at once, not after the timeout
  });

  it("roster: a reading runs on the clock passed in: its nodes are seen at the clock's time, and a member that never answers ends it once the clock has passed timeoutMs", async function () {
    this.timeout(5_000);
    serve("a", () => [nodeInfo(1)]);
    const read = await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 5_000, maxNodes: 10, clock: new ManualClock(5_000) });
    expect(read!.nodes[0]!.lastSeenMs).to.equal(5_000);
    // Requests the network neither answers nor times out, and an inbox nobody answers: only the clock ends them.
    const stalled: Transport = {
      description: reader.description,
      maxPayload: reader.maxPayload,
      publish: (...args) => reader.publish(...args),
      subscribe: (...args) => reader.subscribe(...args),
      queueSubscribe: (...args) => reader.queueSubscribe(...args),
      request: () => new Promise<Uint8Array>(() => {}),
      flush: () => reader.flush(),
      onEvent: (...args) => reader.onEvent(...args),
      close: () => reader.close(),
      closed: () => reader.closed(),
    };
    stops.push(network.connect("silent").subscribe(`${SUBJECT}.silent`, () => {}));
    for (const inboxPrefix of [undefined, "_INBOX.reader"]) {
      const clock = new ManualClock(0);
      let result: Roster | undefined | "pending" = "pending";
      const reading = fetchRoster(stalled, SUBJECT, { member: "silent", system: SYSTEM, timeoutMs: 60_000, maxNodes: 10, clock, inboxPrefix }).then((roster) => (result = roster));
      await settle();
      clock.advance(59_999);
      await settle();
      expect(result, `before the timeout (inbox ${inboxPrefix ?? "of the transport"})`).to.equal("pending");
      clock.advance(1);
      await reading;
      expect(result).to.equal(undefined);
    }
  });

  it("roster: a member refuses another system's request, malformed bytes and requests without a reply subject", async () => {
    const refused: RosterRefusal[] = [];
    serve("a", () => [nodeInfo(1)], { onRefused: (reason) => refused.push(reason) });
    const answers: Uint8Array[] = [];
    stops.push(reader.subscribe("_INBOX.test", (m) => answers.push(m.data)));
    reader.publish(SUBJECT, RosterRequest.encode({ system: "other", after: "", limit: 10 }).finish(), "_INBOX.test");
    reader.publish(SUBJECT, Uint8Array.from([0xff, 0xff, 0xff, 0xff]), "_INBOX.test");
    reader.publish(SUBJECT, new Uint8Array(5_000), "_INBOX.test");
    reader.publish(SUBJECT, RosterRequest.encode({ system: SYSTEM }).finish());
    await eventually("four refusals", () => refused.length === 4);
    expect(refused.sort()).to.deep.equal(["foreign-system", "malformed", "malformed", "no-reply-subject"]);
    expect(answers).to.deep.equal([]);
    // And it still answers a proper request afterwards.
    const roster = await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 2_000, maxNodes: 10 });
    expect(roster!.nodes.map((n) => n.node)).to.deep.equal(["n00001"]);
  });

  it("roster: a reader refuses pages of another system, forged answerers and invalid nodes", async () => {
    const invalid: string[] = [];
    const forger = network.connect("forger");
    const pages = [
      RosterPage.encode({ nodes: [NodeHeartbeat.create({ node: "n1", incarnation: "i" })], total: 1, answerer: "x", system: "other" }).finish(),
      RosterPage.encode({ nodes: [NodeHeartbeat.create({ node: "n1", incarnation: "i" })], total: 1, answerer: "not a node id", system: SYSTEM }).finish(),
      Uint8Array.from([0x0a, 0xff, 0xff]),
    ];
    let asked = 0;
    stops.push(forger.subscribe(SUBJECT, (m) => forger.publish(m.reply!, pages[asked++ % pages.length]!)));
    expect(await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 1_000, maxNodes: 10, onInvalid: (d) => invalid.push(d) })).to.equal(undefined);
    expect(asked).to.equal(3); // a few tries, then it gives up
    expect(invalid).to.have.length(3);
    expect(invalid[0]).to.include('system "other"');
    expect(invalid[1]).to.include("invalid node id");
    expect(invalid[2]).to.include("not a troupe.membership.RosterPage");
  });

  it("roster: leaves out nodes that fail the heartbeat checks, and nodes out of order", async () => {
    const forger = network.connect("forger");
    const bad = [
      { node: "n1", incarnation: "i", kinds: ["ok"], system: SYSTEM },
      { node: "bad.node", incarnation: "i", system: SYSTEM },
      { node: "n2", incarnation: "", system: SYSTEM },
      { node: "n3", incarnation: "i", kinds: ["no spaces allowed"], system: SYSTEM },
      { node: "n4", incarnation: "i", kinds: Array.from({ length: 300 }, (_, k) => `k${k}`), system: SYSTEM },
      { node: "n5", incarnation: "i", system: "other" },
      { node: "n0", incarnation: "i", system: SYSTEM }, // sorts before n1: out of order
      { node: "n6", incarnation: "i", kinds: ["fine"] },
    ];
    stops.push(
      forger.subscribe(SUBJECT, (m) => forger.publish(m.reply!, RosterPage.encode({ nodes: bad.map((n) => NodeHeartbeat.create(n)), total: bad.length, answerer: "forger", system: SYSTEM }).finish())),
    );
    const invalid: string[] = [];
    const roster = await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 2_000, maxNodes: 100, onInvalid: (d) => invalid.push(d) });
    expect(roster!.nodes.map((n) => n.node)).to.deep.equal(["n1", "n6"]);
    expect(roster!.complete).to.equal(false);
    expect(invalid).to.have.length(6);
  });

  it("roster: a follow-up page from another answerer is refused, and paging goes on from any member", async () => {
    const members = Array.from({ length: 30 }, (_, i) => nodeInfo(i));
    // A forger answering the first direct request to "a" (before "a" does) with a page claiming to be from someone else.
    const forger = network.connect("forger");
    let forged = 0;
    stops.push(
      forger.subscribe(`${SUBJECT}.a`, (m) => {
        if (forged++ > 0) return;
        forger.publish(m.reply!, RosterPage.encode({ nodes: [NodeHeartbeat.create({ node: "zzz", incarnation: "i", system: SYSTEM })], total: 1, answerer: "mallory", system: SYSTEM }).finish());
      }),
    );
    serve("a", () => members, { maxPage: 10 });
    const invalid: string[] = [];
    const roster = await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 3_000, maxNodes: 100, onInvalid: (d) => invalid.push(d) });
    expect(roster!.nodes.map((n) => n.node)).to.deep.equal(members.map((n) => n.node));
    expect(roster!.answerer).to.equal("a");
    expect(invalid.some((d) => d.includes("mallory"))).to.equal(true);
  });

  /** A member "forger" answering every request (on the roster subject and its own) with `answer(request)`, counted in `asked`. */
  const forge = (answer: (request: ReturnType<typeof RosterRequest.decode>) => Parameters<typeof RosterPage.create>[0]): { asked: number } => {
    const forger = network.connect("forger");
    const counts = { asked: 0 };
    for (const subject of [SUBJECT, `${SUBJECT}.forger`]) {
      stops.push(
        forger.subscribe(subject, (m) => {
          counts.asked++;
          forger.publish(m.reply!, RosterPage.encode(RosterPage.create({ answerer: "forger", system: SYSTEM, ...answer(RosterRequest.decode(m.data)) })).finish());
        }),
      );
    }
    return counts;
  };
  const beat = (node: string): ReturnType<typeof NodeHeartbeat.create> => NodeHeartbeat.create({ node, incarnation: "i", system: SYSTEM });

  it("roster: a node refused on the first of two pages leaves the whole roster incomplete, and is counted", async () => {
    forge((request) => (request.after === "" ? { nodes: [beat("n1"), beat("bad.node"), beat("n2")], total: 4, more: true } : { nodes: [beat("n3")], total: 4 }));
    const invalid: string[] = [];
    const roster = await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 2_000, maxNodes: 100, onInvalid: (d) => invalid.push(d) });
    expect(roster!.nodes.map((n) => n.node)).to.deep.equal(["n1", "n2", "n3"]);
    expect(invalid).to.have.length(1);
    expect(roster).to.include({ complete: false, refused: 1 });
  });

  it("roster: refusals are budgeted for the whole read: a member padding each new node with refused ones stops the read at the page size, reported once", async () => {
    // Every page: one new node after the one asked from, then nine that fail the checks, and "more follow".
    let next = 0;
    const counts = forge(() => ({ nodes: [beat(`n${String(++next).padStart(5, "0")}`), ...Array.from({ length: 9 }, () => beat("bad.node"))], total: 100_000, more: true }));
    const invalid: string[] = [];
    const roster = await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 5_000, maxNodes: 1_000, pageSize: 10, onInvalid: (d) => invalid.push(d) });
    // Page 1: one node, nine refused; page 2: one node, and the tenth refusal ends the read.
    expect(counts.asked).to.equal(2);
    expect(roster!.nodes.map((n) => n.node)).to.deep.equal(["n00001", "n00002"]);
    expect(roster).to.include({ complete: false, refused: 10 });
    expect(invalid).to.have.length(11);
    expect(invalid.filter((d) => d.includes("reading stopped"))).to.deep.equal(["roster: 10 nodes or pages refused, the most one reading tolerates: reading stopped"]);
  });

  it("roster: a page that says more follow but brings nothing usable ends the reading (bounded cost)", async () => {
    const forger = network.connect("forger");
    let asked = 0;
    stops.push(
      forger.subscribe(SUBJECT, (m) => {
        asked++;
        forger.publish(m.reply!, RosterPage.encode({ nodes: [], total: 5, more: true, answerer: "forger", system: SYSTEM }).finish());
      }),
    );
    const roster = await fetchRoster(reader, SUBJECT, { system: SYSTEM, timeoutMs: 2_000, maxNodes: 100 });
    expect(roster!.nodes).to.deep.equal([]);
    expect(roster!.complete).to.equal(false);
    expect(asked).to.equal(1);
  });
});
