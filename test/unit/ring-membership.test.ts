import { expect } from "chai";
import { ActorSystem } from "../../runtime/actor-system.js";
import type { Clock, TimerHandle } from "../../runtime/clock.js";
import { MembershipChange, MembershipDigest, RosterPage } from "../../runtime/codec/wire-types.js";
import { encodeHeartbeat, type Heartbeat } from "../../runtime/membership/heartbeat.js";
import type { MembershipEvent } from "../../runtime/membership/node-table.js";
import { Ring } from "../../runtime/membership/ring.js";
import { MAX_ANSWERS_PER_CHECK, RingMembership, type RingMembershipOptions } from "../../runtime/membership/ring-membership.js";
import { encodeChange, kindOfDirect } from "../../runtime/membership/ring-messages.js";
import { serveRoster } from "../../runtime/membership/roster.js";
import { Subjects } from "../../runtime/subjects.js";
import { ManualClock } from "../../runtime/testkit/manual-clock.js";
import { MemoryNetwork } from "../../runtime/transport/memory-network.js";
import type { InboundMessage, Transport, Unsubscribe } from "../../runtime/transport/transport.js";
import { settle } from "../helpers/conditions.js";

const SYSTEM = "ring";
const subjects = new Subjects("troupe", SYSTEM);

/** A clock a node sees through: frozen, its timers wait, and run late (with the time of the thaw) once thawed: a paused process. */
class FreezableClock implements Clock {
  frozen = false;
  private held: (() => void)[] = [];
  constructor(private readonly base: ManualClock) {}
  now(): number {
    return this.base.now();
  }
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.base.setTimeout(() => (this.frozen ? this.held.push(callback) : callback()), delayMs);
  }
  clearTimeout(handle: TimerHandle): void {
    this.base.clearTimeout(handle);
  }
  thaw(): void {
    this.frozen = false;
    const held = this.held;
    this.held = [];
    for (const callback of held) callback();
  }
}

