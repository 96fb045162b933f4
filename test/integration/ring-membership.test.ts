import { expect } from "chai";
import { ActorSystem, connectNats, type MembershipEvent } from "../../runtime/index.js";
import { NodeHeartbeat } from "../../runtime/codec/wire-types.js";
import { Ring } from "../../runtime/membership/ring.js";
import { kindOfDirect } from "../../runtime/membership/ring-messages.js";
import type { Transport } from "../../runtime/transport/transport.js";
import { eventually } from "../helpers/conditions.js";
import { natsClusterFor, type NatsCluster } from "../helpers/nats-cluster.js";
import { runTroupe, stopTroupeProcesses } from "../helpers/troupe-process.js";

interface Node {
  readonly system: ActorSystem;
  readonly transport: Transport;
  readonly events: { readonly at: number; readonly event: MembershipEvent }[];
}

/**
 * Ring membership (the default) over a real 3-server NATS cluster: eight nodes in this process, each
 * connected to one of the servers, and `troupe node` processes.
 */
describe("ring membership over a 3-server NATS cluster (integration)", function () {
  this.timeout(60_000);
  let cluster: NatsCluster;
  let nodes: Node[] = [];
  let system: string;
  // Listens on every node's direct subject from a connection of its own: a plain subscription gets a
  // copy of each heartbeat and answers nothing, so the nodes see the same traffic as without it.
  let spy: Transport;
  /** When the spy last saw a heartbeat of one node to another (`from>to`), and each sender's interval. */
  const beats = new Map<string, number>();
  const intervals = new Map<string, number>();

  before(async function () {
    cluster = await natsClusterFor(this);
  });
  after(() => cluster?.stop());

  const startNode = async (id: string, server: number): Promise<Node> => {
    const transport = await connectNats({ servers: cluster.urls[server % cluster.urls.length]!, name: `ring ${id}` });
    const started = await ActorSystem.start({ name: system, nodeId: id, transport });
    const node: Node = { system: started, transport, events: [] };
    started.onEvent((e) => e.type === "membership" && node.events.push({ at: Date.now(), event: e.event }));
    nodes.push(node);
    return node;
  };
  const ids = (node: Node): string[] => node.system.nodes().map((n) => n.node);
  const membersWithServers = (node: Node): string => node.system.nodes().map((n) => `${n.node}@${n.server ?? ""}`).join(" ");

  /**
   * Waits until every view lists the same members, each with its server (so every node picks the same
   * monitors for `id`), and then until each of `id`'s monitors has been sent a heartbeat of it one
   * heartbeat interval after that. A monitor counts silence from the last heartbeat it heard, or from
   * when it began to monitor the node: at its first check after its view changed, at most a check
   * period (no more than an interval) later. So from here on each monitor counts from a heartbeat it
   * heard before any kill, and a loss time measured from the kill holds nothing else.
   */
  const heardByItsMonitors = async (id: string): Promise<void> => {
    await eventually(
      "every view to list the same members, each with its server",
      () => {
        const first = membersWithServers(nodes[0]!);
        return ids(nodes[0]!).includes(id) && !/@( |$)/.test(first) && nodes.every((n) => membersWithServers(n) === first);
      },
      5_000,
    );
    const agreedAt = Date.now();
    const ring = new Ring();
    for (const info of nodes[0]!.system.nodes()) ring.set(info.node, info.server!);
    const monitors = ring.monitorsOf(id);
    await eventually(
      `a heartbeat of ${id} to each of its monitors (${monitors.join(", ")}) an interval after the views agreed`,
      () => monitors.every((m) => (beats.get(`${id}>${m}`) ?? 0) >= agreedAt + (intervals.get(id) ?? Number.POSITIVE_INFINITY)),
      5_000,
    );
  };

  beforeEach(async () => {
    system = `ring-${Math.random().toString(36).slice(2, 8)}`;
    nodes = [];
    for (let i = 0; i < 8; i++) await startNode(`n${i}`, i);
    await eventually("every node to see all eight", () => nodes.every((n) => n.system.nodes().length === 8), 5_000);
    beats.clear();
    intervals.clear();
    spy = await connectNats({ servers: cluster.urls[0]!, name: "ring spy" });
    const to = nodes[0]!.system.subjects.membershipTo("");
    spy.subscribe(`${to}*`, (message) => {
      if (kindOfDirect(message.data) !== "heartbeat") return;
      try {
        const beat = NodeHeartbeat.decode(message.data);
        beats.set(`${beat.node}>${message.subject.slice(to.length)}`, Date.now());
        intervals.set(beat.node, beat.intervalMs);
      } catch {
        // Not a heartbeat after all: nothing to note.
      }
    });
    await spy.flush();
  });
  afterEach(async () => {
    await spy?.close();
    await stopTroupeProcesses();
    await Promise.all(nodes.map((n) => n.system.shutdown()));
  });

  it("ring: eight nodes see each other, and each node's monitors span the three servers", async () => {
    const expected = nodes.map((n) => n.system.nodeId).sort();
    for (const node of nodes) expect(ids(node)).to.deep.equal(expected);
    // Every view knows every member's server (from its notices or the roster), so all views pick the same monitors.
    await eventually("servers known everywhere", () => nodes.every((n) => n.system.nodes().every((info) => (info.server ?? "") !== "")), 5_000);
    const ring = new Ring();
    for (const info of nodes[0]!.system.nodes()) ring.set(info.node, info.server!);
    const serverOf = new Map(nodes[0]!.system.nodes().map((info) => [info.node, info.server!]));
    expect(new Set(serverOf.values()).size, "distinct servers").to.equal(3);
    for (const id of expected) {
      const monitors = ring.monitorsOf(id);
      expect(new Set(monitors.map((m) => serverOf.get(m))).size, `servers of ${id}'s monitors ${monitors.join(",")}`).to.equal(3);
    }
  });

  it("ring: a node whose connection closes without leaving is lost at every other node within 3 s", async () => {
    const victim = nodes[3]!;
    // The last nodes joined just now: n3's monitors must have heard it since they began to monitor it.
    await heardByItsMonitors("n3");
    // Closing drains first (its heartbeats go on meanwhile): the node is gone once close() resolves.
    await victim.transport.close();
    const closedAt = Date.now();
    const others = nodes.filter((n) => n !== victim);
    await eventually("every node to see n3 lost", () => others.every((n) => n.events.some((e) => e.event.type === "lost" && e.event.node.node === "n3")), 5_000);
    const slowestMs = Math.max(...others.map((n) => n.events.find((e) => e.event.type === "lost" && e.event.node.node === "n3")!.at - closedAt));
    console.log(`      loss of n3 seen by all 7 within ${slowestMs} ms`);
    expect(slowestMs).to.be.below(3_000);
    for (const node of others) expect(ids(node)).to.not.include("n3");
    nodes = others;
  });

  it("ring: a joining node is seen by every other within 3 s, and sees them all", async () => {
    const startedAt = Date.now();
    const newcomer = await startNode("n8", 1);
    await eventually("every node to see n8", () => nodes.every((n) => ids(n).includes("n8")), 3_000);
    console.log(`      join of n8 seen by all 8 within ${Date.now() - startedAt} ms (start included)`);
    expect(ids(newcomer)).to.have.length(9);
  });

  it("ring: a SIGKILLed `troupe node` process is lost at every node within 3 s of its death", async () => {
    const worker = runTroupe(["node", "--nats", cluster.urls[2]!, "--system", system, "--node-id", "w1"]);
    await worker.ready();
    await eventually("every node to see w1", () => nodes.every((n) => ids(n).includes("w1")), 5_000);
    await heardByItsMonitors("w1");
    const killedAt = Date.now();
    worker.child.kill("SIGKILL");
    await eventually("every node to see w1 lost", () => nodes.every((n) => n.events.some((e) => e.event.type === "lost" && e.event.node.node === "w1")), 5_000);
    const slowestMs = Math.max(...nodes.map((n) => n.events.find((e) => e.event.type === "lost" && e.event.node.node === "w1")!.at - killedAt));
    console.log(`      loss of a SIGKILLed process seen by all 8 within ${slowestMs} ms`);
    expect(slowestMs).to.be.below(3_000);
  });
});
