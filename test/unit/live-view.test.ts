import { expect } from "chai";
import type { NodeTotals } from "../../runtime/introspection/actor-list-pages.js";
import type { ActorReport } from "../../runtime/introspection/list-actors.js";
import type { NodeInfo } from "../../runtime/membership/node-table.js";
import { liveView } from "../../runtime/live/live-view.js";
import type { Sample } from "../../runtime/live/system-sampler.js";
import { topScreen } from "../../runtime/live/top-screen.js";

const node = (id: string, atMs: number): NodeInfo => ({ node: id, incarnation: "1", startedAtMs: atMs - 60_000, kinds: ["counter"], actorCount: 2, lastSeenMs: atMs - 100, self: false });
const actor = (nodeId: string, path: string, processed: number, mailboxSize = 0): ActorReport => ({ node: nodeId, path, kind: "counter", restarts: 0, mailboxSize, processed });
const sample = (atMs: number, actors: ActorReport[], totals: Record<string, NodeTotals>, nodes = Object.keys(totals)): Sample => ({
  atMs,
  nodes: nodes.map((id) => node(id, atMs)),
  actors,
  totals: new Map(Object.entries(totals)),
  missing: [],
});

describe("live view: rates from successive samples, and top's screen", () => {
  const first = sample(10_000, [actor("a", "/user/x", 100), actor("a", "/user/y", 50, 9), actor("b", "/user/z", 1_000)], {
    a: { processed: 150, deadLetters: 4, restarts: 1 },
    b: { processed: 5_000, deadLetters: 0, restarts: 0 },
  });
  const second = sample(12_000, [actor("a", "/user/x", 300), actor("a", "/user/y", 50, 9), actor("a", "/user/new", 10), actor("b", "/user/z", 10)], {
    a: { processed: 360, deadLetters: 10, restarts: 3 },
    b: { processed: 20, deadLetters: 0, restarts: 0 },
  });

  it("live view: the first sample has counters and no rates", () => {
    const view = liveView(undefined, first);
    expect(view.overSeconds).to.equal(undefined);
    expect(view.actors.every((a) => a.perSecond === undefined)).to.equal(true);
    expect(view.totals).to.deep.include({ nodes: 2, actors: 3, deadLetters: 4, restarts: 1, processedPerSecond: undefined, deadLettersPerSecond: undefined });
  });

  it("live view: rates are growth over the time between samples; a new actor, or a counter that went back (a restarted process), has none yet", () => {
    const view = liveView(first, second);
    expect(view.overSeconds).to.equal(2);
    expect(view.actors.map((a) => [a.path, a.perSecond])).to.deep.equal([
      ["/user/x", 100],
      ["/user/y", 0],
      ["/user/new", undefined],
      ["/user/z", undefined],
    ]);
    expect(view.nodes.map((n) => [n.node, n.processedPerSecond, n.deadLettersPerSecond, n.actors])).to.deep.equal([
      ["a", 105, 3, 3],
      ["b", undefined, 0, 1],
    ]);
    expect(view.totals).to.deep.include({ deadLetters: 10, deadLettersPerSecond: 3, restarts: 3, restartsPerSecond: 1, processedPerSecond: undefined });
  });

  it("live view: a node in the roster whose actor list did not come is listed as not answering, with the roster's actor count", () => {
    const view = liveView(first, sample(11_000, [], { a: { processed: 150, deadLetters: 4, restarts: 1 } }, ["a", "quiet"]));
    expect(view.nodes.map((n) => [n.node, n.answered, n.actors])).to.deep.equal([
      ["a", true, 0],
      ["quiet", false, 2],
    ]);
    expect(view.totals.processedPerSecond).to.equal(0);
  });

  it("live view: a roster longer than the nodes watched shows how many nodes the system has", () => {
    const view = liveView(undefined, { ...sample(11_000, [], { a: { processed: 1, deadLetters: 0, restarts: 0 } }, ["a", "b"]), totalNodes: 5_000 });
    expect(view.totals).to.deep.include({ nodes: 2, nodesInSystem: 5_000 });
    expect(topScreen(view, "troupe top", { columns: 200, rows: 20 })[1]).to.match(/^nodes 2 of 5000 {2}actors/);
    expect(liveView(undefined, sample(11_000, [], {}, ["a"])).totals).to.deep.include({ nodes: 1, nodesInSystem: 1 });
  });

  it("top screen: names from the bus are escaped and every line fits the terminal", () => {
    const hostile = sample(12_000, [actor("evil\u001b[2J", "/user/\u009b31mred", 400, 3)], { "evil\u001b[2J": { processed: 400, deadLetters: 0, restarts: 0 } });
    const before = sample(11_000, [actor("evil\u001b[2J", "/user/\u009b31mred", 0, 3)], { "evil\u001b[2J": { processed: 0, deadLetters: 0, restarts: 0 } });
    const lines = topScreen(liveView(before, hostile), "troupe top", { columns: 60, rows: 14 });
    expect(lines.length).to.be.at.most(14);
    for (const line of lines) expect(line.length).to.be.at.most(60);
    const text = lines.join("\n");
    expect(text).to.not.match(/[\u001b\u009b]/);
    expect(text).to.contain("evil\\x1b[2J");
    expect(text).to.contain("/user/\\x9b31mred");
    expect(text).to.match(/messages\/s 400 /);
  });
});
