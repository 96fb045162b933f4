import { expect } from "chai";
import { ManualClock } from "../../runtime/testkit/manual-clock.js";
import { Subjects } from "../../runtime/subjects.js";
import { MemoryNetwork } from "../../runtime/transport/memory-network.js";
import type { Transport } from "../../runtime/transport/transport.js";
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from "../../runtime/membership/heartbeat.js";
import { Membership, type MembershipEvent, type MembershipOptions } from "../../runtime/membership/membership.js";
import { settle } from "../helpers/conditions.js";

const SUBJECT = new Subjects("troupe", "unit").heartbeat;

describe("membership (in-memory network, manual clock)", () => {
  let network: MemoryNetwork;
  let clock: ManualClock;
  let started: Membership[];
  let local: Record<string, { kinds: string[]; actorCount: number }>;
  let raw: Transport;

  beforeEach(() => {
    network = new MemoryNetwork();
    clock = new ManualClock(1_000_000);
    started = [];
    local = {};
    raw = network.connect("raw");
  });
  afterEach(() => Promise.all(started.map((m) => m.stop())));

  const member = (nodeId: string, options: Partial<MembershipOptions> = {}): Membership =>
    new Membership({
      transport: network.connect(nodeId),
      subject: SUBJECT,
      nodeId,
      clock,
      localInfo: () => local[nodeId] ?? { kinds: [], actorCount: 0 },
      ...options,
    });
  const start = async (nodeId: string, options: Partial<MembershipOptions> = {}): Promise<Membership> => {
    const m = member(nodeId, options);
    await m.start();
    started.push(m);
    await settle();
    return m;
  };
  /** Moves time in small steps, letting deliveries (queued as microtasks) land between steps, as on a real network. */
  const advance = async (ms: number, stepMs = 10): Promise<void> => {
    for (let done = 0; done < ms; done += stepMs) {
      clock.advance(Math.min(stepMs, ms - done));
      await settle();
    }
  };
  const record = (m: Membership): string[] => {
    const seen: string[] = [];
    m.onEvent((e) => seen.push(describe(e)));
    return seen;
  };
  const describe = (e: MembershipEvent): string => `${e.type} ${e.node.node}${e.type === "restarted" ? ` (was ${e.previousIncarnation})` : ""}`;
  const beat = (fields: Partial<Heartbeat>): Heartbeat => ({ node: "z", incarnation: "i1", startedAtMs: 0, kinds: [], actorCount: 0, intervalMs: 500, leaving: false, ...fields });
  const publishRaw = async (bytes: Uint8Array): Promise<void> => {
    raw.publish(SUBJECT, bytes);
    await settle();
  };

  it("membership: nodes that start see each other join, and each lists itself too", async () => {
    const a = await start("a");
    const seenByA = record(a);
    const b = await start("b");
    await start("c");
    expect(seenByA).to.deep.equal(["joined b", "joined c"]);
    expect(a.nodes().map((n) => [n.node, n.self])).to.deep.equal([["a", true], ["b", false], ["c", false]]);
    // b heard a's first heartbeat only on a's next interval, since a announced before b listened.
    await advance(a.intervalMs);
    expect(b.nodes().map((n) => n.node)).to.deep.equal(["a", "b", "c"]);
    expect(a.isAlive("b")).to.equal(true);
    expect(a.isAlive("nobody")).to.equal(false);
  });

  it("membership: a heartbeat carries the node's kinds and actor count, read afresh at every interval", async () => {
    const heard: Heartbeat[] = [];
    raw.subscribe(SUBJECT, (m) => {
      const decoded = decodeHeartbeat(m.data);
      if (decoded.ok) heard.push(decoded.heartbeat);
    });
    const a = await start("a");
    local.b = { kinds: ["player", "pinger"], actorCount: 3 };
    const b = await start("b");
    expect(heard.at(-1)).to.deep.equal({ node: "b", incarnation: b.incarnation, startedAtMs: clock.now(), kinds: ["player", "pinger"], actorCount: 3, intervalMs: 500, leaving: false, system: "" });
    expect(a.nodes().find((n) => n.node === "b")).to.include({ actorCount: 3, incarnation: b.incarnation, lastSeenMs: clock.now() });

    local.b = { kinds: ["player"], actorCount: 7 };
    await advance(500);
    const seen = a.nodes().find((n) => n.node === "b")!;
    expect(seen.kinds).to.deep.equal(["player"]);
    expect(seen.actorCount).to.equal(7);
    expect(seen.lastSeenMs).to.equal(clock.now());
  });

  it("membership: a silent node is lost once failureTimeoutMs has passed since its last heartbeat, not before", async () => {
    const a = await start("a");
    const lostAt: number[] = [];
    a.onEvent((e) => e.type === "lost" && lostAt.push(clock.now()));
    const bTransport = network.connect("b");
    const b = new Membership({ transport: bTransport, subject: SUBJECT, nodeId: "b", clock, localInfo: () => ({ kinds: [], actorCount: 0 }) });
    await b.start();
    await advance(1_000);
    const lastSeen = a.nodes().find((n) => n.node === "b")!.lastSeenMs;
    // As if the process were killed: the connection goes away without a word from the node.
    await bTransport.close();
    expect(b.nodes(), "a membership stops with its transport").to.deep.equal([]);

    await advance(lastSeen + a.failureTimeoutMs - clock.now());
    expect(lostAt).to.deep.equal([]);
    expect(a.isAlive("b")).to.equal(true);
    await advance(a.checkPeriodMs);
    expect(lostAt).to.have.length(1);
    expect(lostAt[0]! - lastSeen).to.be.above(a.failureTimeoutMs).and.at.most(a.failureTimeoutMs + a.checkPeriodMs);
    expect(a.isAlive("b")).to.equal(false);
    expect(a.nodes().map((n) => n.node)).to.deep.equal(["a"]);
  });

  it("membership: an observer that was stalled reads the heartbeats that waited before judging anyone lost", async () => {
    // The observer's clock jumps as if its event loop had been blocked for 3 s; meanwhile b's
    // heartbeats waited in the socket, so b must not be reported lost on the first late check.
    let stalledMs = 0;
    const observerClock = { now: () => clock.now() + stalledMs, setTimeout: clock.setTimeout.bind(clock), clearTimeout: clock.clearTimeout.bind(clock) };
    const a = await start("a", { clock: observerClock });
    const seen = record(a);
    await start("b");
    await advance(1_000);
    stalledMs = 3_000;
    await advance(2_000);
    expect(seen).to.deep.equal(["joined b"]);
    expect(a.isAlive("b")).to.equal(true);
  });

  it("membership: a node that stops says so and has left once silent for one interval (and a quarter) after its last heartbeat, well before the timeout", async () => {
    const a = await start("a");
    const seen = record(a);
    const b = await start("b");
    await advance(200);
    await b.stop();
    await settle();
    expect(seen, "not on the notice alone").to.deep.equal(["joined b"]);
    expect(a.isAlive("b")).to.equal(true);
    // b's last heartbeat came 200 ms ago: it has left once a.silenceMs (625) have passed since.
    await advance(a.silenceMs - 200 - 10);
    expect(seen).to.deep.equal(["joined b"]);
    await advance(10);
    expect(seen).to.deep.equal(["joined b", "left b"]);
    expect(a.isAlive("b")).to.equal(false);
    await advance(5_000, 100);
    expect(seen).to.deep.equal(["joined b", "left b"]);
  });

  it("membership: a new run under a live node id is reported restarted, and stale heartbeats of the old run change nothing", async () => {
    const a = await start("a");
    const seen = record(a);
    const oldTransport = network.connect("b-old");
    const old = new Membership({ transport: oldTransport, subject: SUBJECT, nodeId: "b", clock, localInfo: () => ({ kinds: [], actorCount: 0 }) });
    await old.start();
    await settle();
    await oldTransport.close();
    await advance(100);
    const restarted = await start("b");
    // Believed once the old run has been silent for silenceMs (625 ms after its last heartbeat).
    expect(seen, "not while the old run may still be alive").to.deep.equal(["joined b"]);
    await advance(a.silenceMs - 100);
    expect(seen).to.deep.equal(["joined b", `restarted b (was ${old.incarnation})`]);
    expect(a.nodes().find((n) => n.node === "b")!.incarnation).to.equal(restarted.incarnation);

    // The old run, paused and resumed (a zombie), still talks: the later-started run keeps the id.
    await publishRaw(encodeHeartbeat(beat({ node: "b", incarnation: old.incarnation, startedAtMs: clock.now() - 100 })));
    expect(seen).to.have.length(2);
    expect(a.nodes().find((n) => n.node === "b")!.incarnation).to.equal(restarted.incarnation);
  });

  it("membership: a new run whose old run is already silent for an interval is reported restarted at once (a killed process replaced)", async () => {
    const a = await start("a");
    const seen = record(a);
    const oldTransport = network.connect("b-old");
    const old = new Membership({ transport: oldTransport, subject: SUBJECT, nodeId: "b", clock, localInfo: () => ({ kinds: [], actorCount: 0 }) });
    await old.start();
    await oldTransport.close();
    await advance(a.silenceMs);
    const restarted = await start("b");
    expect(seen).to.deep.equal(["joined b", `restarted b (was ${old.incarnation})`]);
    expect(a.nodes().find((n) => n.node === "b")!.incarnation).to.equal(restarted.incarnation);
  });

  it("membership: a forged restart interleaved with the live node's heartbeats never replaces it, and each refuted claim is counted", async () => {
    const a = await start("a");
    const seen = record(a);
    const b = await start("b");
    for (let i = 0; i < 8; i++) {
      await publishRaw(encodeHeartbeat(beat({ node: "b", incarnation: `forged-${i}`, startedAtMs: clock.now() + 1_000 })));
      await advance(b.intervalMs);
    }
    expect(seen).to.deep.equal(["joined b"]);
    expect(a.nodes().find((n) => n.node === "b")!.incarnation).to.equal(b.incarnation);
    expect(a.refused()["incarnation-conflict"]).to.equal(8);
  });

  it("membership: a forged leave notice is refuted by the node's next heartbeat and counted; a leave of a node never seen changes nothing", async () => {
    const a = await start("a");
    const seen = record(a);
    const b = await start("b");
    await advance(100);
    await publishRaw(encodeHeartbeat(beat({ node: "b", incarnation: b.incarnation, leaving: true })));
    await publishRaw(encodeHeartbeat(beat({ node: "nobody", leaving: true })));
    await advance(3 * b.intervalMs);
    expect(seen).to.deep.equal(["joined b"]);
    expect(a.isAlive("b")).to.equal(true);
    expect(a.refused()["leave-contradicted"]).to.equal(1);
  });

  it("membership: every peer is judged by this node's own timeout, whatever interval its heartbeats claim", async () => {
    const a = await start("a");
    const seen = record(a);
    await publishRaw(encodeHeartbeat(beat({ node: "ghost", intervalMs: 0xffff_ffff })));
    await advance(a.failureTimeoutMs + a.checkPeriodMs);
    expect(seen).to.deep.equal(["joined ghost", "lost ghost"]);
    expect(a.isAlive("ghost")).to.equal(false);
  });

  it("membership: heartbeats over maxKindsPerNode, with invalid kinds, of another system, or of nodes beyond maxNodes are refused and counted", async () => {
    const invalid: string[] = [];
    const a = await start("a", { system: "unit", maxNodes: 3, maxKindsPerNode: 4, onInvalid: (detail, _bytes, reason) => invalid.push(`${reason}: ${detail}`) });
    await publishRaw(encodeHeartbeat(beat({ node: "k1", kinds: ["a", "b", "c", "d", "e"] })));
    await publishRaw(encodeHeartbeat(beat({ node: "k2", kinds: ["ok", "bad\u001b[31m"] })));
    await publishRaw(encodeHeartbeat(beat({ node: "k3", kinds: ["x".repeat(129)] })));
    await publishRaw(encodeHeartbeat(beat({ node: "k4", system: "other" })));
    await publishRaw(encodeHeartbeat(beat({ node: "k5", incarnation: "i".repeat(65) })));
    for (const node of ["n1", "n2", "n3", "n4"]) await publishRaw(encodeHeartbeat(beat({ node, kinds: ["a", "b", "c", "d"], system: node === "n1" ? "unit" : "" })));
    expect(a.nodes().map((n) => n.node)).to.deep.equal(["a", "n1", "n2", "n3"]);
    expect(a.refused()).to.deep.include({ "kinds-over-limit": 1, "invalid-kind": 2, "foreign-system": 1, malformed: 1, "nodes-over-limit": 1 });
    expect(invalid[0]).to.equal("kinds-over-limit: heartbeat from node k1 lists 5 kinds (maxKindsPerNode 4)");
    expect(invalid[3]).to.equal('foreign-system: heartbeat from node k4 of system "other", not unit');
    expect(invalid.at(-1)).to.equal("nodes-over-limit: heartbeat from node n4 refused: already tracking maxNodes (3) nodes");
    // A slot frees up when a node is lost.
    await advance(a.failureTimeoutMs + a.checkPeriodMs);
    await publishRaw(encodeHeartbeat(beat({ node: "n4" })));
    expect(a.nodes().map((n) => n.node)).to.deep.equal(["a", "n4"]);
  });

  it("membership: a lost node that speaks again with the same incarnation has joined again (a resumed zombie)", async () => {
    const a = await start("a");
    const seen = record(a);
    await publishRaw(encodeHeartbeat(beat({ node: "z", incarnation: "i1" })));
    await advance(a.failureTimeoutMs + a.checkPeriodMs);
    await publishRaw(encodeHeartbeat(beat({ node: "z", incarnation: "i1" })));
    expect(seen).to.deep.equal(["joined z", "lost z", "joined z"]);
  });

  it("membership: malformed heartbeats go to onInvalid and change nothing; the node keeps working", async () => {
    const invalid: string[] = [];
    const a = await start("a", { onInvalid: (detail, bytes) => invalid.push(`${detail} [${bytes.length} bytes]`) });
    const seen = record(a);
    a.onEvent(() => {
      throw new Error("a faulty listener");
    });
    await publishRaw(new Uint8Array([0x0a, 0x05, 0x01]));
    await publishRaw(new TextEncoder().encode("hello, not protobuf"));
    await publishRaw(encodeHeartbeat(beat({ node: "a.b" })));
    await publishRaw(encodeHeartbeat(beat({ incarnation: "" })));
    await publishRaw(encodeHeartbeat(beat({ node: "a", incarnation: "someone-else" })));
    await publishRaw(encodeHeartbeat(beat({ node: "big", server: "s".repeat(512 * 1024) })));
    expect(invalid).to.have.length(6);
    expect(invalid[0]).to.match(/^not a troupe\.membership\.NodeHeartbeat: .+ \[3 bytes\]$/);
    expect(invalid[2]).to.match(/^heartbeat with invalid node id "a\.b"/);
    expect(invalid[3]).to.match(/^heartbeat from node z has no incarnation/);
    expect(invalid[4]).to.match(/^another process is using this node's id a \(incarnation someone-else\)/);
    expect(invalid[5]).to.match(/^heartbeat from node big names a server of 524288 characters \(at most 128\)/);
    expect(a.nodes().map((n) => n.node)).to.deep.equal(["a"]);

    await start("b");
    expect(seen).to.deep.equal(["joined b"]);
  });

  it("membership: waitForNode resolves when the node joins, and rejects when it is not seen in time", async () => {
    const a = await start("a");
    const waiting = a.waitForNode("b", 1_000);
    await start("b");
    expect((await waiting).node).to.equal("b");
    expect((await a.waitForNode("b", 1_000)).node, "already alive").to.equal("b");
    const never = a.waitForNode("nobody", 1_000).then(() => undefined, (e: Error) => e.message);
    await advance(1_000, 100);
    expect(await never).to.equal("node nobody was not seen by node a within 1000 ms");
  });

  it("membership: options are checked with clear errors", () => {
    expect(() => member("a", { intervalMs: 500, failureTimeoutMs: 500 })).to.throw(RangeError, "failureTimeoutMs (500) must be greater than intervalMs (500)");
    expect(() => member("a", { intervalMs: 0 })).to.throw(RangeError, "intervalMs must be a whole number of milliseconds from 1 to 2^32-1, got 0");
    expect(() => member("a", { intervalMs: 2.5 })).to.throw(RangeError, "got 2.5");
    expect(() => member("a", { failureTimeoutMs: Number.NaN })).to.throw(RangeError, "failureTimeoutMs (NaN)");
    expect(() => member("a.b")).to.throw(TypeError, 'Invalid node id "a.b"');
    expect(() => member("a", { subject: "" })).to.throw(TypeError, "heartbeat subject");
    expect(() => member("a", { maxNodes: 0 })).to.throw(RangeError, "maxNodes must be a whole number of at least 1, got 0");
    expect(() => member("a", { maxKindsPerNode: 1.5 })).to.throw(RangeError, "maxKindsPerNode must be a whole number of at least 1, got 1.5");
    expect(member("a")).to.include({ maxNodes: 1_000, maxKindsPerNode: 256, silenceMs: 625 });
    const m = member("a", { intervalMs: 1_000, failureTimeoutMs: 2_000 });
    expect(m.checkPeriodMs, "a quarter of the timeout when that is shorter than the interval").to.equal(500);
    expect(member("a").checkPeriodMs).to.equal(500);
  });
});
