import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { ActorSystem, AskFailedError, AskTimeoutError, connectNats, type EmbeddedNats } from "../../runtime/index.js";
import { Ping, Pong } from "../../examples/ping-pong/messages.js";
import { eventuallyAsync } from "../helpers/conditions.js";
import { natsServerFor } from "../helpers/nats.js";
import { monitorJson, startNatsWithConfig, type ConfiguredNats } from "../helpers/nats-with-config.js";
import { runTroupe, type TroupeProcess } from "../helpers/troupe-process.js";

const SYSTEM = "svc";
const TOTAL = 1_500;
const IN_FLIGHT = 24;
const ASK_TIMEOUT_MS = 3_000;

interface Outcome {
  readonly seq: number;
  readonly startedAt: number;
  readonly node?: string;
  readonly error?: string;
}

describe("services: a queue group of three member processes under load (integration: nats-server, troupe node)", function () {
  this.timeout(120_000);
  let dir: string;
  // With monitoring, to see when the server has dropped a killed member's connection.
  let nats: ConfiguredNats;
  let members: TroupeProcess[];
  let caller: ActorSystem;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), "troupe-services-"));
    nats = await startNatsWithConfig(this, dir, "# defaults: no auth, no JetStream\n");
  });
  after(async () => {
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    members = ["m1", "m2", "m3"].map((id) => runTroupe(["node", "--nats", nats.url, "--system", SYSTEM, "--node-id", id, "--module", "test/fixtures/echo-service-topology.ts"]));
    await Promise.all(members.map((m) => m.ready(60_000)));
    const transport = await connectNats({ servers: nats.url, inboxPrefix: `troupe.${SYSTEM}._INBOX` });
    caller = await ActorSystem.start({ name: SYSTEM, nodeId: "caller", transport, types: [Ping, Pong], membership: false });
  });
  afterEach(async () => {
    await caller?.shutdown();
    await Promise.all(members.map((m) => m.stop()));
  });

  /** `TOTAL` asks to the service, `IN_FLIGHT` at a time; `during` runs once `after` of them are answered. */
  async function askUnderLoad(after: number, during: () => Promise<void>): Promise<{ outcomes: Outcome[]; duringDoneAt: number }> {
    const echo = caller.serviceRef<Ping>("echo");
    const outcomes: Outcome[] = [];
    let next = 0;
    let duringDoneAt = Infinity;
    let disruption: Promise<void> | undefined;
    const worker = async (): Promise<void> => {
      while (next < TOTAL) {
        const seq = next++;
        const startedAt = Date.now();
        try {
          const pong = await echo.ask(Ping.create({ seq }), Pong, { timeoutMs: ASK_TIMEOUT_MS });
          outcomes.push({ seq, startedAt, node: pong.seq === seq ? pong.node : `wrong seq ${pong.seq}` });
        } catch (error) {
          outcomes.push({ seq, startedAt, error: error instanceof AskTimeoutError ? "timeout" : error instanceof AskFailedError ? `failed ${error.reason}` : String(error) });
        }
        if (outcomes.length === after) disruption = during().then(() => void (duringDoneAt = Date.now()));
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    await disruption;
    return { outcomes, duringDoneAt };
  }

  const byNode = (outcomes: readonly Outcome[]): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const o of outcomes) counts[o.node ?? o.error!] = (counts[o.node ?? o.error!] ?? 0) + 1;
    return counts;
  };

  it("one member SIGKILLed under load: every ask is answered or fails visibly (a timeout, for those it had accepted), and the others take the rest", async () => {
    const { outcomes, duringDoneAt } = await askUnderLoad(300, async () => {
      const connections = async (): Promise<{ name?: string }[]> => (await monitorJson<{ connections: { name?: string }[] }>(nats, "/connz")).connections;
      expect((await connections()).some((c) => c.name === "troupe-node m2"), "m2's connection, by its name").to.equal(true);
      members[1]!.child.kill("SIGKILL");
      await members[1]!.exited;
      await eventuallyAsync("the server to drop m2's connection (and with it its queue subscription)", async () => !(await connections()).some((c) => c.name === "troupe-node m2"));
    });
    const counts = byNode(outcomes);
    expect(outcomes).to.have.length(TOTAL);
    expect(new Set(outcomes.map((o) => o.seq)).size).to.equal(TOTAL);
    // Only answers from a member with the right seq, or timeouts: nothing else, nothing missing.
    expect(Object.keys(counts).sort()).to.satisfy((keys: string[]) => keys.every((k) => ["m1", "m2", "m3", "timeout"].includes(k)), JSON.stringify(counts));
    expect(counts.m1).to.be.greaterThan(100);
    expect(counts.m2).to.be.greaterThan(50);
    expect(counts.m3).to.be.greaterThan(100);
    // At most what m2 held when it died can be lost: never more than the asks in flight.
    expect(counts.timeout ?? 0).to.be.at.most(IN_FLIGHT);
    // Asks sent once NATS has seen m2 go are all answered, by the two others.
    const later = outcomes.filter((o) => o.startedAt > duringDoneAt);
    expect(later.length).to.be.greaterThan(100);
    expect(later.filter((o) => o.node !== "m1" && o.node !== "m3")).to.deep.equal([]);
    console.log(`      outcomes: ${JSON.stringify(counts)}`);
  });

  it("one member shut down gracefully (SIGTERM) under load: it drains, and every ask is answered", async () => {
    const { outcomes } = await askUnderLoad(300, async () => {
      expect(await members[0]!.stop()).to.equal(0);
    });
    const counts = byNode(outcomes);
    expect(outcomes.filter((o) => o.error !== undefined || !["m1", "m2", "m3"].includes(o.node!)), JSON.stringify(counts)).to.deep.equal([]);
    expect(counts.m1).to.be.greaterThan(50);
    expect(members[0]!.stderr()).to.not.match(/did not finish/);
    console.log(`      outcomes: ${JSON.stringify(counts)}`);
  });
});

