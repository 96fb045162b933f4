import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ActorSystem, connectNats } from "../../runtime/index.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { Get, Total, counterEntity } from "../fixtures/entity-counter.js";
import { probeName } from "../fixtures/scale-node-topology.js";
import { eventually } from "../helpers/conditions.js";
import { natsClusterFor, type NatsCluster } from "../helpers/nats-cluster.js";
import { runTroupe, stopTroupeProcesses, type TroupeProcess } from "../helpers/troupe-process.js";

const SYSTEM = "it-scale";
const MODULE = `${PROJECT_ROOT}/test/fixtures/scale-node-topology.ts`;
/** The node processes started at first (issue 17: "16 node processes"); a 17th joins later. */
const FIRST_NODES = Array.from({ length: 16 }, (_, i) => `n${i + 1}`);
/** Entity keys whose owners are checked: enough that a joining 17th node wins some (all but surely). */
const KEYS = Array.from({ length: 200 }, (_, i) => `k${i}`);
/** How long a changed picture may take to settle everywhere: detection (~2 s) plus a loaded machine. */
const SETTLE_MS = 20_000;
const ASK_TIMEOUT_MS = 5_000;
const LOOKUP_TIMEOUT_MS = 3_000;
/** The kind a node hosting counter entities announces (docs/entities.md). */
const ENTITY_KIND = "entity.counter";

/** Who owns each key, as one client's asks found it. */
type Owners = Map<string, string>;

/**
 * Issue 17's "16 nodes": 16 `troupe node` processes on a three-server NATS cluster, then one SIGKILLed,
 * a 17th joining, one SIGSTOPped past failure detection and SIGCONTed, and one server of the cluster
 * stopped and started again. After each step the whole picture is checked from outside, through the
 * public API and the CLI only: client nodes on each server see exactly the live nodes; each live node's
 * named actor is found by name and a gone node's is not; every entity key answers from a live node, the
 * same one through every server, and keys the step did not concern keep their owner; `troupe nodes
 * --json` lists every live node and nothing else; `troupe actors --json` lists each live node's named
 * actor and nothing of a gone node; totals, where a listing prints them, match what it lists. Checks
 * are repeated until right (bounded), since an answer may come from a node that has not noticed the
 * change yet; what can never become right (an actor of a gone node, a name found on the wrong node)
 * fails at once. Each check says how many rounds it needed.
 */