/** A node's transport that can drop what arrives on the changes subject, or be paused (nothing sent, arrivals held). */
class Controllable implements Transport {
  mode: "normal" | "deaf-to-changes" | "paused" = "normal";
  private held: (() => void)[] = [];
  readonly description: string;
  readonly maxPayload: number;
  constructor(
    private readonly inner: Transport,
    private readonly server = "",
  ) {
    this.description = inner.description;
    this.maxPayload = inner.maxPayload;
  }
  serverId(): string {
    return this.server;
  }
  publish(subject: string, data: Uint8Array, replyTo?: string): void {
    if (this.mode !== "paused") this.inner.publish(subject, data, replyTo);
  }
  subscribe(subject: string, onMessage: (message: InboundMessage) => void): Unsubscribe {
    return this.inner.subscribe(subject, (message) => {
      if (this.mode === "paused") this.held.push(() => onMessage(message));
      else if (this.mode !== "deaf-to-changes" || subject !== subjects.membershipChanges) onMessage(message);
    });
  }
  queueSubscribe(...args: Parameters<Transport["queueSubscribe"]>): ReturnType<Transport["queueSubscribe"]> {
    return this.inner.queueSubscribe(...args);
  }
  /** While set, answers to requests (the roster read at start) are held until it resolves. */
  requestGate: Promise<void> | undefined;
  requestsAnswered = 0;
  /** While set, replaces the answers to requests (a forged roster page in place of the real one). */
  rewriteReply: ((reply: Uint8Array) => Uint8Array) | undefined;
  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const reply = await this.inner.request(subject, data, timeoutMs);
    this.requestsAnswered++;
    await this.requestGate;
    return this.rewriteReply?.(reply) ?? reply;
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  onEvent(...args: Parameters<Transport["onEvent"]>): Unsubscribe {
    return this.inner.onEvent(...args);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  closed(): Promise<Error | undefined> {
    return this.inner.closed();
  }
  resume(): void {
    this.mode = "normal";
    const held = this.held;
    this.held = [];
    for (const deliver of held) deliver();
  }
}

interface Member {
  readonly id: string;
  readonly m: RingMembership;
  readonly transport: Controllable;
  readonly clock: FreezableClock;
  readonly events: string[];
  readonly invalid: string[];
  unserve: Unsubscribe;
}

describe("ring membership (in-memory network, manual clock)", () => {
  let network: MemoryNetwork;
  let clock: ManualClock;
  let members: Member[];
  let raw: Transport;
  let notices: { kind: number; node: string; reporter: string }[];

  beforeEach(() => {
    network = new MemoryNetwork();
    clock = new ManualClock(1_000_000);
    members = [];
    raw = network.connect("raw");
    notices = [];
    raw.subscribe(subjects.membershipChanges, (message) => {
      try {
        const change = MembershipChange.decode(message.data);
        notices.push({ kind: change.kind, node: change.node?.node ?? "", reporter: change.reporter });
      } catch {
        // forged garbage of a test
      }
    });
  });
  afterEach(async () => {
    for (const member of members) {
      member.unserve();
      await member.m.stop();
    }
  });

  const describeEvent = (e: MembershipEvent): string => `${e.type} ${e.node.node}`;
  const start = async (id: string, options: { server?: string; kinds?: string[]; requestGate?: Promise<void>; onTransport?: (t: Controllable) => void } & Partial<RingMembershipOptions> = {}): Promise<Member> => {
    const transport = new Controllable(network.connect(id), options.server);
    transport.requestGate = options.requestGate;
    options.onTransport?.(transport);
    const own = new FreezableClock(clock);
    const events: string[] = [];
    const invalid: string[] = [];
    const m = new RingMembership({ transport, subjects, nodeId: id, clock: own, localInfo: () => ({ kinds: options.kinds ?? [], actorCount: 0 }), onInvalid: (_d, _b, reason) => invalid.push(reason), ...options });
    m.onEvent((e) => events.push(describeEvent(e)));
    await m.start();
    // ActorSystem serves the roster once membership has started; so does this harness.
    const unserve = serveRoster({ transport, subject: subjects.membershipRoster, system: SYSTEM, nodeId: id, nodes: () => m.nodes() });
    const member = { id, m, transport, clock: own, events, invalid, unserve };
    members.push(member);
    await settle();
    return member;
  };

  /** Starts `id` with its roster request answered but the answer held until `release`; resolves once answered. */
  const startHoldingRoster = async (id: string): Promise<{ starting: Promise<Member>; release: () => void; transport: Controllable }> => {
    let release!: () => void;
    let transport!: Controllable;
    const starting = start(id, { requestGate: new Promise<void>((resolve) => (release = resolve)), onTransport: (t) => (transport = t) });
    for (let i = 0; i < 100 && transport.requestsAnswered === 0; i++) await settle();
    expect(transport.requestsAnswered, "roster answered").to.equal(1);
    return { starting, release, transport };
  };
  const startAll = async (ids: string[], options: { server?: (id: string, i: number) => string } = {}): Promise<Member[]> => {
    const out: Member[] = [];
    for (const [i, id] of ids.entries()) out.push(await start(id, { server: options.server?.(id, i) }));
    return out;
  };
  /** Kills a node silently: its transport closes without a `left` notice. */
  const kill = async (member: Member): Promise<void> => {
    member.unserve();
    members.splice(members.indexOf(member), 1);
    await member.transport.close();
  };
  const advance = async (ms: number, stepMs = 10): Promise<void> => {
    for (let done = 0; done < ms; done += stepMs) {
      clock.advance(Math.min(stepMs, ms - done));
      await settle();
    }
  };
  /** Advances until `condition` holds; returns the time it took. */
  const advanceUntil = async (what: string, condition: () => boolean, limitMs: number, stepMs = 10): Promise<number> => {
    const from = clock.now();
    while (!condition()) {
      if (clock.now() - from > limitMs) throw new Error(`not within ${limitMs} ms (manual clock): ${what}`);
      clock.advance(stepMs);
      await settle();
    }
    return clock.now() - from;
  };
  const ids = (m: RingMembership): string[] => m.nodes().map((n) => n.node);
  const beat = (fields: Partial<Heartbeat>): Heartbeat => ({ node: "z", incarnation: "i1", startedAtMs: 1, kinds: [], actorCount: 0, intervalMs: 500, leaving: false, system: SYSTEM, ...fields });

  it("ring: up to four members everyone monitors everyone; beyond, each node has three monitors and monitors three", () => {
    const ring = new Ring();
    for (const id of ["a", "b", "c", "d"]) ring.set(id, "");
    expect([...ring.monitorsOf("a")].sort()).to.deep.equal(["b", "c", "d"]);
    expect(ring.monitoredBy("a").sort()).to.deep.equal(["b", "c", "d"]);
    for (let i = 0; i < 20; i++) ring.set(`n${i}`, "");
    const load = new Map<string, number>();
    for (const id of ["a", "b", "c", "d", ...Array.from({ length: 20 }, (_, i) => `n${i}`)]) {
      const monitors = ring.monitorsOf(id);
      expect(monitors, `monitors of ${id}`).to.have.length(3);
      expect(monitors).to.not.include(id);
      for (const monitor of monitors) load.set(monitor, (load.get(monitor) ?? 0) + 1);
      expect(ring.monitoredBy(id).length, `nodes ${id} monitors`).to.equal(3);
    }
    expect(Math.max(...load.values())).to.equal(3);
  });

  it("ring: monitors are picked across NATS servers, one on each server first, at most five", () => {
    const ring = new Ring();
    for (let i = 0; i < 30; i++) ring.set(`n${i}`, `s${i % 3}`);
    const server = (id: string): string => `s${Number(id.slice(1)) % 3}`;
    for (let i = 0; i < 30; i++) {
      const monitors = ring.monitorsOf(`n${i}`);
      expect(new Set(monitors.map(server)), `servers of n${i}'s monitors`).to.deep.equal(new Set(["s0", "s1", "s2"]));
      expect(monitors.length).to.be.within(3, 5);
    }
    // Seven servers: the first member on each of five, no more.
    const wide = new Ring();
    for (let i = 0; i < 70; i++) wide.set(`w${i}`, `s${i % 7}`);
    expect(wide.monitorsOf("w0")).to.have.length(5);
    for (let i = 0; i < 70; i++) for (const monitor of wide.monitorsOf(`w${i}`)) expect(wide.monitoredBy(monitor)).to.include(`w${i}`);
  });

  it("ring membership: nodes see each other join (notices and the roster), and heartbeat only to their monitors", async () => {
    const all = await startAll(["a", "b", "c", "d", "e", "f", "g"]);
    await advance(600);
    for (const member of all) expect(ids(member.m), `view of ${member.id}`).to.deep.equal(["a", "b", "c", "d", "e", "f", "g"]);
    // g joined last: everyone got its notice, and it read the roster for the others.
    for (const member of all.slice(0, 6)) expect(member.events).to.include("joined g");
    expect(all[6]!.events.filter((e) => e.startsWith("joined"))).to.have.length(6);
    const heard = new Map<string, number>();
    for (const member of all) raw.subscribe(subjects.membershipTo(member.id), (message) => kindOfDirect(message.data) === "heartbeat" && heard.set(member.id, (heard.get(member.id) ?? 0) + 1));
    await advance(1_000);
    const total = [...heard.values()].reduce((a, b) => a + b, 0);
    expect(total, "heartbeats in 2 intervals: 3 per node").to.equal(7 * 3 * 2);
    for (const member of all) expect(member.m.monitors()).to.have.length(3);
  });

  it("ring membership: a killed node is lost at every node within the timeout and a check period (the probe included), with one notice", async () => {
    const all = await startAll(["a", "b", "c", "d", "e", "f"]);
    await advance(600);
    const victim = all[2]!;
    await kill(victim);
    const tookMs = await advanceUntil("everyone sees c lost", () => members.every((m) => m.events.includes("lost c")), 5_000);
    // The probe starts early enough to end at the timeout: as soon as all-to-all heartbeats would.
    const { failureTimeoutMs, checkPeriodMs } = all[0]!.m;
    expect(tookMs).to.be.at.least(failureTimeoutMs - all[0]!.m.intervalMs);
    expect(tookMs).to.be.at.most(failureTimeoutMs + checkPeriodMs + 20);
    await advance(1_000);
    expect(notices.filter((n) => n.kind === 2 && n.node === "c"), "lost notices about c").to.have.length(1);
    for (const member of members) expect(ids(member.m)).to.not.include("c");
    // The ring closed over the gap: everyone still has three monitors, and nothing else is lost.
    await advance(4_000);
    for (const member of members) expect(member.events.filter((e) => e.startsWith("lost"))).to.deep.equal(["lost c"]);
  });

  it("ring membership: a node that stops has left everywhere, without a loss", async () => {
    const all = await startAll(["a", "b", "c", "d", "e"]);
    await advance(600);
    members.splice(members.indexOf(all[1]!), 1);
    all[1]!.unserve();
    await all[1]!.m.stop();
    const tookMs = await advanceUntil("everyone sees b left", () => members.every((m) => m.events.includes("left b")), 2_000);
    expect(tookMs).to.be.at.most(all[0]!.m.silenceMs + 20);
    await advance(3_000);
    for (const member of members) expect(member.events.filter((e) => e.endsWith(" b") && e !== "joined b")).to.deep.equal(["left b"]);
    expect(notices.filter((n) => n.kind === 2)).to.deep.equal([]);
  });

  it("ring membership: a new run of a killed node id is reported restarted", async () => {
    const all = await startAll(["a", "b", "c", "d", "e"]);
    await advance(600);
    const old = all[3]!.m.incarnation;
    await kill(all[3]!);
    const again = await start("d");
    await advanceUntil("everyone sees d restarted", () => members.filter((m) => m !== again).every((m) => m.events.includes("restarted d")), 2_000);
    for (const member of members) expect(member.m.nodes().find((n) => n.node === "d")?.incarnation).to.not.equal(old);
    await advance(4_000);
    for (const member of members.filter((m) => m !== again)) expect(member.events.filter((e) => e.endsWith(" d") && e !== "joined d")).to.deep.equal(["restarted d"]);
  });

  it("ring membership: a node paused past the timeout is lost, then refutes it on resuming and is joined again; it lost nobody itself", async () => {
    const all = await startAll(["a", "b", "c", "d", "e"]);
    await advance(600);
    const paused = all[4]!;
    paused.transport.mode = "paused";
    paused.clock.frozen = true;
    await advanceUntil("e lost by the others", () => members.filter((m) => m !== paused).every((m) => m.events.includes("lost e")), 5_000);
    await advance(2_000);
    paused.transport.resume();
    paused.clock.thaw();
    await settle();
    await advanceUntil("e joined again everywhere", () => members.filter((m) => m !== paused).every((m) => m.events.filter((e) => e === "joined e").length === 2), 2_000);
    await advance(3_000);
    expect(paused.events.filter((e) => !e.startsWith("joined")), "what the paused node saw").to.deep.equal([]);
    for (const member of members) expect(ids(member.m)).to.deep.equal(["a", "b", "c", "d", "e"]);
  });

  it("ring membership: a node that missed a join notice gets it through digests", async () => {
    const all = await startAll(["a", "b", "c", "d", "e"], {});
    await advance(600);
    const deaf = all[0]!;
    deaf.transport.mode = "deaf-to-changes";
    await start("f");
    deaf.transport.mode = "normal";
    await advance(600);
    expect(ids(deaf.m)).to.not.include("f");
    await advanceUntil("a learns of f", () => ids(deaf.m).includes("f"), 60_000, 50);
    expect(deaf.events).to.include("joined f");
  });

  it("ring membership: a node that missed a loss notice drops the node through digests", async () => {
    const all = await startAll(["a", "b", "c", "d", "e", "f"]);
    await advance(600);
    const deaf = all.find((m) => !m.m.monitored().includes("c") && m.id !== "c")!;
    deaf.transport.mode = "deaf-to-changes";
    await kill(all.find((m) => m.id === "c")!);
    await advanceUntil("the others see c lost", () => members.filter((m) => m !== deaf).every((m) => m.events.includes("lost c")), 5_000);
    deaf.transport.mode = "normal";
    expect(ids(deaf.m)).to.include("c");
    await advanceUntil(`${deaf.id} drops c`, () => !ids(deaf.m).includes("c"), 60_000, 50);
  });

  it("ring membership: forged notices are refused and counted: joined/left from another reporter, lost from a non-monitor or about a node heard lately, other systems", async () => {
    const all = await startAll(["a", "b", "c", "d", "e", "f"]);
    await advance(600);
    const a = all[0]!;
    const publish = (bytes: Uint8Array): void => raw.publish(subjects.membershipChanges, bytes);
    publish(encodeChange("joined", beat({ node: "ghost" }), "b", SYSTEM));
    const known = (id: string) => a.m.nodes().find((n) => n.node === id)!;
    publish(encodeChange("left", beat({ node: "c", incarnation: known("c").incarnation }), "d", SYSTEM));
    // A lost about a node whose monitors do not include the reporter.
    const target = "d";
    const notMonitor = all.map((m) => m.id).find((id) => id !== target && !a.m["view"].ring.monitorsOf(target).includes(id))!;
    publish(encodeChange("lost", beat({ node: target, incarnation: known(target).incarnation }), notMonitor, SYSTEM));
    // A lost, from a real monitor, about a node a monitor of it heard from lately.
    const watched = a.m.monitored()[0]!;
    const otherMonitor = a.m["view"].ring.monitorsOf(watched).find((id: string) => id !== "a")!;
    publish(encodeChange("lost", beat({ node: watched, incarnation: known(watched).incarnation }), otherMonitor, SYSTEM));
    publish(encodeChange("joined", beat({ node: "ghost2", system: "other" }), "ghost2", "other"));
    publish(new Uint8Array([0xff, 0xff, 0xff]));
    await settle();
    await advance(1_000);
    expect(a.m.refused()).to.deep.include({ "forged-reporter": 2, "not-a-monitor": 1, "lost-contradicted": 1, "foreign-system": 1, malformed: 1 });
    expect(ids(a.m)).to.deep.equal(["a", "b", "c", "d", "e", "f"]);
    expect(a.events.filter((e) => !e.startsWith("joined")), "a believed none of it").to.deep.equal([]);
  });

  it("ring membership: an empty message on a node's own subject (the server's no-responders status to its probe) is ignored, not refused; malformed bytes are", async () => {
    const all = await startAll(["a", "b", "c", "d", "e", "f"]);
    await advance(600);
    const a = all[0]!;
    const before = a.m.refused().malformed;
    raw.publish(subjects.membershipTo("a"), new Uint8Array(0));
    await settle();
    expect(a.m.refused().malformed, "empty: no refusal").to.equal(before);
    raw.publish(subjects.membershipTo("a"), new Uint8Array([0xff, 0xff, 0xff]));
    await settle();
    expect(a.m.refused().malformed, "garbage: refused").to.equal(before + 1);
    expect(ids(a.m)).to.deep.equal(["a", "b", "c", "d", "e", "f"]);
  });

  it("ring membership: a forged lost naming the node's real nearest monitor is believed nowhere: members that do not monitor it wait for the node's refutation", async () => {
    const all = await startAll(["a", "b", "c", "d", "e", "f", "g", "h"]);
    await advance(600);
    const d = all[3]!;
    const monitor = d.m.monitors()[0]!;
    raw.publish(subjects.membershipChanges, encodeChange("lost", beat({ node: "d", incarnation: d.m.incarnation }), monitor, SYSTEM));
    await advance(3_000);
    const others = members.filter((m) => m !== d);
    expect(others.filter((m) => !m.m.monitors().includes("d")).length, "some members do not monitor d").to.be.at.least(1);
    for (const member of others) {
      expect(member.events.filter((e) => e.endsWith(" d") && e !== "joined d"), `${member.id}'s events about d`).to.deep.equal([]);
      expect(ids(member.m)).to.include("d");
    }
  });

  it("ring membership: a forged restart or leave is refuted by the node itself and counted; nothing changes", async () => {
    const all = await startAll(["a", "b", "c", "d", "e"]);
    await advance(600);
    const c = all[2]!;
    raw.publish(subjects.membershipChanges, encodeChange("joined", beat({ node: "c", incarnation: "forged", startedAtMs: clock.now() + 1 }), "c", SYSTEM));
    await settle();
    raw.publish(subjects.membershipChanges, encodeChange("left", beat({ node: "c", incarnation: c.m.incarnation, startedAtMs: 0 }), "c", SYSTEM));
    await advance(3_000);
    for (const member of members.filter((m) => m !== c)) {
      expect(member.events.filter((e) => e.endsWith(" c") && e !== "joined c"), `${member.id}'s events about c`).to.deep.equal([]);
      expect(member.m.nodes().find((n) => n.node === "c")?.incarnation).to.equal(c.m.incarnation);
      expect(member.m.refused()["incarnation-conflict"] + member.m.refused()["leave-contradicted"], `refuted claims counted by ${member.id}`).to.be.at.least(1);
    }
    expect(c.m.refused()["node-id-in-use"]).to.equal(1);
  });

  it("ring membership: forged rosters and digests are refused and counted", async () => {
    // A forger answers the roster before any member: a page of another system.
    const forger = network.connect("forger");
    forger.queueSubscribe(subjects.membershipRoster, "roster", (message) => {
      if (message.reply) forger.publish(message.reply, RosterPage.encode({ nodes: [], total: 1, answerer: "x", system: "other" }).finish());
    });
    const [a] = await startAll(["a", "b", "c", "d", "e"]);
    expect(a!.m.refused().malformed, "the forged page counted").to.be.at.least(1);
    raw.publish(subjects.membershipTo("a"), MembershipDigest.encode({ node: "b", system: "other", count: 9, xor: "0123456789abcdef" }).finish());
    raw.publish(subjects.membershipTo("a"), MembershipDigest.encode({ node: "b", system: SYSTEM, count: 9, xor: "not-hex" }).finish());
    await settle();
    expect(a!.m.refused()).to.deep.include({ "foreign-system": 1 });
    expect(a!.m.refused().malformed).to.be.at.least(2);
  });

  it("ring membership: floods of probes and strangers' heartbeats are answered at a bounded rate, the rest counted", async () => {
    const [a] = await startAll(["a", "b", "c", "d", "e"]);
    let answers = 0;
    raw.subscribe(subjects.membershipTo("prober"), () => answers++);
    const probes = 1_000;
    for (let i = 0; i < probes; i++) raw.publish(subjects.membershipTo("a"), encodeHeartbeat(beat({ node: `stranger-${i}` })), subjects.membershipTo("prober"));
    for (let i = 0; i < 50; i++) raw.publish(subjects.membershipTo("a"), new Uint8Array([0x0a, 0xff]));
    await settle();
    clock.advance(0);
    await settle();
    expect(answers).to.be.at.most(MAX_ANSWERS_PER_CHECK);
    expect(a!.m.refused()["over-rate"]).to.be.at.least(probes - MAX_ANSWERS_PER_CHECK);
    expect(a!.m.refused().malformed).to.equal(50);
    expect(ids(a!.m)).to.deep.equal(["a", "b", "c", "d", "e"]);
  });

  it("ring membership: a change of kinds is announced as joined again, with the same incarnation", async () => {
    const kinds: string[] = [];
    const all = await startAll(["a", "b", "c"]);
    const d = await start("d", { localInfo: () => ({ kinds, actorCount: 0 }) });
    await advance(600);
    const before = all[0]!.m.version;
    kinds.push("counter");
    await advance(600);
    expect(all[0]!.m.nodes().find((n) => n.node === "d")?.kinds).to.deep.equal(["counter"]);
    expect(all[0]!.m.version).to.be.above(before);
    expect(all[0]!.events.filter((e) => e.endsWith(" d"))).to.deep.equal(["joined d"]);
    expect(d.m.incarnation).to.be.a("string");
  });

  it("ring membership: a roster taken before a node announced its kinds does not undo the announcement at a node starting", async () => {
    const kinds: string[] = [];
    await startAll(["a", "b", "c", "d", "e", "f"]);
    const g = await start("g", { localInfo: () => ({ kinds, actorCount: 0 }) });
    await advance(600);
    // x subscribes and asks for the roster; the answer (g without kinds) is held until g has announced its kinds.
    const { starting, release } = await startHoldingRoster("x");
    kinds.push("counter");
    await advance(600);
    expect(g.m.nodes().find((n) => n.node === "g")?.kinds).to.deep.equal(["counter"]);
    release();
    const x = await starting;
    const kindsOfG = (): string[] | undefined => x.m.nodes().find((n) => n.node === "g")?.kinds;
    expect(kindsOfG(), "g's kinds at x, at once").to.deep.equal(["counter"]);
    await advance(3_000);
    expect(kindsOfG()).to.deep.equal(["counter"]);
    expect(x.events.filter((e) => e.endsWith(" g"))).to.deep.equal(["joined g"]);
  });

  it("ring membership: a node that missed a change of kinds gets the node's own kinds through digests", async () => {
    const kinds: string[] = [];
    const all = await startAll(["a", "b", "c", "d", "e", "f"]);
    const g = await start("g", { localInfo: () => ({ kinds, actorCount: 0 }) });
    await advance(600);
    // One that g does not heartbeat to: only the digest repair can tell it.
    const deaf = all.find((m) => !g.m.monitors().includes(m.id))!;
    deaf.transport.mode = "deaf-to-changes";
    kinds.push("counter");
    await advance(600);
    deaf.transport.mode = "normal";
    const kindsOfG = (m: Member): string[] | undefined => m.m.nodes().find((n) => n.node === "g")?.kinds;
    expect(kindsOfG(deaf), `g's kinds at ${deaf.id}, notice missed`).to.deep.equal([]);
    for (const member of members.filter((m) => m !== deaf)) expect(kindsOfG(member), `g's kinds at ${member.id}`).to.deep.equal(["counter"]);
    await advanceUntil(`${deaf.id} learns g's kinds`, () => kindsOfG(deaf)?.length === 1, 60_000, 50);
    expect(kindsOfG(deaf)).to.deep.equal(["counter"]);
    expect(deaf.events.filter((e) => e.endsWith(" g"))).to.deep.equal(["joined g"]);
    for (const member of members) expect(ids(member.m)).to.deep.equal(["a", "b", "c", "d", "e", "f", "g"]);
  });

  /** A member's heartbeat as this view (or a roster) knows it. */
  const beatOf = (node: { node: string; incarnation: string; startedAtMs: number; kinds: readonly string[]; server?: string }): Heartbeat =>
    beat({ node: node.node, incarnation: node.incarnation, startedAtMs: node.startedAtMs, kinds: [...node.kinds], server: node.server ?? "" });

  it("ring membership: a forged roster read in a digest repair plants no node and bumps no incarnation: a node is added only as it answers its probe", async () => {
    const all = await startAll(["a", "b", "c", "d", "e", "f"]);
    await advance(600);
    const a = all[0]!;
    // a hears no notices from here on: g can reach a's view only through a repair.
    a.transport.mode = "deaf-to-changes";
    const g = await start("g", { kinds: ["counter"] });
    await advance(100);
    expect(ids(a.m)).to.not.include("g");
    const c = all[2]!;
    const realC = a.m.nodes().find((n) => n.node === "c")!;
    // h, a member with node credentials, serves a forged roster: c restarted (a later start), g with
    // another incarnation and kinds than g runs, and a ghost nobody runs.
    const page = [
      ...a.m.nodes().filter((n) => n.node !== "c"),
      { ...realC, incarnation: "forged-c", startedAtMs: clock.now() + 60_000 },
      { ...g.m.nodes().find((n) => n.node === "g")!, incarnation: "forged-g", startedAtMs: clock.now() + 60_000, kinds: ["evil"] },
      { node: "ghost", incarnation: "i-ghost", startedAtMs: clock.now(), kinds: ["evil"], server: "" },
    ]
      .map(beatOf)
      .sort((x, y) => (x.node < y.node ? -1 : 1));
    const hostile = network.connect("h");
    let rosterReads = 0;
    hostile.subscribe(`${subjects.membershipRoster}.h`, (message) => {
      rosterReads++;
      if (message.reply) hostile.publish(message.reply, RosterPage.encode({ nodes: page.map((n) => ({ ...n, kinds: [...n.kinds] })), total: page.length, answerer: "h", system: SYSTEM }).finish());
    });
    hostile.publish(subjects.membershipTo("a"), MembershipDigest.encode({ node: "h", system: SYSTEM, count: 99, xor: "0123456789abcdef" }).finish());
    await settle();
    expect(rosterReads, "a read h's roster").to.equal(1);
    // The probes' timeout, then long enough for a claimed restart to be believed, were it claimed.
    await advance(a.m.probeTimeoutMs + 3 * a.m.silenceMs);
    const known = (id: string) => a.m.nodes().find((n) => n.node === id);
    expect(known("g"), "g, as g answered its probe").to.deep.include({ incarnation: g.m.incarnation, kinds: ["counter"] });
    expect(known("c")?.incarnation, "c's incarnation").to.equal(c.m.incarnation);
    expect(ids(a.m)).to.deep.equal(["a", "b", "c", "d", "e", "f", "g"]);
    expect(a.events.filter((e) => !e.startsWith("joined")), "a believed none of the roster's claims").to.deep.equal([]);
  });

  it("ring membership: a roster read at start adds only nodes the view lacks: a forged page cannot bump the incarnation of a node heard announcing itself", async () => {
    const kinds: string[] = [];
    await startAll(["a", "b", "c", "d"]);
    const e = await start("e", { localInfo: () => ({ kinds, actorCount: 0 }) });
    await advance(600);
    const { starting, release, transport: xTransport } = await startHoldingRoster("x");
    // e announces new kinds while x waits for its roster: x hears e's incarnation from e itself.
    kinds.push("counter");
    await advance(600);
    // The page x reads claims that e restarted since.
    xTransport.rewriteReply = (reply) => {
      const page = RosterPage.decode(reply);
      const nodes = page.nodes.map((n) => (n.node === "e" ? { ...n, incarnation: "forged-e", startedAtMs: clock.now() + 60_000 } : n));
      return RosterPage.encode({ ...page, nodes }).finish();
    };
    release();
    const x = await starting;
    await advance(3 * x.m.silenceMs);
    expect(x.m.nodes().find((n) => n.node === "e")?.incarnation).to.equal(e.m.incarnation);
    expect(x.events.filter((ev) => ev.endsWith(" e")), "x's events about e").to.deep.equal(["joined e"]);
    expect(ids(x.m)).to.deep.equal(["a", "b", "c", "d", "e", "x"]);
  });

  it("ring membership: a node that missed a restart notice learns of the new run through digests, from the node's own answer", async () => {
    const all = await startAll(["a", "b", "c", "d", "e"]);
    await advance(600);
    const a = all[0]!;
    a.transport.mode = "deaf-to-changes";
    const old = all[3]!.m.incarnation;
    await kill(all[3]!);
    const d = await start("d");
    await advanceUntil("the others see d restarted", () => members.filter((m) => m !== a && m !== d).every((m) => m.events.includes("restarted d")), 2_000);
    expect(a.m.nodes().find((n) => n.node === "d")?.incarnation, "d at a, notice missed").to.equal(old);
    await advanceUntil("a learns d's new run", () => a.m.nodes().find((n) => n.node === "d")?.incarnation === d.m.incarnation, 60_000, 50);
    expect(a.events.filter((e) => e.endsWith(" d"))).to.deep.equal(["joined d", "restarted d"]);
  });

  it("ring membership: a ghost that a forged roster brings in at start answers no probe and is dropped, by its monitors or a later repair", async () => {
    await startAll(["a", "b", "c", "d", "e"]);
    await advance(600);
    const x = await start("x", {
      onTransport: (t) =>
        (t.rewriteReply = (reply) => {
          const page = RosterPage.decode(reply);
          const ghost = { node: "ghost", incarnation: "i-ghost", startedAtMs: clock.now(), kinds: ["evil"], system: SYSTEM };
          return RosterPage.encode({ ...page, nodes: [...page.nodes, ghost].sort((p, q) => ((p.node ?? "") < (q.node ?? "") ? -1 : 1)) }).finish();
        }),
    });
    expect(ids(x.m), "the roster read at start is taken as it is").to.include("ghost");
    await advanceUntil("x drops the ghost", () => !ids(x.m).includes("ghost"), 60_000, 50);
    for (const member of members) expect(ids(member.m)).to.deep.equal(["a", "b", "c", "d", "e", "x"]);
  });
});

describe("ActorSystem's membership protocol (in-memory network)", () => {
  it("membership: ring is the default, all-to-all stays selectable, and anything else is refused", async () => {
    const network = new MemoryNetwork();
    const seen = new Set<string>();
    const spy = network.connect("spy");
    for (const subject of [subjects.membershipChanges, new Subjects("troupe", "old").heartbeat]) spy.subscribe(subject, (m) => seen.add(m.subject));
    const start = (name: string, node: string, protocol?: "ring" | "all-to-all") => ActorSystem.start({ name, nodeId: node, transport: network.connect(node), ...(protocol && { membership: { protocol } }) });
    const ring = [await start(SYSTEM, "r1"), await start(SYSTEM, "r2")];
    const old = [await start("old", "o1", "all-to-all"), await start("old", "o2", "all-to-all")];
    try {
      for (const systems of [ring, old]) for (const s of systems) await eventuallySettled(() => s.nodes().length === 2);
      expect([...seen].sort()).to.deep.equal(["troupe.old.membership.heartbeat", subjects.membershipChanges].sort());
      await expectRejects(ActorSystem.start({ name: "bad", nodeId: "b1", transport: network.connect("b1"), membership: { protocol: "gossip" as "ring" } }), /membership.protocol must be "ring" or "all-to-all"/);
    } finally {
      await Promise.all([...ring, ...old].map((s) => s.shutdown()));
    }
  });
});

async function eventuallySettled(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await settle();
  expect(condition()).to.equal(true);
}

async function expectRejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect((error as Error).message).to.match(pattern);
    return;
  }
  expect.fail("expected a rejection");
}
