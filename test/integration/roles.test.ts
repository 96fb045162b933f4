import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { ActorSystem, connectNats, type Address, type ActorRef } from "../../runtime/index.js";
import { encodeFrame } from "../../runtime/codec/frame-codec.js";
import type { MessageType } from "../../runtime/codec/message-type.js";
import { troupe } from "../../proto/gen/troupe.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { counter } from "../fixtures/counter.js";
import { eventually } from "../helpers/conditions.js";
import { startNatsWithConfig, type ConfiguredNats } from "../helpers/nats-with-config.js";
import { inboxPrefixOf, rolePermissions, roleUser, violationsOf } from "../helpers/role-users.js";
import { runTroupe, type TroupeProcess } from "../helpers/troupe-process.js";

const { Supervise, SpawnRequest, Watch, ChildFailed, LookupRequest, LookupReply, ActorList, Failure } = troupe.system;
const { NodeHeartbeat, RosterRequest, RosterPage } = troupe.membership;
const STOP = troupe.system.Supervise.Directive.STOP;
const PASSWORD = "roles-test-password";

/** A one-envelope frame, as any NATS client can write it. */
function frame(target: string, typeName: string, type: MessageType, message: object, sender?: Address): Uint8Array {
  return encodeFrame([{ target, typeName, type, message, sender, headers: undefined }]);
}

const ping = (seq: number): Uint8Array => frame("/user/counter", "troupe.examples.pingpong.Ping", Ping, Ping.create({ seq }));
const getStats = (target = "/user/counter"): Uint8Array => frame(target, "troupe.examples.pingpong.GetStats", GetStats, GetStats.create());
const stopCounter = (sender?: Address): Uint8Array => frame("/user/counter", "troupe.system.Supervise", Supervise, Supervise.create({ directive: STOP }), sender);
const ghostHeartbeat = (): Uint8Array => NodeHeartbeat.encode({ node: "ghost", incarnation: "x", startedAtMs: Date.now(), kinds: ["counter"], actorCount: 1, intervalMs: 500, system: "s1" }).finish();

/** The first envelope of a reply frame: its type and, for a Failure, its reason. */
function answer(reply: Msg): { type: string; reason?: string; pings?: number } {
  const [envelope] = troupe.wire.Frame.decode(reply.data).envelopes;
  if (envelope?.type === "troupe.system.Failure") return { type: envelope.type, reason: Failure.decode(envelope.payload!).reason };
  if (envelope?.type === "troupe.examples.pingpong.Stats") return { type: envelope.type, pings: Stats.decode(envelope.payload!).pings };
  return { type: envelope?.type ?? "" };
}

