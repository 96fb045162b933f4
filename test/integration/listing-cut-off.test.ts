import { expect } from "chai";
import { connectNats, type EmbeddedNats } from "../../runtime/index.js";
import type { NodeInfo } from "../../runtime/membership/node-table.js";
import { serveRoster } from "../../runtime/membership/roster.js";
import { Subjects } from "../../runtime/subjects.js";
import type { Transport } from "../../runtime/transport/transport.js";
import { natsServerFor } from "../helpers/nats.js";
import { runTroupe, stopTroupeProcesses } from "../helpers/troupe-process.js";

/**
 * `troupe nodes` and `troupe actors` against a member whose roster stops coming after its first page
 * (two nodes a page, one answer a second): the listing is cut off by the wait, and says so.
 */
describe("a listing cut off by the wait says it is incomplete (integration)", function () {
  this.timeout(60_000);
  let server: EmbeddedNats;
  const members: Transport[] = [];

  before(async function () {
    server = await natsServerFor(this);
  });
  afterEach(async () => {
    await stopTroupeProcesses();
    await Promise.all(members.splice(0).map((m) => m.close()));
  });
  after(() => server?.stop());

  /** A member of `system` (a roster server, no node) listing nodes a to e, two a page, one answer a second. */
  const member = async (system: string): Promise<void> => {
    const transport = await connectNats({ servers: server.url });
    members.push(transport);
    const nodes: NodeInfo[] = ["a", "b", "c", "d", "e"].map((node) => ({ node, incarnation: "i", startedAtMs: Date.now(), kinds: [], actorCount: 0, lastSeenMs: 0, self: false }));
    serveRoster({ transport, subject: new Subjects("troupe", system).membershipRoster, system, nodeId: "m", nodes: () => nodes, maxPage: 2, maxAnswersPerSecond: 1 });
    await transport.flush();
  };

  const run = async (args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> => {
    const cli = runTroupe([...args, "--nats", server.url]);
    const code = await cli.exited;
    return { code, stdout: cli.stdout(), stderr: cli.stderr() };
  };

  it("nodes: the table's summary and stderr say the listing is incomplete, and where to go on from", async () => {
    await member("cut-text");
    const { code, stdout, stderr } = await run(["nodes", "--system", "cut-text", "--wait", "500"]);
    expect(code, stderr).to.equal(0);
    expect(stdout.trimEnd().split("\n").at(-1)).to.equal("2 of 5 nodes of system cut-text (roster of node m); the listing is incomplete (cut off); next page: --after b");
    expect(stderr).to.contain("troupe nodes: the listing is incomplete: node m's roster stopped coming after 2 nodes (the wait of 500 ms ran out, or its pages were refused); go on with --after b");
  });

  it("nodes --json: complete is false, with next", async () => {
    await member("cut-json");
    const { code, stdout, stderr } = await run(["nodes", "--system", "cut-json", "--wait", "500", "--json"]);
    expect(code, stderr).to.equal(0);
    const listing = JSON.parse(stdout.trimEnd().split("\n").at(-1)!) as { nodes: { node: string }[]; total: number; complete: boolean; next?: string };
    expect(listing.nodes.map((n) => n.node)).to.deep.equal(["a", "b"]);
    expect(listing).to.include({ total: 5, complete: false, next: "b" });
    expect(stderr).to.contain("the listing is incomplete");
  });

  it("actors --json: nodes.complete is false when the roster stopped before the page's end", async () => {
    await member("cut-actors");
    const { code, stdout, stderr } = await run(["actors", "--system", "cut-actors", "--wait", "200", "--nodes-page", "4", "--json"]);
    expect(code, stderr).to.equal(0);
    const listing = JSON.parse(stdout.trimEnd().split("\n").at(-1)!) as { nodes: { total: number; shown: number; complete: boolean } };
    expect(listing.nodes).to.include({ total: 5, shown: 2, complete: false });
    expect(stderr).to.contain("troupe actors: node m's roster stopped coming after 2 nodes of 5");
  });
});
