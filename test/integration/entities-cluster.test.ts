import { expect } from "chai";
import { ActorSystem, connectNats, decodeEntityObject } from "../../runtime/index.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { Ledger } from "../fixtures/entity-ledger.js";
import { eventually } from "../helpers/conditions.js";
import { LedgerTraffic, ledgerViolations } from "../helpers/entity-traffic.js";
import { fakeGcsFor, type FakeGcs } from "../helpers/fake-gcs.js";
import { natsClusterFor, type NatsCluster } from "../helpers/nats-cluster.js";
import { runTroupe, stopTroupeProcesses, type TroupeProcess } from "../helpers/troupe-process.js";

const MODULE = `${PROJECT_ROOT}/test/fixtures/entity-ledger-topology.ts`;
const KEYS = Array.from({ length: 1_000 }, (_, i) => `e${i}`);
/** An ask not answered by then has failed visibly (AskTimeoutError). */
const ASK_TIMEOUT_MS = 5_000;
/** Concurrent asks per client node, each loop one ask at a time. */
const LOOPS_PER_CLIENT = 16;
/** Acknowledged asks to see between the phases of a case: about a second of traffic here. */
const STEADY_ACKS = 150;

/** A `troupe node` process hosting the ledger kind, and the JSON events it printed. */
interface Host {
  readonly id: string;
  readonly process: TroupeProcess;
  events(kind: "conflict" | "fenced"): number;
}

/**
 * The "Done means" of entities (docs/entities.md): 1,000 ledger entities in fake-gcs-server, hosted by
 * `troupe node` processes on a three-server NATS cluster, under steady asks from client nodes on
 * different servers, while an owner is SIGKILLed, SIGSTOPped past failure detection and SIGCONTed, or
 * a node joins. Each Append carries a unique op id and every ledger lists the ops applied to it, so the
 * stored state is checked exactly: every acknowledged op is there once, no op is there twice or under
 * another key, and the only ops there besides the acknowledged ones are some whose asks failed. A
 * fourth case retries failed asks with idempotency keys until every op is acknowledged: no slack.
 */