describe("roles: node, client and monitor permissions of docs/operations.md (integration: nats-server)", function () {
  this.timeout(60_000);
  let dir: string;
  let server: ConfiguredNats;
  const systems: ActorSystem[] = [];
  const raws: NatsConnection[] = [];
  const processes: TroupeProcess[] = [];

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), "troupe-roles-"));
    server = await startNatsWithConfig(this, dir, `authorization {
  users = [
    ${roleUser("s1-node", PASSWORD, rolePermissions.node("s1"))}
    ${roleUser("s2-node", PASSWORD, rolePermissions.node("s2"))}
    ${roleUser("s1-client", PASSWORD, rolePermissions.client("s1", "s1-client"))}
    ${roleUser("s2-client", PASSWORD, rolePermissions.client("s2", "s2-client"))}
    ${roleUser("s1-monitor", PASSWORD, rolePermissions.monitor("s1", "s1-monitor"))}
    # What operations.md used to give monitors: an inbox permission that ends in "*".
    ${roleUser("wide-monitor", PASSWORD, `{ publish: { allow: ["troupe.s1.actors.*"] }, subscribe: { allow: ["troupe.s1._INBOX.*"] } }`)}
    # The test's own eyes, to show what does and does not arrive: no role of the page.
    ${roleUser("auditor", PASSWORD, `{ publish: { deny: [">"] }, subscribe: { allow: [">"] } }`)}
  ]
}
`);
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop()));
    await Promise.all(raws.splice(0).map((c) => c.close()));
    await Promise.all(systems.splice(0).map((s) => s.shutdown()));
  });

  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A node of `system` started in code with the node role's credentials, hosting a counter. */
  const node = async (system: "s1" | "s2", nodeId: string): Promise<{ system: ActorSystem; counter: ActorRef<Ping | GetStats> }> => {
    const transport = await connectNats({ servers: server.url, user: `${system}-node`, pass: PASSWORD, inboxPrefix: `troupe.${system}._INBOX` });
    const started = await ActorSystem.start({ name: system, nodeId, transport, types: [Ping, Pong, GetStats, Stats] });
    systems.push(started);
    return { system: started, counter: started.spawn(counter, { name: "counter" }) };
  };
  const raw = async (user: string, inboxPrefix?: string): Promise<NatsConnection> => {
    const nc = await connect({ servers: server.url, user, pass: PASSWORD, ...(inboxPrefix ? { inboxPrefix } : {}) });
    raws.push(nc);
    return nc;
  };
  const client = (system: "s1" | "s2"): Promise<NatsConnection> => raw(`${system}-client`, inboxPrefixOf(`${system}-client`));
  const pings = async (ref: ActorRef<Ping | GetStats>): Promise<number> => (await ref.ask(GetStats.create(), Stats)).pings;
  const refusal = (promise: Promise<unknown>): Promise<string> => promise.then(() => expect.fail("expected a refusal"), (e: Error) => e.message);
  /** Every message on `subjects` as the auditor sees them, in order. */
  const audit = async (...subjects: string[]): Promise<Msg[]> => {
    const auditor = await raw("auditor");
    const seen: Msg[] = [];
    for (const subject of subjects) auditor.subscribe(subject, { callback: (error, msg) => void (error ?? seen.push(msg)) });
    await auditor.flush();
    return seen;
  };

  it("roles: a client looks an actor up, tells it and asks it with plain NATS requests, answered on an inbox prefix of its own", async () => {
    await node("s1", "a");
    const nc = await client("s1");
    const found = LookupReply.decode((await nc.request("troupe.s1.name.counter", LookupRequest.encode({ name: "counter" }).finish(), { timeout: 5_000 })).data);
    expect(found.address).to.deep.include({ system: "s1", node: "a", path: "/user/counter" });
    nc.publish("troupe.s1.node.a", ping(1));
    nc.publish("troupe.s1.node.a", ping(2));
    const reply = await nc.request("troupe.s1.node.a", getStats(), { timeout: 5_000 });
    expect(reply.subject.startsWith("_INBOX_s1-client.")).to.equal(true);
    expect(answer(reply)).to.deep.equal({ type: "troupe.examples.pingpong.Stats", pings: 2 });
  });

  it("roles: a client calls a service with a plain NATS request on its subject, answered on its own inbox; it cannot join the service's queue group", async () => {
    const a = await node("s1", "a");
    a.system.serve(counter, { name: "counting" });
    const nc = await client("s1");
    const violations = violationsOf(nc);
    nc.publish("troupe.s1.service.counting", frame("", "troupe.examples.pingpong.Ping", Ping, Ping.create({ seq: 1 })));
    const reply = await nc.request("troupe.s1.service.counting", getStats("counting"), { timeout: 5_000 });
    expect(reply.subject.startsWith("_INBOX_s1-client.")).to.equal(true);
    expect(answer(reply)).to.deep.equal({ type: "troupe.examples.pingpong.Stats", pings: 1 });
    nc.subscribe("troupe.s1.service.counting", { queue: "counting" });
    await eventually("the refusal reported", () => violations.length > 0);
    expect(violations).to.deep.equal(['Permissions Violation for Subscription to "troupe.s1.service.counting" using queue "counting"']);
  });

  it("roles: a client cannot publish on the control plane, heartbeat, read the roster, list actors, listen to the system's subjects or others' inboxes (a name's lookup subject included), or reach another system: the server refuses each, and the actor keeps running", async () => {
    const a = await node("s1", "a");
    const lettersBefore = a.system.deadLetters.count;
    const nc = await client("s1");
    const violations = violationsOf(nc);
    nc.publish("troupe.s1.control.a", stopCounter());
    nc.publish("troupe.s1.membership.heartbeat", ghostHeartbeat());
    expect(await refusal(nc.request("troupe.s1.actors.a", new Uint8Array(), { timeout: 2_000 }))).to.equal('Permissions Violation for Publish to "troupe.s1.actors.a"');
    nc.publish("troupe.s1.membership.roster", RosterRequest.encode({ system: "s1" }).finish());
    for (const subject of ["troupe.s1.>", "troupe.s1.node.a", "troupe.s1.membership.heartbeat", "troupe.s1.name.counter", "troupe.s1._INBOX.>", "_INBOX.>"]) nc.subscribe(subject);
    nc.publish("troupe.s2.node.x", ping(1));
    const expected = [
      'Permissions Violation for Publish to "troupe.s1.control.a"',
      'Permissions Violation for Publish to "troupe.s1.membership.heartbeat"',
      'Permissions Violation for Publish to "troupe.s1.actors.a"',
      'Permissions Violation for Publish to "troupe.s1.membership.roster"',
      'Permissions Violation for Subscription to "troupe.s1.name.counter"',
      'Permissions Violation for Subscription to "troupe.s1.>"',
      'Permissions Violation for Subscription to "troupe.s1.node.a"',
      'Permissions Violation for Subscription to "troupe.s1.membership.heartbeat"',
      'Permissions Violation for Subscription to "troupe.s1._INBOX.>"',
      'Permissions Violation for Subscription to "_INBOX.>"',
      'Permissions Violation for Publish to "troupe.s2.node.x"',
    ];
    await eventually("every refusal reported", () => violations.length >= expected.length);
    expect(violations).to.have.members(expected);

    // The same connection still asks: the counter runs, nothing else reached the node, no ghost joined.
    expect(answer(await nc.request("troupe.s1.node.a", getStats(), { timeout: 5_000 }))).to.deep.equal({ type: "troupe.examples.pingpong.Stats", pings: 0 });
    expect(a.system.deadLetters.count).to.equal(lettersBefore);
    expect(a.system.nodes().map((n) => n.node)).to.deep.equal(["a"]);
  });

  it("roles: a client's control messages sent on the data plane are refused by the node as wrong-plane (a Failure to the asker), and the actor keeps running", async () => {
    const a = await node("s1", "a");
    const nc = await client("s1");
    nc.publish("troupe.s1.node.a", ping(1));
    const request = async (bytes: Uint8Array): Promise<ReturnType<typeof answer>> => answer(await nc.request("troupe.s1.node.a", bytes, { timeout: 5_000 }));
    const wrongPlane = { type: "troupe.system.Failure", reason: "wrong-plane" };
    expect(await request(stopCounter())).to.deep.equal(wrongPlane);
    const ghost = { system: "s1", node: "ghost", path: "/user/p" };
    expect(await request(frame("/remote/ghost/user/p/evil", "troupe.system.SpawnRequest", SpawnRequest, SpawnRequest.create({ kind: "counter", parent: ghost, restart: "permanent" }), undefined))).to.deep.equal(wrongPlane);
    nc.publish("troupe.s1.node.a", frame("/user/counter", "troupe.system.Watch", Watch, Watch.create(), ghost));
    for (let i = 0; i < 30; i++) nc.publish("troupe.s1.node.a", frame("/user/counter", "troupe.system.ChildFailed", ChildFailed, ChildFailed.create({ error: "forged" }), { ...ghost, path: "/user/counter/child" }));

    // Asked after all of them on the same connection: still running, the one Ping counted, never restarted.
    expect(await request(getStats())).to.deep.equal({ type: "troupe.examples.pingpong.Stats", pings: 1 });
    expect(a.system.deadLetters.countOf("wrong-plane")).to.equal(33);
    expect(a.system.deadLetters.countOf("refused-control")).to.equal(0);
  });

  it("roles: a monitor runs `troupe nodes --json` and `troupe actors --json`, and may publish nothing else nor listen to anything else", async () => {
    const a = await node("s1", "a");
    await node("s1", "b");
    await eventually("a sees b", () => a.system.nodes().length === 2);
    const env = { NATS_URL: server.url, NATS_USER: "s1-monitor", NATS_PASSWORD: PASSWORD, NATS_INBOX_PREFIX: inboxPrefixOf("s1-monitor") };
    const nodes = runTroupe(["nodes", "--system", "s1", "--json"], env);
    const actors = runTroupe(["actors", "--system", "s1", "--json"], env);
    processes.push(nodes, actors);
    expect(await nodes.exited, nodes.stderr()).to.equal(0);
    expect(await actors.exited, actors.stderr()).to.equal(0);
    const listed = JSON.parse(nodes.stdout().trim().split("\n").at(-1)!) as { nodes: { node: string }[] };
    expect(listed.nodes.map((n) => n.node)).to.deep.equal(["a", "b"]);
    const tree = JSON.stringify(JSON.parse(actors.stdout().trim().split("\n").at(-1)!));
    expect(tree).to.include('"path":"/user/counter"').and.include('"node":"a"').and.include('"node":"b"');

    const lettersBefore = a.system.deadLetters.count;
    const nc = await raw("s1-monitor", inboxPrefixOf("s1-monitor"));
    const violations = violationsOf(nc);
    nc.publish("troupe.s1.node.a", ping(1));
    nc.publish("troupe.s1.control.a", stopCounter());
    nc.publish("troupe.s1.membership.heartbeat", ghostHeartbeat());
    nc.publish("troupe.s1.name.counter", LookupRequest.encode({ name: "counter" }).finish());
    nc.publish("troupe.s1.actors", new Uint8Array());
    const subjects = ["troupe.s1.node.a", "troupe.s1.control.a", "troupe.s1.name.counter", "troupe.s1.membership.heartbeat", "troupe.s1.membership.roster", "troupe.s1._INBOX.*", "troupe.s1._INBOX.>", "troupe.s1.>", "_INBOX.>", "_INBOX_s1-client.>"];
    for (const subject of subjects) nc.subscribe(subject);
    const expected = [
      ...["troupe.s1.node.a", "troupe.s1.control.a", "troupe.s1.membership.heartbeat", "troupe.s1.name.counter", "troupe.s1.actors"].map((subject) => `Permissions Violation for Publish to "${subject}"`),
      ...subjects.map((subject) => `Permissions Violation for Subscription to "${subject}"`),
    ];
    await eventually("every refusal reported", () => violations.length >= expected.length);
    expect(violations).to.have.members(expected);
    expect(await pings(a.counter)).to.equal(0);
    expect(a.system.deadLetters.count).to.equal(lettersBefore);
  });

  it("roles: a monitor cannot aim the nodes' actor lists or the roster at a node inbox: the nodes refuse (forbidden-reply-subject) and answer only on an inbox", async () => {
    const a = await node("s1", "a");
    const b = await node("s1", "b");
    await eventually("a and b see each other", () => a.system.nodes().length === 2 && b.system.nodes().length === 2);
    const mine = `${inboxPrefixOf("s1-monitor")}.lists`;
    const seen = await audit("troupe.s1.node.a", "troupe.s1.node.b", mine);
    const nc = await raw("s1-monitor", inboxPrefixOf("s1-monitor"));
    for (const to of ["a", "b"]) {
      nc.publish(`troupe.s1.actors.${to}`, new Uint8Array(), { reply: "troupe.s1.node.a" });
      nc.publish(`troupe.s1.actors.${to}`, new Uint8Array(), { reply: "troupe.s1.node.b" });
      nc.publish(`troupe.s1.actors.${to}`, new Uint8Array(), { reply: mine });
    }
    // Each node would have published onto a node inbox before its answer on the inbox: the auditor hears one publisher's messages in order.
    await eventually("both nodes' lists on the monitor's inbox", () => new Set(seen.map((m) => ActorList.decode(m.data).node)).size === 2);
    expect(seen.map((m) => m.subject)).to.deep.equal([mine, mine]);
    for (const s of [a.system, b.system]) expect(s.deadLetters.countOf("forbidden-reply-subject")).to.equal(2);

    // The roster: one node answers each request (a queue group), and only on an inbox.
    nc.publish("troupe.s1.membership.roster", RosterRequest.encode({ system: "s1" }).finish(), { reply: "troupe.s1.node.a" });
    nc.publish("troupe.s1.membership.roster.b", RosterRequest.encode({ system: "s1" }).finish(), { reply: "troupe.s1.node.b" });
    const page = RosterPage.decode((await nc.request("troupe.s1.membership.roster", RosterRequest.encode({ system: "s1" }).finish(), { timeout: 5_000 })).data);
    expect(page.nodes.map((n) => n.node)).to.deep.equal(["a", "b"]);
    await eventually("both roster requests refused", () => a.system.deadLetters.countOf("forbidden-reply-subject") + b.system.deadLetters.countOf("forbidden-reply-subject") === 6);
    expect(seen.map((m) => m.subject)).to.deep.equal([mine, mine]);
  });

  it("roles: a subscribe permission ending in `*` also admits a subscription ending in `>` (nats-server 2.15.2), so a monitor allowed troupe.s1._INBOX.* hears the answers to nodes' lookups", async () => {
    const a = await node("s1", "a");
    const b = await node("s1", "b");
    a.system.spawn(counter, { name: "only-on-a" });
    await eventually("b sees a", () => b.system.nodes().length === 2);
    const nc = await raw("wide-monitor", "troupe.s1._INBOX");
    const violations = violationsOf(nc);
    const heard: Msg[] = [];
    nc.subscribe("troupe.s1._INBOX.>", { callback: (error, msg) => void (error ?? heard.push(msg)) });
    await nc.flush();
    expect((await b.system.lookup("only-on-a"))?.toString()).to.equal("troupe://s1@a/user/only-on-a");
    await eventually("the lookup's answer overheard", () => heard.length === 1);
    expect(heard[0]!.subject).to.match(/^troupe\.s1\._INBOX\.[^.]+\.[^.]+$/);
    expect(LookupReply.decode(heard[0]!.data).address?.path).to.equal("/user/only-on-a");
    expect(violations).to.deep.equal([]);
  });

  it("roles: a node user is trusted within its system (it hears every subject and publishes on the control plane), yet a node refuses a directive for an actor it does not host for another node, and a spawn from a node that is not a member (refused-control)", async () => {
    const a = await node("s1", "a");
    const nc = await raw("s1-node", "troupe.s1._INBOX");
    const heard: string[] = [];
    nc.subscribe("troupe.s1.>", { callback: (error, msg) => void (error ?? heard.push(msg.subject)) });
    await nc.flush();
    // It may ask for the roster as any node does, and hears its own request go by.
    expect(RosterPage.decode((await nc.request("troupe.s1.membership.roster", RosterRequest.encode({ system: "s1" }).finish(), { timeout: 5_000 })).data).nodes.map((n) => n.node)).to.deep.equal(["a"]);
    await eventually("the node user hears the system's subjects", () => heard.includes("troupe.s1.membership.roster"));

    const stop = answer(await nc.request("troupe.s1.control.a", stopCounter(), { timeout: 5_000 }));
    expect(stop).to.deep.equal({ type: "troupe.system.Failure", reason: "refused" });
    const ghost = { system: "s1", node: "ghost", path: "/user/p" };
    const spawn = frame("/remote/ghost/user/p/evil", "troupe.system.SpawnRequest", SpawnRequest, SpawnRequest.create({ kind: "counter", parent: ghost, restart: "permanent" }), ghost);
    nc.publish("troupe.s1.control.a", spawn);
    // Held for the ghost's first heartbeat, for the node's failure timeout (2 s by default), then refused.
    await eventually("the spawn refused", () => a.system.deadLetters.countOf("refused-control") === 2, 10_000);
    expect(await pings(a.counter)).to.equal(0);
    expect(a.system.nodes().map((n) => n.node)).to.deep.equal(["a"]);
  });

  it("roles: nobody reaches another system through a node's allow_responses: the server lets a responder with s2's node credentials answer onto troupe.s1.node.a, but an s2 node refuses (forbidden-reply-subject) and nothing reaches s1", async () => {
    const a = await node("s1", "a");
    const x = await node("s2", "x");
    const lettersBefore = a.system.deadLetters.count;
    const seen = await audit("troupe.s1.node.a", "troupe.s1.control.a", "audit.end");

    // Without the node's check: a raw responder with s2-node's permissions answers onto s1's data plane.
    const responder = await raw("s2-node", "troupe.s2._INBOX");
    responder.subscribe("troupe.s2.node.fake", { callback: (error, msg) => void (error ?? msg.respond(ping(1))) });
    await responder.flush();
    const nc = await client("s2");
    nc.publish("troupe.s2.node.fake", getStats(), { reply: "troupe.s1.node.a" });
    await eventually("the responder's Ping reached s1", () => seen.length === 1);
    expect(await pings(a.counter)).to.equal(1);

    // A Troupe node of s2 asked the same way, on every path that answers a request: refused.
    nc.publish("troupe.s2.node.x", ping(7), { reply: "troupe.s1.node.a" });
    nc.publish("troupe.s2.node.x", getStats(), { reply: "troupe.s1.control.a" });
    nc.publish("troupe.s2.node.x", getStats("/user/nobody"), { reply: "troupe.s1.node.a" });
    nc.publish("troupe.s2.node.x", getStats(), { reply: "troupe.s2.control.x" });
    nc.publish("troupe.s2.name.counter", LookupRequest.encode({ name: "counter" }).finish(), { reply: "troupe.s1.node.a" });
    await eventually("the s2 node refused all five", () => x.system.deadLetters.countOf("forbidden-reply-subject") === 5);

    // x answers a request after those on the same connection; the auditor hears x's publishes in order.
    nc.publish("troupe.s2.node.x", getStats(), { reply: "audit.end" });
    await eventually("x's answer to the auditor", () => seen.some((m) => m.subject === "audit.end"));
    expect(answer(seen.at(-1)!)).to.deep.equal({ type: "troupe.examples.pingpong.Stats", pings: 0 });
    expect(seen.map((m) => m.subject)).to.deep.equal(["troupe.s1.node.a", "audit.end"]);
    expect(await pings(a.counter)).to.equal(1);
    expect(a.system.deadLetters.count).to.equal(lettersBefore);
  });
});
