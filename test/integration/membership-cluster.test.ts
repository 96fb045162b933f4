import { expect } from "chai";
import { spawn } from "node:child_process";
import { systemClock } from "../../runtime/clock.js";
import { Membership, type MembershipEvent } from "../../runtime/membership/membership.js";
import { serveRoster } from "../../runtime/membership/roster.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { Subjects } from "../../runtime/subjects.js";
import { connectNats } from "../../runtime/transport/nats-transport.js";
import type { Transport } from "../../runtime/transport/transport.js";
import { eventually } from "../helpers/conditions.js";
import { natsClusterFor, type NatsCluster } from "../helpers/nats-cluster.js";

const SYSTEM = "it-membership";
const SUBJECT = new Subjects("troupe", SYSTEM).heartbeat;
const NODES = ["a", "b", "c"] as const;

interface Node {
  readonly id: string;
  readonly transport: Transport;
  readonly membership: Membership;
  readonly events: { readonly at: number; readonly event: MembershipEvent }[];
  /** Stops answering roster requests (`troupe nodes` reads the roster from one node). */
  readonly stopRoster: () => void;
}

describe("membership over a 3-server NATS cluster (integration)", function () {
  this.timeout(60_000);
  let cluster: NatsCluster;
  let nodes: Node[] = [];

  before(async function () {
    cluster = await natsClusterFor(this);
  });
  after(() => cluster?.stop());

  // Each node connects to a different server, so every heartbeat crosses a route to reach the others.
  beforeEach(async () => {
    nodes = await Promise.all(
      NODES.map(async (id, i) => {
        // nats.js waits 2 s (reconnectTimeWait) before redialling by default, as long as the failure
        // timeout: a node whose server dies would be reported lost, then joined again. Redial sooner.
        const transport = await connectNats({ servers: cluster.urls[i], name: `membership-test ${id}`, reconnectTimeWait: 100 });
        const membership = new Membership({ transport, subject: SUBJECT, nodeId: id, clock: systemClock, localInfo: () => ({ kinds: [`kind-${id}`, "shared"], actorCount: i + 1 }) });
        const events: Node["events"][number][] = [];
        membership.onEvent((event) => events.push({ at: Date.now(), event }));
        await membership.start();
        const stopRoster = serveRoster({ transport, subject: new Subjects("troupe", SYSTEM).membershipRoster, system: SYSTEM, nodeId: id, nodes: () => membership.nodes() });
        return { id, transport, membership, events, stopRoster };
      }),
    );
    await eventually("every node to see all three", () => nodes.every((n) => n.membership.nodes().length === 3));
  });
  afterEach(async () => {
    nodes.forEach((n) => n.stopRoster());
    await Promise.all(nodes.map((n) => n.membership.stop()));
    await Promise.all(nodes.map((n) => n.transport.close()));
  });

  const node = (id: string): Node => nodes.find((n) => n.id === id)!;
  const eventsAbout = (observer: string, subject: string): string[] =>
    node(observer).events.filter((e) => e.event.node.node === subject).map((e) => e.event.type);

  it("cluster: nodes on different servers see each other, with the kinds they host and their actor counts", () => {
    for (const n of nodes) {
      expect(n.membership.nodes().map((info) => [info.node, info.kinds, info.actorCount, info.self])).to.deep.equal([
        ["a", ["kind-a", "shared"], 1, n.id === "a"],
        ["b", ["kind-b", "shared"], 2, n.id === "b"],
        ["c", ["kind-c", "shared"], 3, n.id === "c"],
      ]);
    }
  });

  it("cluster: a node that stops announces it, and the others drop it well before the timeout", async () => {
    const stoppedAt = Date.now();
    await node("c").membership.stop();
    await eventually("a and b to see c leave", () => ["a", "b"].every((o) => eventsAbout(o, "c").includes("left")));
    const latest = Math.max(...["a", "b"].map((o) => node(o).events.find((e) => e.event.type === "left")!.at));
    // A leave notice is believed once c has been silent for silenceMs (one interval and a quarter)
    // after its last ordinary heartbeat, so that a forged notice is refuted by c's next heartbeat.
    const { silenceMs, failureTimeoutMs } = node("a").membership;
    expect(latest - stoppedAt).to.be.below(silenceMs + 250).and.below(failureTimeoutMs / 2);
    expect(eventsAbout("a", "c")).to.deep.equal(["joined", "left"]);
  });

  it("cluster: a node that vanishes without a word is lost within failureTimeoutMs + one interval, under 3 s", async () => {
    const { failureTimeoutMs, intervalMs } = node("a").membership;
    // As if the process were SIGKILLed: its connection goes away and no leaving heartbeat is sent.
    const vanishedAt = Date.now();
    await node("c").transport.close();
    await eventually("a and b to lose c", () => ["a", "b"].every((o) => !node(o).membership.isAlive("c")), 10_000);
    const detectionMs = ["a", "b"].map((o) => node(o).events.find((e) => e.event.type === "lost")!.at - vanishedAt);
    console.log(`      loss detected after ${detectionMs.join(" and ")} ms (timeout ${failureTimeoutMs} ms, interval ${intervalMs} ms)`);
    for (const ms of detectionMs) {
      // c's last heartbeat left at most one interval before it vanished.
      expect(ms).to.be.at.least(failureTimeoutMs - intervalMs);
      expect(ms).to.be.at.most(failureTimeoutMs + intervalMs + 100);
      expect(ms).to.be.below(3_000);
    }
    expect(eventsAbout("a", "c")).to.deep.equal(["joined", "lost"]);
    expect(node("b").membership.nodes().map((n) => n.node)).to.deep.equal(["a", "b"]);
  });

  it("cluster: a node whose server stops reconnects to another server and is seen again", async () => {
    const before = node("a").membership.nodes().find((n) => n.node === "c")!;
    await cluster.stopServer(2);
    try {
      const stoppedAt = Date.now();
      await eventually("c's heartbeats to reach a through another server", () => (node("a").membership.nodes().find((n) => n.node === "c")?.lastSeenMs ?? 0) > stoppedAt + 100, 15_000);
      const now = node("a").membership.nodes().find((n) => n.node === "c")!;
      console.log(`      c heard again through another server after ${Date.now() - stoppedAt} ms`);
      expect(now.incarnation).to.equal(before.incarnation);
      expect(eventsAbout("a", "c"), "c was never reported lost").to.deep.equal(["joined"]);
    } finally {
      await cluster.startServer(2);
    }
  });

  it("cluster: `troupe nodes --json` lists the live nodes with the kinds they host", async () => {
    const { code, stdout, stderr } = await troupe(["nodes", "--nats", cluster.urls[1]!, "--system", SYSTEM, "--json"]);
    expect(code, stderr).to.equal(0);
    const listing = JSON.parse(stdout) as { system: string; nodes: { node: string; kinds: string[]; actorCount: number; incarnation: string }[] };
    expect(listing.system).to.equal(SYSTEM);
    expect(listing.nodes.map((n) => [n.node, n.kinds, n.actorCount])).to.deep.equal([
      ["a", ["kind-a", "shared"], 1],
      ["b", ["kind-b", "shared"], 2],
      ["c", ["kind-c", "shared"], 3],
    ]);
    expect(listing.nodes[0]!.incarnation).to.equal(node("a").membership.incarnation);
  });

  it("cluster: `troupe nodes` prints a table, and without --nats or NATS_URL says there is nothing to ask", async () => {
    const table = await troupe(["nodes", "--nats", cluster.urls[0]!, "--system", SYSTEM, "--wait", "700"]);
    expect(table.code, table.stderr).to.equal(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).to.match(/^NODE\s+KINDS\s+UP$/);
    expect(lines.at(-1)).to.match(new RegExp(`^3 of 3 nodes of system ${SYSTEM} \\(roster of node [abc]\\)$`));
    expect(lines.slice(1, -2).map((l) => l.split(/\s+/).slice(0, 2))).to.deep.equal([
      ["a", "kind-a,shared"],
      ["b", "kind-b,shared"],
      ["c", "kind-c,shared"],
    ]);

    const none = await troupe(["nodes", "--system", SYSTEM]);
    expect(none.code).to.equal(1);
    expect(none.stderr).to.contain("no NATS server to ask: pass --nats URL (or set NATS_URL)");
  });
});

/** Runs the CLI as a user would. Asynchronously: the nodes in this process must keep heartbeating. */
function troupe(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  for (const name of ["NATS_URL", "NATS_CREDS", "NATS_TOKEN", "NATS_USER", "NATS_PASSWORD"]) delete env[name];
  const child = spawn(process.execPath, [`${PROJECT_ROOT}/bin/troupe.mjs`, ...args], { cwd: PROJECT_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}
