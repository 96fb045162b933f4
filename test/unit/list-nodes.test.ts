import { expect } from "chai";
import { ActorSystem, MemoryNetwork } from "../../runtime/index.js";
import { listNodes } from "../../runtime/membership/list-nodes.js";
import type { NodeInfo } from "../../runtime/membership/node-table.js";
import { serveRoster } from "../../runtime/membership/roster.js";
import { Subjects } from "../../runtime/subjects.js";
import type { Unsubscribe } from "../../runtime/transport/transport.js";
import { eventually } from "../helpers/conditions.js";

const SUBJECT = new Subjects("troupe", "unit").membershipRoster;

describe("listNodes: a system's nodes from one member's roster (in-memory network)", () => {
  let network: MemoryNetwork;
  let stops: Unsubscribe[];

  beforeEach(() => {
    network = new MemoryNetwork();
    stops = [];
  });
  afterEach(() => stops.forEach((stop) => stop()));

  it("listNodes: lists the nodes of running systems without joining, with the total", async () => {
    const nodes = await Promise.all(["a", "b"].map((nodeId) => ActorSystem.start({ name: "unit", nodeId, transport: network.connect(nodeId) })));
    try {
      await eventually("a and b see each other", () => nodes.every((n) => n.nodes().length === 2));
      const listing = await listNodes(network.connect("cli"), SUBJECT, { system: "unit" });
      expect(listing.nodes.map((n) => [n.node, n.self])).to.deep.equal([
        ["a", false],
        ["b", false],
      ]);
      expect(listing.total).to.equal(2);
      expect(["a", "b"]).to.include(listing.answerer);
      expect(listing.next).to.equal(undefined);
      expect(listing.complete).to.equal(true);
    } finally {
      await Promise.all(nodes.map((n) => n.shutdown()));
    }
  });

  it("listNodes: pages with limit and after through 10,000 members, one request per 1,000", async () => {
    const members: NodeInfo[] = Array.from({ length: 10_000 }, (_, i) => ({ node: `n${String(i).padStart(5, "0")}`, incarnation: "i", startedAtMs: 0, kinds: [], actorCount: 0, lastSeenMs: 0, self: false }));
    const transport = network.connect("member");
    let requests = 0;
    stops.push(serveRoster({ transport, subject: SUBJECT, system: "unit", nodeId: "member", nodes: () => (requests++, members) }));
    const cli = network.connect("cli");
    const first = await listNodes(cli, SUBJECT, { system: "unit", limit: 2_500 });
    expect(first.nodes).to.have.length(2_500);
    expect(first.total).to.equal(10_000);
    expect(first.next).to.equal("n02499");
    expect(requests).to.equal(3);
    const last = await listNodes(cli, SUBJECT, { system: "unit", limit: 2_500, after: "n07499" });
    expect(last.nodes.map((n) => n.node)).to.deep.equal(members.slice(7_500).map((n) => n.node));
    expect(last.next).to.equal(undefined);
  });

  it("listNodes: nobody answering is an empty listing with no answerer", async () => {
    const listing = await listNodes(network.connect("cli"), SUBJECT, { system: "unit", waitMs: 200 });
    expect(listing).to.deep.equal({ nodes: [], total: 0, answerer: undefined, next: undefined, complete: false, refused: 0 });
  });

  it("listNodes: a listing cut off by the wait says it is incomplete, and where to go on from", async () => {
    const members: NodeInfo[] = ["a", "b", "c", "d", "e"].map((node) => ({ node, incarnation: "i", startedAtMs: 0, kinds: [], actorCount: 0, lastSeenMs: 0, self: false }));
    // Two nodes a page, and one answer a second: the second page is refused, and the wait runs out.
    const refused: string[] = [];
    stops.push(serveRoster({ transport: network.connect("member"), subject: SUBJECT, system: "unit", nodeId: "member", nodes: () => members, maxPage: 2, maxAnswersPerSecond: 1, onRefused: (reason) => refused.push(reason) }));
    const listing = await listNodes(network.connect("cli"), SUBJECT, { system: "unit", waitMs: 300 });
    expect(refused).to.deep.equal(["over-rate"]);
    expect(listing.nodes.map((n) => n.node)).to.deep.equal(["a", "b"]);
    expect(listing).to.include({ total: 5, answerer: "member", complete: false, next: "b" });
  });

  it("listNodes: a roster longer than the limit with a refused node is an incomplete listing, with where to go on from", async () => {
    // "bad id" sorts between b and c, and is refused by the reader: the first 3 usable nodes are a, b, c.
    const members: NodeInfo[] = ["a", "b", "bad id", "c", "d"].map((node) => ({ node, incarnation: "i", startedAtMs: 0, kinds: [], actorCount: 0, lastSeenMs: 0, self: false }));
    stops.push(serveRoster({ transport: network.connect("member"), subject: SUBJECT, system: "unit", nodeId: "member", nodes: () => members }));
    const invalid: string[] = [];
    const listing = await listNodes(network.connect("cli"), SUBJECT, { system: "unit", limit: 3, onInvalid: (detail) => invalid.push(detail) });
    expect(invalid).to.have.length(1);
    expect(listing.nodes.map((n) => n.node)).to.deep.equal(["a", "b", "c"]);
    expect(listing).to.include({ total: 5, complete: false, next: "c", refused: 1 });
  });

  it("listNodes: a limit that is not a whole number of at least 1 is a RangeError, before anything is asked", async () => {
    let asked = 0;
    const members: NodeInfo[] = [{ node: "a", incarnation: "i", startedAtMs: 0, kinds: [], actorCount: 0, lastSeenMs: 0, self: false }];
    stops.push(serveRoster({ transport: network.connect("member"), subject: SUBJECT, system: "unit", nodeId: "member", nodes: () => (asked++, members) }));
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      const error = await listNodes(network.connect("cli"), SUBJECT, { system: "unit", limit, waitMs: 300 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, `limit ${limit}`).to.be.instanceOf(RangeError);
      expect((error as Error).message).to.equal(`limit must be a whole number of at least 1, got ${limit}`);
    }
    expect(asked).to.equal(0);
  });

  it("listNodes: a listing whose page brought no usable node says it is incomplete, with no next page", async () => {
    // The member's only node has an id that is not one: refused, and the listing has nothing to go on from.
    const forged: NodeInfo = { node: "bad id", incarnation: "i", startedAtMs: 0, kinds: [], actorCount: 0, lastSeenMs: 0, self: false };
    stops.push(serveRoster({ transport: network.connect("member"), subject: SUBJECT, system: "unit", nodeId: "member", nodes: () => [forged] }));
    const invalid: string[] = [];
    const listing = await listNodes(network.connect("cli"), SUBJECT, { system: "unit", waitMs: 300, onInvalid: (detail) => invalid.push(detail) });
    expect(invalid).to.have.length(1);
    expect(listing).to.deep.include({ nodes: [], answerer: "member", complete: false, next: undefined });
  });
});