describe("16 troupe node processes on a three-server NATS cluster: loss, join, stall, server restart (integration)", function () {
  this.timeout(180_000);
  let cluster: NatsCluster;
  let stateDir: string | undefined;
  const nodes = new Map<string, TroupeProcess>();
  const clients: ActorSystem[] = [];
  /** Node processes that should be members now. */
  const live = new Set<string>();
  /** Membership events the clients saw, for "nobody was reported lost" checks. */
  const lostEvents: { at: number; client: string; node: string }[] = [];
  /** Owners after the last check, to compare the next one with. */
  let owners: Owners = new Map();

  /** Which server of the cluster each node was started on. */
  const serverOf = new Map<string, number>();

  const startNode = async (id: string, server: number): Promise<void> => {
    serverOf.set(id, server);
    const process = runTroupe(["node", "--system", SYSTEM, "--node-id", id, "--module", MODULE, "--nats", cluster.urls[server]!], { SCALE_STATE: pathToFileURL(stateDir!).href });
    nodes.set(id, process);
    await process.ready(90_000);
    live.add(id);
  };

  before(async function () {
    this.timeout(240_000);
    cluster = await natsClusterFor(this);
    stateDir = mkdtempSync(join(tmpdir(), "troupe-scale-"));
    const started = Date.now();
    await Promise.all(FIRST_NODES.map((id, i) => startNode(id, i % 3)));
    // Client nodes host nothing: they look up, ask and watch, each through a different server.
    for (const server of [0, 1, 2]) {
      const client = await ActorSystem.start({ name: SYSTEM, nodeId: `client-${server}`, transport: await connectNats({ servers: cluster.urls[server]! }) });
      client.onEvent((event) => {
        if (event.type === "membership" && event.event.type === "lost") lostEvents.push({ at: Date.now(), client: client.nodeId, node: event.event.node.node });
      });
      clients.push(client);
    }
    console.log(`      16 node processes ready in ${Date.now() - started} ms`);
  });

  after(async () => {
    // A stopped process handles no SIGTERM: wake every one first, then stop them (SIGKILL after 5 s).
    for (const node of nodes.values()) node.child.kill("SIGCONT");
    await Promise.all([...nodes.values()].map((n) => n.stop(5_000)));
    // And any `troupe nodes`/`troupe actors` run that a failed case left behind.
    await stopTroupeProcesses();
    await Promise.all(clients.map((c) => c.shutdown().catch(() => undefined)));
    await cluster?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  /** Node processes that client `c` sees hosting the entity kind (client nodes host nothing). */
  const seenBy = (c: ActorSystem): string[] => c.nodes().filter((n) => n.kinds.includes(ENTITY_KIND)).map((n) => n.node).sort();
  const expected = (): string[] => [...live].sort();

  /** Checks the whole picture against `live`; returns the entity owners it found. */
  async function expectCorrect(step: string): Promise<Owners> {
    const started = Date.now();
    const want = expected();
    await eventually(`${step}: every client sees exactly ${want.length} nodes, each hosting ${ENTITY_KIND}`, () => clients.every((c) => JSON.stringify(seenBy(c)) === JSON.stringify(want)), SETTLE_MS).catch((error: Error) => {
      // What each client sees instead: nodes missing, nodes too many, nodes seen without the kind.
      const views = clients.map((c) => {
        const seen = c.nodes();
        const missing = want.filter((id) => !seen.some((n) => n.node === id));
        const extra = seen.filter((n) => !n.node.startsWith("client-") && !live.has(n.node)).map((n) => n.node);
        const kindless = seen.filter((n) => live.has(n.node) && !n.kinds.includes(ENTITY_KIND)).map((n) => `${n.node} [${n.kinds.join(",")}]`);
        return `${c.nodeId}: missing ${missing.join(",") || "none"}; gone but seen ${extra.join(",") || "none"}; without ${ENTITY_KIND} ${kindless.join(" ") || "none"}`;
      });
      throw new Error(`${error.message}\n${views.join("\n")}`);
    });
    const membershipMs = Date.now() - started;
    // Rounds each check needed to come out right: 1 everywhere means right at the first look.
    const rounds = { lookups: await expectLookups(step), placement: 0, nodes: 0, actors: 0 };
    const placement = await expectPlacement(step);
    rounds.placement = placement.rounds;
    rounds.nodes = await expectNodesListing(step);
    rounds.actors = await expectActorsListing(step);
    console.log(`      ${step}: ${want.length} live nodes; membership agreed after ${membershipMs} ms, all checked after ${Date.now() - started} ms; rounds ${JSON.stringify(rounds)}`);
    return placement.owners;
  }

  /** Each live node's named actor is found on that node through every client; a gone node's is not found. */
  async function expectLookups(step: string): Promise<number> {
    return until(`${step}: lookups of each node's named actor through every client`, async () => {
      const problems: string[] = [];
      await Promise.all(
        [...nodes.keys()].flatMap((id) =>
          clients.map(async (client) => {
            const node = (await client.lookup(probeName(id), { timeoutMs: LOOKUP_TIMEOUT_MS }))?.address.node;
            const want = live.has(id) ? id : undefined;
            // Found on the wrong node, or found although its node is gone, is wrong however long one waits.
            if (node !== undefined && node !== want) expect.fail(`${step}: ${client.nodeId} found ${probeName(id)} on ${node}`);
            if (node !== want) problems.push(`${client.nodeId} did not find ${probeName(id)}`);
          }),
        ),
      );
      return problems;
    });
  }

  /** Asks every key through every client: all answer, from live nodes, the same node through every client. */
  async function expectPlacement(step: string): Promise<{ owners: Owners; rounds: number }> {
    const found: Owners = new Map();
    const rounds = await until(`${step}: every entity key answered alike by a live node through every client`, async () => {
      const answers = await Promise.all(
        clients.map((client) =>
          Promise.all(
            KEYS.map((key) =>
              client
                .entityRef(counterEntity, key)
                .ask(Get.create(), Total, { timeoutMs: ASK_TIMEOUT_MS })
                .then(
                  (total) => total.node,
                  (error: Error) => `failed: ${error.name} ${error.message}`,
                ),
            ),
          ),
        ),
      );
      const problems: string[] = [];
      KEYS.forEach((key, k) => {
        const byClient = answers.map((a) => a[k]!);
        if (new Set(byClient).size !== 1) problems.push(`${key}: ${byClient.join(" / ")}`);
        else if (!live.has(byClient[0]!)) problems.push(`${key}: ${byClient[0]} (not a live node)`);
        else found.set(key, byClient[0]!);
      });
      return problems;
    });
    return { owners: found, rounds };
  }

  /** `troupe nodes --json`: every live node, nothing else, and a total to match where it prints one (all pages). */
  async function expectNodesListing(step: string): Promise<number> {
    return until(`${step}: \`troupe nodes --json\` lists exactly the live nodes`, async () => {
      const problems: string[] = [];
      const rows: string[] = [];
      for (let after: string | undefined, page = 0; page === 0 || after !== undefined; page++) {
        const listing = await troupeJson<{ nodes: { node: string; kinds: string[] }[]; total?: number; next?: string }>(["nodes", ...(after === undefined ? [] : ["--after", after])]);
        rows.push(...listing.nodes.map((n) => n.node));
        for (const n of listing.nodes) if (live.has(n.node) && !n.kinds.includes(ENTITY_KIND)) problems.push(`${n.node} listed without ${ENTITY_KIND} (kinds ${n.kinds.join(",")})`);
        // A total, where the listing has one, counts every node (client nodes too) on every page.
        if (listing.next === undefined && listing.total !== undefined && listing.total !== rows.length) problems.push(`total ${listing.total} for ${rows.length} nodes listed`);
        after = listing.next;
      }
      const listed = rows.filter((n) => !n.startsWith("client-")).sort();
      if (JSON.stringify(listed) !== JSON.stringify(expected())) problems.push(`listed ${listed.join(",")}`);
      return problems;
    });
  }

  /** `troupe actors --json`: each live node's named actor, and nothing at all of a gone node. */
  async function expectActorsListing(step: string): Promise<number> {
    return until(`${step}: \`troupe actors --json\` lists the named actor of every live node, and nothing of a gone node`, async () => {
      const listing = await troupeJson<{ actors: ActorEntry[]; total?: number; nodes?: { total: number; silent: string[]; pages: number } }>(["actors", "--wait", "2000"]);
      const all = flatten(listing.actors);
      const fromGone = all.filter((a) => !live.has(a.node) && !a.node.startsWith("client-")).map((a) => `${a.node}${a.path}`);
      // Once every client has dropped a node, no actor of it may be listed: a wrong listing, not a slow one.
      expect(fromGone, `${step}: actors listed on nodes that are gone`).to.deep.equal([]);
      const probes = all.filter((a) => a.path.startsWith("/user/probe-")).map((a) => `${a.node}${a.path}`).sort();
      const missing = expected().filter((id) => !probes.includes(`${id}/user/${probeName(id)}`));
      const problems = missing.map((id) => `${probeName(id)} not listed`);
      if (probes.length !== live.size) problems.push(`${probes.length} probes listed for ${live.size} live nodes`);
      if (listing.total !== undefined && listing.total !== all.length) problems.push(`total ${listing.total} for ${all.length} actors listed`);
      // Where the listing counts nodes (from a roster): every member, the client nodes too, on one page, all answering.
      const members = live.size + clients.length;
      if (listing.nodes !== undefined && (listing.nodes.total !== members || listing.nodes.pages !== 1)) problems.push(`nodes ${JSON.stringify(listing.nodes)} for ${members} members`);
      if (listing.nodes?.silent.length) problems.push(`silent nodes ${listing.nodes.silent.join(",")}`);
      return problems;
    });
  }

  /** Runs the CLI through server 0 (never the one restarted) and parses its stdout. */
  async function troupeJson<T>(args: string[]): Promise<T> {
    const run = runTroupe([...args, "--nats", cluster.urls[0]!, "--system", SYSTEM, "--json"]);
    const code = await run.exited;
    expect(code, `troupe ${args.join(" ")}: ${run.stderr()}`).to.equal(0);
    return JSON.parse(run.stdout()) as T;
  }

  /** The owners that keys not owned by `moved` nodes had before must not have changed. */
  const expectUnmoved = (step: string, before: Owners, after: Owners, moved: (key: string, from: string, to: string) => boolean): void => {
    const wrong = KEYS.filter((k) => before.get(k) !== after.get(k) && !moved(k, before.get(k)!, after.get(k)!)).map((k) => `${k}: ${before.get(k)} -> ${after.get(k)}`);
    expect(wrong, `${step}: keys that moved although their owner stayed`).to.deep.equal([]);
  };

  it("scale: all 16 nodes are members, their named actors are found, every entity key has one live owner, and the CLI lists them", async () => {
    owners = await expectCorrect("start");
    expect(new Set(owners.values()).size, "nodes owning some of the 200 keys").to.be.above(10);
  });

  it("scale: a SIGKILLed node disappears from membership, lookups, placement and the CLI listings; only its keys move", async () => {
    const victim = "n5";
    nodes.get(victim)!.child.kill("SIGKILL");
    live.delete(victim);
    const before = owners;
    owners = await expectCorrect("after SIGKILL of n5");
    expectUnmoved("after SIGKILL of n5", before, owners, (_k, from) => from === victim);
  });

  it("scale: a 17th node that joins is seen everywhere and wins some keys; no other key moves", async () => {
    await startNode("n17", 1);
    const before = owners;
    owners = await expectCorrect("after n17 joined");
    expectUnmoved("after n17 joined", before, owners, (_k, _from, to) => to === "n17");
    expect([...owners.values()].filter((n) => n === "n17").length, "keys n17 owns").to.be.above(0);
  });

  it("scale: a node SIGSTOPped past failure detection is dropped everywhere, and after SIGCONT is back everywhere", async () => {
    const sleeper = "n8";
    const process = nodes.get(sleeper)!;
    const before = owners;
    process.child.kill("SIGSTOP");
    try {
      live.delete(sleeper);
      owners = await expectCorrect("while n8 is stopped");
      expectUnmoved("while n8 is stopped", before, owners, (_k, from) => from === sleeper);
    } finally {
      process.child.kill("SIGCONT");
      live.add(sleeper);
    }
    owners = await expectCorrect("after n8 was continued");
    // Keys owned by others all along stay put; n8's keys may come back to it.
    expectUnmoved("after n8 was continued", before, owners, (_k, from) => from === sleeper);
    expect(process.child.exitCode, "n8 still runs").to.equal(null);
  });

  it("scale: while one server of the cluster is down and after it is back, the nodes it served reconnect elsewhere and nothing changes", async () => {
    const since = Date.now();
    const before = owners;
    const served = [...nodes.entries()].filter(([id]) => live.has(id) && serverOf.get(id) === 2);
    const logged = new Map(served.map(([id, p]) => [id, p.stderr().length]));
    let clientBack = false;
    const unwatch = clients[2]!.onEvent((e) => void (e.type === "transport" && e.event.type === "reconnect" && (clientBack = true)));
    await cluster.stopServer(2);
    try {
      // Its clients say so: a node logs "nats: reconnect <server>", a client node emits the event.
      await eventually("the nodes server 2 served to reconnect to another server", () => served.every(([id, p]) => p.stderr().slice(logged.get(id)).includes("nats: reconnect")), SETTLE_MS);
      await eventually("client-2 to reconnect to another server", () => clientBack, SETTLE_MS);
      owners = await expectCorrect("while server 2 is down");
      expectUnmoved("while server 2 is down", before, owners, () => false);
    } finally {
      unwatch();
      await cluster.startServer(2);
    }
    owners = await expectCorrect("after server 2 is back");
    expectUnmoved("after server 2 is back", before, owners, () => false);
    expect(lostEvents.filter((e) => e.at >= since), "nodes reported lost while a server restarted").to.deep.equal([]);
  });
});

interface ActorEntry {
  readonly node: string;
  readonly path: string;
  readonly children?: readonly ActorEntry[];
}

/** Every actor of a tree (or of a flat list, if the listing becomes one). */
function flatten(entries: readonly ActorEntry[]): ActorEntry[] {
  return entries.flatMap((e) => [e, ...flatten(e.children ?? [])]);
}

/**
 * Runs `check` until it finds no problems, at most SETTLE_MS, and says how many rounds that took: a
 * listing or an answer may come from a node that has not noticed a change yet. Fails with the last
 * round's problems.
 */
async function until(what: string, check: () => Promise<string[]>): Promise<number> {
  const deadline = Date.now() + SETTLE_MS;
  for (let round = 1; ; round++) {
    const problems = await check();
    if (problems.length === 0) return round;
    if (Date.now() > deadline) expect.fail(`${what}: still wrong after ${round} rounds in ${SETTLE_MS} ms: ${problems.length} problems, e.g. ${problems.slice(0, 5).join("; ")}`);
    // Checks that fail at once (no owner known yet) must not spin: a moment between rounds.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
