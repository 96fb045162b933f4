import { expect } from "chai";
import { actorListPages, type ActorListEntry } from "../../runtime/introspection/actor-list-pages.js";
import { troupe } from "../../proto/gen/troupe.js";

const actors = (n: number): ActorListEntry[] =>
  Array.from({ length: n }, (_, i) => ({ path: `/user/worker-${i}/child-${i % 7}`, kind: i % 3 ? "counter" : "", restarts: i % 5 ? 0 : 4_000_000_000, mailboxSize: i % 11 }));

describe("actor list pages", () => {
  it("actor list pages: 100,000 actors become pages under the size limit that together hold every actor, each saying its number and the total", () => {
    const all = actors(100_000);
    const pages = actorListPages("node-1", all, 1024 * 1024);
    expect(pages.length).to.be.within(4, 6);
    const decoded = pages.map((bytes) => {
      expect(bytes.length).to.be.at.most(1024 * 1024);
      return troupe.system.ActorList.decode(bytes);
    });
    expect(decoded.map((p) => [p.node, p.page, p.pages, p.total])).to.deep.equal(decoded.map((_, i) => ["node-1", i + 1, pages.length, 100_000]));
    expect(decoded.flatMap((p) => p.actors.map((a) => a.path))).to.deep.equal(all.map((a) => a.path));
    // Full pages: the size estimate is close, not wildly cautious.
    for (const bytes of pages.slice(0, -1)) expect(bytes.length).to.be.above(1000 * 1024);
  });

  it("actor list pages: a tight limit still gives pages under it; an entry too large for any page is left out and shows in the total", () => {
    const all = [...actors(50), { path: `/user/${"x".repeat(500)}`, kind: "big", restarts: 0, mailboxSize: 0 }];
    const pages = actorListPages("n", all, 300);
    for (const bytes of pages) expect(bytes.length).to.be.at.most(300);
    const decoded = pages.map((bytes) => troupe.system.ActorList.decode(bytes));
    expect(decoded.reduce((n, p) => n + p.actors.length, 0)).to.equal(50);
    expect(decoded.every((p) => p.total === 51 && p.pages === pages.length)).to.equal(true);
  });

  it("actor list pages: each actor's processed count and the node's totals arrive whole on every page, also past 2^32, within the limit", () => {
    const all = actors(40).map((a, i) => ({ ...a, processed: i === 0 ? 2 ** 40 + 1 : i }));
    const totals = { deadLetters: 7, restarts: 2 ** 33, processed: 2 ** 45 };
    const pages = actorListPages("n", all, 400, totals);
    expect(pages.length).to.be.above(1);
    for (const bytes of pages) expect(bytes.length).to.be.at.most(400);
    const decoded = pages.map((bytes) => troupe.system.ActorList.decode(bytes));
    expect(decoded.flatMap((p) => p.actors.map((a) => a.processed))).to.deep.equal(all.map((a) => a.processed));
    for (const p of decoded) expect([p.deadLetters, p.restarts, p.processed]).to.deep.equal([7, 2 ** 33, 2 ** 45]);
  });

  it("actor list pages: a node without actors still answers, with one empty page", () => {
    const [page, ...rest] = actorListPages("n", [], 1024);
    expect(rest).to.deep.equal([]);
    const decoded = troupe.system.ActorList.decode(page!);
    expect([decoded.node, decoded.actors.length, decoded.page, decoded.pages, decoded.total]).to.deep.equal(["n", 0, 1, 1, 0]);
  });
});
