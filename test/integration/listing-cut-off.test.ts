import { expect } from "chai";
import { NodeHeartbeat, RosterPage } from "../../runtime/codec/wire-types.js";
import { connectNats, type EmbeddedNats } from "../../runtime/index.js";
import { ROSTER_QUEUE } from "../../runtime/membership/roster.js";
import { Subjects } from "../../runtime/subjects.js";
import type { Transport } from "../../runtime/transport/transport.js";
import { natsServerFor } from "../helpers/nats.js";
import { runTroupe, stopTroupeProcesses } from "../helpers/troupe-process.js";

/**
 * `troupe nodes` and `troupe actors` against a fake member "m" whose roster is cut off: it answers the
 * first request on the roster subject and nothing after, and never answers its follow-up subject; or
 * its one page holds a node the reader refuses. The listing says it is incomplete, and why.
 */
describe("a listing cut off short says it is incomplete, and why (integration)", function () {
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

  /** A fake member "m" of `system`: answers the first roster request with one page of `nodes`, then nothing; is silent on `<roster>.m`. */
  const member = async (system: string, page: { nodes: string[]; total: number; more: boolean }): Promise<void> => {
    const transport = await connectNats({ servers: server.url });
    members.push(transport);
    const subject = new Subjects("troupe", system).membershipRoster;
    const bytes = RosterPage.encode({ nodes: page.nodes.map((node) => NodeHeartbeat.create({ node, incarnation: "i", system, startedAtMs: Date.now() })), total: page.total, more: page.more, answerer: "m", system }).finish();
    let answered = false;
    transport.queueSubscribe(subject, ROSTER_QUEUE, (message) => {
      if (answered || !message.reply) return;
      answered = true;
      transport.publish(message.reply, bytes);
    });
    transport.subscribe(`${subject}.m`, () => {}); // listens, never answers: the follow-up waits out the wait
    await transport.flush();
  };
  const cutOff = { nodes: ["a", "b"], total: 5, more: true };

  const run = async (args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> => {
    const cli = runTroupe([...args, "--nats", server.url]);
    const code = await cli.exited;
    return { code, stdout: cli.stdout(), stderr: cli.stderr() };
  };

  it("nodes: the table's summary and stderr say the listing is incomplete because the wait ran out, and where to go on from", async () => {
    await member("cut-text", cutOff);
    const { code, stdout, stderr } = await run(["nodes", "--system", "cut-text", "--wait", "500"]);
    expect(code, stderr).to.equal(0);
    expect(stdout.trimEnd().split("\n").at(-1)).to.equal("2 of 5 nodes of system cut-text (roster of node m); the listing is incomplete (cut off); next page: --after b");
    expect(stderr).to.contain("troupe nodes: the listing is incomplete after 2 nodes of node m's roster (it stopped coming within the wait of 500 ms); go on with --after b");
  });

  it("nodes --json: complete is false, with next", async () => {
    await member("cut-json", cutOff);
    const { code, stdout, stderr } = await run(["nodes", "--system", "cut-json", "--wait", "500", "--json"]);
    expect(code, stderr).to.equal(0);
    const listing = JSON.parse(stdout.trimEnd().split("\n").at(-1)!) as { nodes: { node: string }[]; total: number; complete: boolean; next?: string };
    expect(listing.nodes.map((n) => n.node)).to.deep.equal(["a", "b"]);
    expect(listing).to.include({ total: 5, complete: false, next: "b" });
    expect(stderr).to.contain("the listing is incomplete");
  });

  it("nodes --json: a roster read to its end with a node refused is incomplete, and stderr says the refusal was why", async () => {
    await member("cut-refused", { nodes: ["a", "bad.node", "b"], total: 3, more: false });
    const { code, stdout, stderr } = await run(["nodes", "--system", "cut-refused", "--wait", "500", "--json"]);
    expect(code, stderr).to.equal(0);
    const listing = JSON.parse(stdout.trimEnd().split("\n").at(-1)!) as { nodes: { node: string }[]; complete: boolean; next?: string };
    expect(listing.nodes.map((n) => n.node)).to.deep.equal(["a", "b"]);
    expect(listing).to.include({ complete: false, next: "b" });
    expect(stderr).to.contain("troupe nodes: ignored roster: from m: ");
    expect(stderr).to.contain("the listing is incomplete after 2 nodes of node m's roster (1 of its nodes or pages refused: see above); go on with --after b");
    expect(stderr).to.not.contain("--wait");
  });

  it("actors --json: nodes.complete is false when the roster stopped before the page's end", async () => {
    await member("cut-actors", cutOff);
    const { code, stdout, stderr } = await run(["actors", "--system", "cut-actors", "--wait", "200", "--nodes-page", "4", "--json"]);
    expect(code, stderr).to.equal(0);
    const listing = JSON.parse(stdout.trimEnd().split("\n").at(-1)!) as { nodes: { total: number; shown: number; complete: boolean } };
    expect(listing.nodes).to.include({ total: 5, shown: 2, complete: false });
    expect(stderr).to.contain("troupe actors: node m's roster is incomplete after 2 nodes of 5 (it stopped coming within the wait of 3000 ms): page 1 may lack nodes");
  });
});
