import { expect } from "chai";
import { troupe } from "../../proto/gen/troupe.js";
import { actorListPages } from "../../runtime/introspection/actor-list-pages.js";
import { listActors } from "../../runtime/introspection/list-actors.js";
import { Subjects } from "../../runtime/subjects.js";
import { MemoryNetwork } from "../../runtime/transport/memory-network.js";
import type { Transport, Unsubscribe } from "../../runtime/transport/transport.js";

const subjects = new Subjects("troupe", "unit");

describe("listActors: asks the nodes it is given, each on its own subject (in-memory network)", () => {
  let network: MemoryNetwork;
  let stops: Unsubscribe[];
  let reader: Transport;

  beforeEach(() => {
    network = new MemoryNetwork();
    stops = [];
    reader = network.connect("reader");
  });
  afterEach(() => stops.forEach((stop) => stop()));

  /** A node answering on its actors subject with `actors` actors, counting how many requests are open at once. */
  const fakeNode = (node: string, actors: number, load: { open: number; most: number; asked: string[] }, answer = true): void => {
    const transport = network.connect(node);
    stops.push(
      transport.subscribe(subjects.actorsOf(node), (m) => {
        load.asked.push(node);
        load.most = Math.max(load.most, ++load.open);
        if (!answer) return;
        // Answer a moment later, so that several requests are open together when concurrency allows.
        setTimeout(() => {
          load.open--;
          const entries = Array.from({ length: actors }, (_, i) => ({ path: `/user/a${i}`, kind: "k", restarts: 0, mailboxSize: 0 }));
          for (const page of actorListPages(node, entries, 1_024)) transport.publish(m.reply!, page);
        }, 5);
      }),
    );
  };

  it("listActors: asks only the nodes given, at most `concurrency` at a time, and gathers every page", async () => {
    const load = { open: 0, most: 0, asked: [] as string[] };
    const nodes = Array.from({ length: 40 }, (_, i) => `n${String(i).padStart(2, "0")}`);
    for (const node of nodes) fakeNode(node, 30, load);
    fakeNode("not-in-the-page", 1, load);
    const listing = await listActors(reader, (node) => subjects.actorsOf(node), nodes, { concurrency: 4, waitMs: 2_000 });
    expect(load.most).to.be.at.most(4);
    expect(load.asked.sort()).to.deep.equal(nodes);
    expect(listing.actors).to.have.length(40 * 30);
    expect(listing.answered).to.deep.equal(nodes);
    expect(listing.silent).to.deep.equal([]);
  });

  it("listActors: a silent node is reported after the wait, and does not hold up the others", async () => {
    const load = { open: 0, most: 0, asked: [] as string[] };
    fakeNode("a", 2, load);
    fakeNode("quiet", 2, load, false);
    fakeNode("b", 2, load);
    const started = Date.now();
    const listing = await listActors(reader, (node) => subjects.actorsOf(node), ["a", "quiet", "b"], { concurrency: 2, waitMs: 300 });
    expect(Date.now() - started).to.be.below(1_000);
    expect(listing.answered).to.deep.equal(["a", "b"]);
    expect(listing.silent).to.deep.equal(["quiet"]);
    expect(listing.actors).to.have.length(4);
  });

  it("listActors: answers from nodes not asked, malformed ones and inconsistent pages are refused", async () => {
    const forger = network.connect("forger");
    const invalid: string[] = [];
    stops.push(
      forger.subscribe(subjects.actorsOf("a"), (m) => {
        forger.publish(m.reply!, troupe.system.ActorList.encode({ node: "ghost", actors: [{ path: "/user/evil" }], page: 1, pages: 1, total: 1 }).finish());
        forger.publish(m.reply!, Uint8Array.from([0xff, 0xff]));
        forger.publish(m.reply!, troupe.system.ActorList.encode({ node: "a", actors: [{ path: "/user/real" }], page: 1, pages: 2, total: 2 }).finish());
        forger.publish(m.reply!, troupe.system.ActorList.encode({ node: "a", actors: [{ path: "/user/forged" }], page: 2, pages: 3, total: 2 }).finish());
        forger.publish(m.reply!, troupe.system.ActorList.encode({ node: "a", actors: [{ path: "/user/real2" }], page: 2, pages: 2, total: 2 }).finish());
      }),
    );
    const listing = await listActors(reader, (node) => subjects.actorsOf(node), ["a"], { waitMs: 1_000, onInvalid: (d) => invalid.push(d) });
    expect(listing.actors.map((a) => a.path)).to.deep.equal(["/user/real", "/user/real2"]);
    expect(invalid).to.have.length(3);
    expect(invalid[0]).to.include('node "ghost", which was not asked');
  });

  it("listActors: no nodes, no requests", async () => {
    expect(await listActors(reader, (node) => subjects.actorsOf(node), [])).to.deep.equal({ actors: [], answered: [], silent: [] });
  });
});