describe("entities on a three-server NATS cluster with node processes and fake-gcs-server (integration)", function () {
  this.timeout(240_000);
  let cluster: NatsCluster;
  let gcs: FakeGcs;
  /** What the case under way started, stopped after it however it ended (a failed case leaves them running). */
  let started: { hosts: Host[]; clients: ActorSystem[]; traffic?: LedgerTraffic } = { hosts: [], clients: [] };

  before(async function () {
    cluster = await natsClusterFor(this);
    gcs = await fakeGcsFor(this);
  });
  afterEach(async () => {
    // Traffic first: its loops would otherwise keep asking through clients that are shutting down.
    await started.traffic?.stop(2 * ASK_TIMEOUT_MS).catch(() => undefined);
    await Promise.all(started.hosts.map((h) => h.process.stop(2_000)));
    await Promise.all(started.clients.map((c) => c.shutdown()));
    started = { hosts: [], clients: [] };
    // And the CLI runs of a case (`troupe actors`, `troupe entities`) that failed before they exited.
    await stopTroupeProcesses();
  });
  after(async () => {
    await gcs?.stop();
    await cluster?.stop();
  });

  /** One case: its own system, state prefix, host processes and client nodes. */
  async function setUp(name: string, hostIds: readonly string[], retries = 0) {
    const system = `it-entities-${name}`;
    // How long each phase took, printed with the outcome: where a slow run spent its time.
    const phases: Record<string, number> = {};
    let phaseStart = Date.now();
    const phase = (what: string): void => {
      phases[what] = Date.now() - phaseStart;
      phaseStart = Date.now();
    };
    const prefix = `case-${name}`;
    const hosts: Host[] = [];
    const clients: ActorSystem[] = [];
    started = { hosts, clients };
    const startHost = async (id: string, server: number): Promise<Host> => {
      const process = runTroupe(["node", "--system", system, "--node-id", id, "--module", MODULE, "--nats", cluster.urls[server]!], {
        LEDGER_STATE: `gs://${gcs.bucket}/${prefix}`,
        STORAGE_EMULATOR_HOST: gcs.endpoint,
      });
      const host: Host = {
        id,
        process,
        events: (kind) => process.stdout().split("\n").filter((line) => line.startsWith("{") && line.includes(`"event":"${kind}"`)).length,
      };
      hosts.push(host);
      await process.ready(60_000);
      return host;
    };
    await Promise.all(hostIds.map((id, i) => startHost(id, i % 3)));
    // Client nodes host nothing: they only ask, each through a different server of the cluster.
    for (const server of [0, 1, 2]) {
      const client = await ActorSystem.start({ name: system, nodeId: `client-${server}`, transport: await connectNats({ servers: cluster.urls[server]! }) });
      clients.push(client);
    }
    const hostsSeen = (client: ActorSystem): string[] => client.nodes().filter((n) => n.kinds.includes("entity.ledger")).map((n) => n.node).sort();
    const allSee = (ids: readonly string[]): boolean => clients.every((c) => JSON.stringify(hostsSeen(c)) === JSON.stringify([...ids].sort()));
    await eventually(`every client sees hosts ${hostIds.join(", ")}`, () => allSee(hostIds), 15_000);
    phase("start");
    const traffic = new LedgerTraffic(clients, KEYS, ASK_TIMEOUT_MS, retries);
    started.traffic = traffic;

    /** Waits until `count` more asks have been acknowledged. */
    const moreAcks = async (what: string, count: number, timeoutMs = 30_000): Promise<void> => {
      const target = traffic.count("ok") + count;
      await eventually(`${what}: ${count} more acknowledged asks`, () => traffic.count("ok") >= target, timeoutMs);
      phase(what);
    };
    /** Waits until every key has answered an ask sent at or after `sinceMs`: every entity is live again. */
    const everyKeyAnswersSince = async (what: string, sinceMs: number): Promise<void> => {
      await eventually(`${what}: every one of the ${KEYS.length} entities answers (${traffic.keysAckedSince(sinceMs)} did)`, () => traffic.keysAckedSince(sinceMs) === KEYS.length, 60_000);
      phase(what);
    };

    /** Stops the traffic, the hosts (gracefully) and the clients, then checks the stored ledgers exactly. */
    const finish = async (): Promise<{ ok: number; failed: number; failures: Record<string, number>; landedUnacknowledged: Record<string, number> }> => {
      // Every ask ends, answered or failed, within its timeout (and its retries'), plus a margin for a busy machine.
      phase("until finish");
      await traffic.stop((retries + 1) * ASK_TIMEOUT_MS + 10_000);
      phase("traffic stop");
      expect(traffic.count("pending"), "asks that never settled").to.equal(0);
      await Promise.all(hosts.map((h) => h.process.stop()));
      await Promise.all(clients.map((c) => c.shutdown()));
      phase("hosts and clients stop");
      const ledgers = await readLedgers(gcs, `${prefix}/entities/ledger/`);
      phase("read ledgers");
      expect(ledgers.size, "stored entities").to.equal(KEYS.length);
      const violations = ledgerViolations(KEYS, ledgers, traffic.ops);
      expect(violations.slice(0, 20), `${violations.length} violations`).to.deep.equal([]);
      // Failed asks whose effect is stored all the same (allowed: their answer was lost, or their copy was fenced after its write landed).
      const landedUnacknowledged: Record<string, number> = {};
      for (const op of traffic.ops.values()) if (op.outcome === "failed" && ledgers.get(op.key)?.includes(op.op)) landedUnacknowledged[op.failure!] = (landedUnacknowledged[op.failure!] ?? 0) + 1;
      const outcome = { ok: traffic.count("ok"), failed: traffic.count("failed"), failures: traffic.failures(), landedUnacknowledged, retried: traffic.retried, phasesMs: phases };
      // Figures for whoever reads the test output.
      console.log(`      ${name}: ${JSON.stringify(outcome)}`);
      return outcome;
    };
    return { hosts, traffic, startHost, allSee, moreAcks, everyKeyAnswersSince, finish, phase };
  }

  it("entities: after an owner is SIGKILLed under traffic, its entities answer from the other nodes and the stored state is exactly the acknowledged effects", async () => {
    const c = await setUp("kill", ["h1", "h2", "h3"]);
    expect(await c.traffic.activateAll(64), "entities activated by a first ask, with no fault").to.equal(KEYS.length);
    c.phase("activate all");
    c.traffic.start(LOOPS_PER_CLIENT);
    await c.moreAcks("before the kill", STEADY_ACKS);

    const victim = c.hosts.find((h) => h.id === "h2")!;
    victim.process.child.kill("SIGKILL");
    await eventually("every client has lost h2", () => c.allSee(["h1", "h3"]), 15_000);
    c.phase("every client has lost h2");
    const lostAt = Date.now();
    await c.everyKeyAnswersSince("after h2 was lost", lostAt);
    expect(Object.keys(c.traffic.answeredSince(lostAt)).sort(), "nodes answering after the loss").to.deep.equal(["h1", "h3"]);
    await c.finish();
  });

  it("entities: an owner SIGSTOPped past failure detection and SIGCONTed cannot commit (its writes get 412s and its copies are fenced), and the stored state is exactly the acknowledged effects", async () => {
    const c = await setUp("stall", ["h1", "h2", "h3"]);
    expect(await c.traffic.activateAll(64), "entities activated by a first ask, with no fault").to.equal(KEYS.length);
    c.phase("activate all");
    c.traffic.start(LOOPS_PER_CLIENT);
    await c.moreAcks("before the stall", STEADY_ACKS);

    const zombie = c.hosts.find((h) => h.id === "h2")!;
    zombie.process.child.kill("SIGSTOP");
    try {
      await eventually("every client has lost h2", () => c.allSee(["h1", "h3"]), 15_000);
      c.phase("every client has lost h2");
      // Its entities now live on h1 and h3, which write new generations of them.
      await c.everyKeyAnswersSince("while h2 is stopped", Date.now());
    } finally {
      zombie.process.child.kill("SIGCONT");
    }
    await eventually("every client sees h2 again", () => c.allSee(["h1", "h2", "h3"]), 15_000);
    c.phase("every client sees h2 again");
    // The woken copies hold stale generations: each write they try is refused, and they stop.
    await eventually("the woken node's stale writes are refused", () => zombie.events("conflict") > 0 && zombie.events("fenced") > 0, 30_000);
    c.phase("the woken node's stale writes are refused");
    await c.everyKeyAnswersSince("after h2 woke", Date.now());
    const { failures, landedUnacknowledged } = await c.finish();
    expect(zombie.events("conflict"), "412s on the woken node").to.be.above(0);
    // A copy fenced by a 412 committed nothing: no ask it failed "fenced" took effect (only a write in
    // doubt could, and the store never failed here).
    expect(landedUnacknowledged, "failed asks whose effect is stored").to.not.have.property("AskFailedError fenced");
    expect(Object.keys(failures).every((f) => /^(AskTimeoutError|AskFailedError (fenced|no-owner))$/.test(f)), `failures: ${JSON.stringify(failures)}`).to.equal(true);
  });

  it("entities: with idempotency keys, asks retried after timeouts and `fenced` across a stall and a kill take effect exactly once: every op is acknowledged and stored once", async () => {
    const c = await setUp("retry", ["h1", "h2", "h3"], 5);
    expect(await c.traffic.activateAll(64), "entities activated by a first ask, with no fault").to.equal(KEYS.length);
    c.phase("activate all");
    c.traffic.start(LOOPS_PER_CLIENT);
    await c.moreAcks("before the stall", STEADY_ACKS);

    const zombie = c.hosts.find((h) => h.id === "h2")!;
    zombie.process.child.kill("SIGSTOP");
    try {
      await eventually("every client has lost h2", () => c.allSee(["h1", "h3"]), 15_000);
      c.phase("every client has lost h2");
      await c.moreAcks("while h2 is stopped", STEADY_ACKS);
    } finally {
      zombie.process.child.kill("SIGCONT");
    }
    await eventually("every client sees h2 again", () => c.allSee(["h1", "h2", "h3"]), 15_000);
    c.phase("every client sees h2 again");
    await c.moreAcks("after h2 woke", STEADY_ACKS);
    c.hosts.find((h) => h.id === "h3")!.process.child.kill("SIGKILL");
    await eventually("every client has lost h3", () => c.allSee(["h1", "h2"]), 15_000);
    c.phase("every client has lost h3");
    await c.everyKeyAnswersSince("after h3 was lost", Date.now());
    const { failed } = await c.finish();
    // Every op got through in the end, so the check above has no slack: each ledger is exactly its ops.
    expect(failed, "ops still failing after 5 retries").to.equal(0);
    expect(Object.keys(c.traffic.retried).length, "asks failed and were retried").to.be.above(0);
  });

  it("entities: when a node joins under traffic, the keys it wins move to it and the stored state is exactly the acknowledged effects", async () => {
    const c = await setUp("join", ["h1", "h2"]);
    expect(await c.traffic.activateAll(64), "entities activated by a first ask, with no fault").to.equal(KEYS.length);
    c.phase("activate all");
    c.traffic.start(LOOPS_PER_CLIENT);
    await c.moreAcks("before the join", STEADY_ACKS);

    await c.startHost("h3", 2);
    await eventually("every client sees h3", () => c.allSee(["h1", "h2", "h3"]), 15_000);
    c.phase("every client sees h3");
    const joinedAt = Date.now();
    await c.everyKeyAnswersSince("after h3 joined", joinedAt);
    // About a third of the keys moved to h3 (rendezvous hashing), the rest stayed where they were.
    const answered = c.traffic.answeredSince(joinedAt);
    expect(Object.keys(answered).sort()).to.deep.equal(["h1", "h2", "h3"]);

    // `troupe actors` lists the live copies under the nodes that hold them.
    const actors = runTroupe(["actors", "--nats", cluster.urls[1]!, "--system", "it-entities-join", "--json", "--wait", "1500"]);
    expect(await actors.exited).to.equal(0);
    const listed = (JSON.parse(actors.stdout()) as { actors: { node: string; path: string; kind: string }[] }).actors.filter((a) => a.kind === "entity.ledger");
    expect(new Set(listed.map((a) => a.node))).to.deep.equal(new Set(["h1", "h2", "h3"]));
    expect(new Set(listed.map((a) => a.path)).size, "entities live somewhere").to.equal(KEYS.length);
    await c.finish();

    // `troupe entities` reads the same objects from fake-gcs-server.
    const entities = runTroupe(["entities", "ledger", "--state", `gs://${gcs.bucket}/case-join`, "--limit", "3", "--json"], { STORAGE_EMULATOR_HOST: gcs.endpoint });
    expect(await entities.exited, entities.stderr()).to.equal(0);
    expect(JSON.parse(entities.stdout())).to.deep.include({ total: KEYS.length, next: "e10" });
  });
});

/** Every stored ledger under `prefix`, read straight from the emulator with @google-cloud/storage. */
async function readLedgers(gcs: FakeGcs, prefix: string): Promise<Map<string, number[]>> {
  const { Storage } = await import("@google-cloud/storage");
  const bucket = new Storage({ apiEndpoint: gcs.endpoint, projectId: "test" }).bucket(gcs.bucket);
  const [files] = await bucket.getFiles({ prefix });
  const ledgers = new Map<string, number[]>();
  for (let i = 0; i < files.length; i += 200) {
    await Promise.all(
      files.slice(i, i + 200).map(async (file) => {
        const [bytes] = await file.download();
        ledgers.set(file.name.slice(prefix.length), Ledger.decode(decodeEntityObject(bytes).state).ops);
      }),
    );
  }
  return ledgers;
}
