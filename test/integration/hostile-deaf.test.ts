import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { ActorSystem, connectNats, type EmbeddedNats, type SystemEvent, type TransportEvent } from "../../runtime/index.js";
import { GetStats, Ping, Stats } from "../../examples/ping-pong/messages.js";
import { troupe } from "../../proto/gen/troupe.js";
import { counter } from "../fixtures/counter.js";
import { eventually } from "../helpers/conditions.js";
import { heapUsedBytes, hostileScene as startScene, keepsAnsweringDuring, legitimateAsk, type HostileScene } from "../helpers/hostile-bus.js";
import { natsServerFor } from "../helpers/nats.js";
import { startNatsWithConfig } from "../helpers/nats-with-config.js";
import { runTroupe } from "../helpers/troupe-process.js";

/** What `troupe actors --json` prints (its last line). */
interface ActorsJson {
  readonly system: string;
  readonly actors: { node: string; path: string; children: unknown[] }[];
  readonly missing?: { node: string; listed: number; total: number }[];
}

function countTree(nodes: readonly { node: string; children: unknown[] }[], node: string): number {
  let n = 0;
  for (const a of nodes) n += (a.node === node ? 1 : 0) + countTree(a.children as { node: string; children: unknown[] }[], node);
  return n;
}

/** Resolves with what `promise` resolved with, or with `timedOut` after `ms`. */
function within<T, U>(promise: Promise<T>, ms: number, timedOut: U): Promise<T | U> {
  return Promise.race([promise, new Promise<U>((resolve) => setTimeout(() => resolve(timedOut), ms).unref())]);
}

/**
 * The times at which `node`'s membership messages reach a raw connection: its heartbeats (to its
 * monitors on `membership.to.<monitor>` with ring membership, the default) and its own notices on
 * `membership.changes` (a lone node has no monitors: its `joined` is all it sends).
 */
function heartbeatsOf(connection: NatsConnection, system: string, node: string): number[] {
  const seen: number[] = [];
  connection.subscribe(`troupe.${system}.membership.>`, {
    callback: (error, msg) => {
      if (error) return;
      try {
        const sender = msg.subject.endsWith(".changes") ? troupe.membership.MembershipChange.decode(msg.data).reporter : troupe.membership.NodeHeartbeat.decode(msg.data).node;
        if (sender === node) seen.push(Date.now());
      } catch {
        // not a heartbeat: someone else's business
      }
    },
  });
  return seen;
}

/** The nats.js connection under a transport made by connectNats: to break it from below in these tests. */
function natsConnectionOf(system: ActorSystem): NatsConnection & { protocol: { processMsg: (...args: unknown[]) => void } } {
  return (system.transport as unknown as { connection: NatsConnection & { protocol: { processMsg: (...args: unknown[]) => void } } }).connection;
}