describe("services: a cached service of two member processes sharing a NATS KV cache (integration: nats-server with JetStream, troupe node)", function () {
  this.timeout(120_000);
  let nats: EmbeddedNats;
  let members: TroupeProcess[];
  let caller: ActorSystem;

  before(async function () {
    nats = await natsServerFor(this);
    // The bucket outlives a run: a version of this run's own keeps earlier runs' entries out.
    const env = { NATS_URL: nats.url, TROUPE_CACHE: "nats-kv:", CACHE_VERSION: `${process.pid}-${Date.now()}` };
    members = ["m1", "m2"].map((id) => runTroupe(["node", "--system", "cached", "--node-id", id, "--module", "test/fixtures/cached-square-service-topology.ts"], env));
    await Promise.all(members.map((m) => m.ready(60_000)));
    const transport = await connectNats({ servers: nats.url, inboxPrefix: "troupe.cached._INBOX" });
    caller = await ActorSystem.start({ name: "cached", nodeId: "caller", transport, types: [Ping, Pong], membership: false });
  });
  after(async () => {
    await caller?.shutdown();
    await Promise.all((members ?? []).map((m) => m.stop()));
    await nats?.stop();
  });

  it("cached service: 100 identical asks at once over the two members are computed once, and asked again they are hits", async () => {
    const square = caller.serviceRef<Ping>("square");
    const ask = (): Promise<Pong> => square.ask(Ping.create({ seq: 12 }), Pong, { timeoutMs: 20_000 });
    const first = await Promise.all(Array.from({ length: 100 }, ask));
    // Each computation names itself (`<node>#<n>`): one name means one computation.
    expect(new Set(first.map((p) => `${p.seq} ${p.node}`))).to.have.length(1);
    expect(first[0]!.seq).to.equal(144);
    expect(first[0]!.node).to.match(/^m[12]#1$/);
    // One at a time: each finds the entry in the bucket.
    for (let i = 0; i < 20; i++) expect((await ask()).node).to.equal(first[0]!.node);

    const counters = await Promise.all(
      ["m1", "m2"].map(async (node) => JSON.parse((await caller.refFor<Ping>({ system: "cached", node, path: "/user/cache-counters" }).ask(Ping.create(), Pong)).node) as Record<string, number>),
    );
    console.log(`      cache counters m1 ${JSON.stringify(counters[0])}, m2 ${JSON.stringify(counters[1])}`);
    const total = (key: string): number => counters.reduce((sum, c) => sum + c[key]!, 0);
    expect([total("misses"), total("hits") + total("waits"), total("bypassed"), total("failures")]).to.deep.equal([1, 119, 0, 0]);
    expect(total("hits")).to.be.at.least(20);
    // NATS spread the asks over both members: the one that did not compute was answered through the bucket.
    expect(counters.every((c) => c.hits! + c.waits! + c.misses! > 0)).to.equal(true);
  });
});
