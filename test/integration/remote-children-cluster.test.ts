import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "chai";
import { ActorSystem, Terminated, connectNats, defineActor, type ActorRef, type Placement, type SystemEvent } from "../../runtime/index.js";
import { startWorker, type WorkerProcess } from "../../runtime/cli/worker-processes.js";
import { GetStats, Ping, Stats } from "../../examples/ping-pong/messages.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { eventually, eventuallyAsync } from "../helpers/conditions.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";
import { POISON, counter } from "../fixtures/counter.js";

const SYSTEM = "it-tree";
const MODULE = `${PROJECT_ROOT}/test/fixtures/counter-topology.ts`;
const BIN = `${PROJECT_ROOT}/bin/troupe.mjs`;
const execFileAsync = promisify(execFile);

/** Spawns two counters round-robin over the nodes hosting them, and watches each one. */
function supervisor(seen: Terminated[]) {
  return defineActor({
    messages: { GetStats, Terminated },
    init: () => ({}),
    started: (state, ctx) => {
      for (const name of ["a", "b"]) ctx.watch(ctx.spawn(counter, { name, placement: "round-robin", props: Stats.create({ node: name }) }));
      return state;
    },
    handlers: {
      GetStats: (_s, _m, ctx) => ctx.reply(Stats.create({ node: ctx.children().map((c) => `${c.address.node}${c.address.path}`).join(",") })),
      Terminated: (_s, t) => void seen.push(t),
    },
  });
}

/** Spawns counters named `names` with `placement`; answers GetStats with their nodes. */
function spawner(names: readonly string[], placement: Placement) {
  return defineActor({
    messages: { GetStats },
    init: () => ({}),
    started: (state, ctx) => {
      for (const name of names) ctx.spawn(counter, { name, placement, props: Stats.create({ node: name }) });
      return state;
    },
    handlers: { GetStats: (_s, _m, ctx) => ctx.reply(Stats.create({ node: ctx.children().map((c) => c.address.node).join(",") })) },
  });
}

describe("supervision across node processes on a three-server NATS cluster (integration)", function () {
  this.timeout(90_000);
  let cluster: NatsCluster;
  let workers: WorkerProcess[] = [];
  let home: ActorSystem;
  let events: SystemEvent[];
  const stderr: string[] = [];

  before(async () => {
    cluster = await startNatsCluster();
    // Each node talks to a different server: home to 0, w1 to 1, w2 to 2.
    workers = await Promise.all(
      ["w1", "w2"].map((nodeId, i) => startWorker({ system: SYSTEM, nodeId, servers: [cluster.urls[i + 1]!], modulePath: MODULE, log: (line) => stderr.push(line) })),
    );
    home = await ActorSystem.start({ name: SYSTEM, nodeId: "home", transport: await connectNats({ servers: cluster.urls[0]! }), types: [Ping, GetStats, Stats] });
    events = [];
    home.onEvent((e) => events.push(e));
    await eventually("both workers seen with their kinds", () => home.nodes().filter((n) => n.kinds.includes("counter")).length === 2, 10_000);
  });

  after(async () => {
    await home?.shutdown();
    await Promise.all(workers.map((w) => w.stop()));
    await cluster?.stop();
  });

  const stats = (ref: ActorRef<any>): Promise<Stats> => ref.ask(GetStats.create(), Stats, { timeoutMs: 10_000 });

  it("cluster: a supervisor places children on nodes behind other servers, and restarts one that fails there", async () => {
    const sup = home.spawn(supervisor([]), { name: "restarts" });
    expect((await stats(sup)).node).to.equal("w1/remote/home/user/restarts/a,w2/remote/home/user/restarts/b");
    const b = home.refFor<Ping | GetStats>({ system: SYSTEM, node: "w2", path: "/remote/home/user/restarts/b" });
    for (const seq of [1, POISON, 2]) b.tell(Ping.create({ seq }));
    await eventuallyAsync("b restarted with fresh state", async () => (await stats(b)).pings === 1 && events.some((e) => e.type === "supervision"));
    expect(events.find((e) => e.type === "supervision")).to.deep.include({ directive: "restart", path: "/remote/home/user/restarts/b" });

    // `troupe actors` shows the tree across the three nodes, remote children under their parent.
    const { stdout } = await execFileAsync(process.execPath, [BIN, "actors", "--nats", cluster.urls[2]!, "--system", SYSTEM, "--json"]);
    const { actors } = JSON.parse(stdout) as { actors: { path: string; node: string; kind?: string; restarts: number; children: { path: string; node: string; kind?: string; restarts: number }[] }[] };
    const tree = actors.find((a) => a.path === "/user/restarts")!;
    expect(tree.node).to.equal("home");
    expect(tree.children.map((c) => [c.node, c.path, c.kind, c.restarts])).to.deep.equal([
      ["w1", "/remote/home/user/restarts/a", "counter", 0],
      ["w2", "/remote/home/user/restarts/b", "counter", 1],
    ]);
    await home.stop(sup);
  });

  it("cluster: least-loaded asks the workers behind other servers for their load and places on the lighter", async () => {
    const heavy = home.spawn(spawner(["h1", "h2", "h3", "h4", "h5", "h6"], { node: "w1" }), { name: "heavy" });
    expect((await stats(heavy)).node).to.equal("w1,w1,w1,w1,w1,w1");
    const before = home.placementQueries();
    const warm = home.spawn(spawner(["first"], "least-loaded"), { name: "warm" });
    await stats(warm);
    await eventually("both workers answered", () => home.placementQueries().answered >= before.answered + 2, 10_000);
    const light = home.spawn(spawner(["a", "b", "c"], "least-loaded"), { name: "light" });
    expect((await stats(light)).node).to.equal("w2,w2,w2");
    expect(home.placementQueries()).to.include({ unanswered: before.unanswered, refused: 0 });
    await Promise.all([heavy, warm, light].map((ref) => home.stop(ref)));
  });

  it("node loss: after SIGKILL of a worker, its child is restarted on the surviving node and watchers get node-lost", async () => {
    const seen: Terminated[] = [];
    const sup = home.spawn(supervisor(seen), { name: "sup" });
    expect((await stats(sup)).node).to.equal("w1/remote/home/user/sup/a,w2/remote/home/user/sup/b");
    events.length = 0;

    const killedAt = Date.now();
    workers[1]!.child.kill("SIGKILL");
    await eventually("w2 lost", () => events.some((e) => e.type === "membership" && e.event.type === "lost" && e.event.node.node === "w2"), 10_000);
    const detectionMs = Date.now() - killedAt;
    expect(detectionMs, "loss detected within the default 3 s").to.be.below(3_000);

    await eventuallyAsync("b running again on w1", async () => (await stats(sup)).node === "w1/remote/home/user/sup/a,w1/remote/home/user/sup/b", 10_000);
    const moved = home.refFor<Ping | GetStats>({ system: SYSTEM, node: "w1", path: "/remote/home/user/sup/b" });
    moved.tell(Ping.create({ seq: 1 }));
    expect(await stats(moved)).to.include({ pings: 1, node: "b@w1" });
    expect(seen.map((t) => `${t.actor!.node} ${t.reason}`)).to.deep.equal(["w2 node-lost"]);
    const decision = events.find((e) => e.type === "supervision");
    expect(decision && decision.type === "supervision" && (decision.error as Error).name).to.equal("NodeLostError");
  });
});