describe("hostile client: never deaf (integration: nats-server)", function () {
  this.timeout(60_000);
  let nats: EmbeddedNats;

  before(async function () {
    nats = await natsServerFor(this);
  });

  after(async () => {
    await nats?.stop();
  });

  // Scenes are closed after each test, within a bound: a deaf node cannot drain, and its hang must
  // fail this hook rather than hide the test's own failure.
  const scenes: HostileScene[] = [];
  const hostileScene = async (server: EmbeddedNats): Promise<HostileScene> => {
    const scene = await startScene(server);
    scenes.push(scene);
    return scene;
  };
  afterEach(async () => {
    const closing = scenes.splice(0).map((scene) => scene.close());
    expect(await within(Promise.all(closing), 15_000, "hung"), "closing the scene (a deaf node cannot drain)").to.not.equal("hung");
  });

  it("never deaf: a node with 50,000 actors answers `troupe actors` with every one of them, over several replies, and keeps answering asks", async () => {
    const scene = await hostileScene(nats);
    for (let i = 0; i < 50_000; i++) scene.victim.spawn(counter, { name: `c${i}` });
    const heapBefore = heapUsedBytes();
    let json: ActorsJson | undefined;
    let stderr = "";
    await keepsAnsweringDuring(scene, async () => {
      const cli = runTroupe(["actors", "--nats", nats.url, "--system", scene.system, "--json", "--wait", "2000"]);
      expect(await cli.exited, cli.stderr()).to.equal(0);
      stderr = cli.stderr();
      json = JSON.parse(cli.stdout().trim().split("\n").at(-1)!) as ActorsJson;
    });
    expect(stderr).to.equal("");
    // The counter of the scene, and the 50,000 others, from the victim; the caller hosts nothing.
    expect(countTree(json!.actors, "victim")).to.equal(50_001);
    expect(json!.missing ?? []).to.deep.equal([]);
    await legitimateAsk(scene);
    expect(heapUsedBytes() - heapBefore, "heap growth while listing (bytes)").to.be.below(200 * 1024 * 1024);
  });

  it("never deaf: a throw inside a transport callback (and inside a transport event listener) is caught and reported, and the node keeps receiving", async () => {
    const scene = await hostileScene(nats);
    const events: TransportEvent[] = [];
    scene.victim.onEvent((event: SystemEvent) => void (event.type === "transport" && events.push(event.event)));
    // A subscription whose callback throws on every message, and an event listener that throws too.
    const poisoned = `troupe.${scene.system}.poisoned`;
    scene.victim.transport.subscribe(poisoned, () => {
      throw new Error("injected: this callback throws");
    });
    scene.victim.transport.onEvent(() => {
      throw new Error("injected: this listener throws");
    });
    await scene.victim.transport.flush();
    await keepsAnsweringDuring(scene, async () => {
      for (let i = 0; i < 100; i++) scene.attacker.publish(poisoned, new Uint8Array([i]));
      await scene.attacker.flush();
      await eventually("the victim reported 100 failed callbacks", () => events.filter((e) => e.type === "callback-failed").length === 100, 5_000);
    });
    const last = events.filter((e) => e.type === "callback-failed").at(-1);
    expect(last).to.deep.include({ type: "callback-failed", subject: poisoned, failures: 100 });
    expect(last?.type === "callback-failed" && last.error.message).to.equal("injected: this callback throws");
    expect(await within(scene.victim.closed(), 100, "open")).to.equal("open");
  });

  it("never deaf: a node whose connection stops reading closes with an error and stops heartbeating, instead of heartbeating on deaf", async () => {
    const scene = await hostileScene(nats);
    const beats = heartbeatsOf(scene.attacker, scene.system, "victim");
    await eventually("the victim heartbeats", () => beats.length > 0);
    // Below every guard: nats.js itself throws while reading, which ends its read loop for good.
    natsConnectionOf(scene.victim).protocol.processMsg = () => {
      throw new Error("injected: the read loop dies");
    };
    const started = Date.now();
    const closedWith = await within(scene.victim.closed(), 8_000, "still open after 8 s");
    expect(closedWith).to.be.instanceOf(Error);
    expect((closedWith as Error).message).to.match(/stopped (reading|delivering)/);
    expect(Date.now() - started, "time to notice (ms)").to.be.below(5_000);
    const beatsAtClose = beats.length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(beats.length, "heartbeats after the node closed").to.equal(beatsAtClose);
  });

  it("never deaf: shutting down a node whose read loop has just ended finishes: it cannot drain, so it closes", async () => {
    const scene = await hostileScene(nats);
    let loopEnded = false;
    natsConnectionOf(scene.victim).protocol.processMsg = () => {
      loopEnded = true;
      throw new Error("injected: the read loop dies");
    };
    // Any message for the victim ends its read loop; then it is asked to shut down, before it noticed.
    scene.attacker.publish(`troupe.${scene.system}.membership.changes`, new Uint8Array(0));
    await scene.attacker.flush();
    await eventually("the victim's read loop to end", () => loopEnded, 5_000);
    const started = Date.now();
    expect(await within(scene.victim.shutdown(), 8_000, "still shutting down after 8 s")).to.equal(undefined);
    expect(Date.now() - started, "shutdown (ms)").to.be.below(4_000);
  });

  it("never deaf: `troupe node` whose connection stops reading says so and exits 1, and its heartbeats stop", async () => {
    const system = "deafnode";
    const attacker = await connect({ servers: nats.url, name: "observer" });
    try {
      const beats = heartbeatsOf(attacker, system, "w1");
      const node = runTroupe(["node", "--nats", nats.url, "--system", system, "--node-id", "w1", "--module", "test/fixtures/deaf-worker-topology.ts"]);
      await node.ready();
      await eventually("w1 heartbeats", () => beats.length > 0);
      // A lone node hears nothing of its own (ring membership): give its read loop messages to read.
      const poke = setInterval(() => attacker.publish(`troupe.${system}.membership.changes`, new Uint8Array(0)), 200);
      const exited = await within(node.exited, 8_000, "still running after 8 s").finally(() => clearInterval(poke));
      if (exited === "still running after 8 s") await node.stop(1_000);
      expect(exited, node.stderr()).to.equal(1);
      expect(node.stderr()).to.match(/\[w1\] stopped: the NATS connection to \S+ stopped reading/);
      const beatsAtExit = beats.length;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(beats.length, "heartbeats after the node exited").to.equal(beatsAtExit);
    } finally {
      await attacker.close();
    }
  });

  it("never deaf: a node whose subscription is closed by the server (permissions tightened on reload) closes with an error that names it", async function () {
    const dir = mkdtempSync(join(tmpdir(), "troupe-deaf-"));
    const system = "deafperm";
    const config = (victimSubscribe: string): string => `
      listen: "127.0.0.1:-1"
      authorization {
        users = [
          { user: "victim", password: "v", permissions: { publish: { allow: [">"] }, subscribe: { ${victimSubscribe} } } }
          { user: "other", password: "o" }
        ]
      }
    `;
    const server = await startNatsWithConfig(this, dir, config(`allow: [">"]`));
    try {
      const victim = await ActorSystem.start({ name: system, nodeId: "victim", transport: await connectNats({ servers: server.url, user: "victim", pass: "v" }), types: [Ping, GetStats, Stats] });
      const events: SystemEvent[] = [];
      victim.onEvent((event) => events.push(event));
      writeFileSync(server.configFile, config(`allow: [">"], deny: ["troupe.${system}.actors.victim"]`));
      process.kill(server.pid, "SIGHUP");
      const closedWith = await within(victim.closed(), 8_000, "still open after 8 s");
      expect(closedWith).to.be.instanceOf(Error);
      expect((closedWith as Error).message).to.include(`troupe.${system}.actors.victim`);
      await victim.shutdown();
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
