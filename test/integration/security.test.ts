import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import { expect } from "chai";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ActorSystem, AskTimeoutError, TransportError, connectNats, type ActorRef, type NatsOptions, type SystemEvent } from "../../runtime/index.js";
import { encodeFrame } from "../../runtime/codec/frame-codec.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { troupe } from "../../proto/gen/troupe.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { counter } from "../fixtures/counter.js";
import { eventually } from "../helpers/conditions.js";
import { monitorJson, startNatsWithConfig, type ConfiguredNats } from "../helpers/nats-with-config.js";
import { createNkeyUser } from "../helpers/nkey-user.js";
import { inboxPrefixOf, rolePermissions } from "../helpers/role-users.js";
import { generateTestCertificates, type TestCertificates } from "../helpers/tls-certs.js";
import { runTroupe, type TroupeProcess } from "../helpers/troupe-process.js";

const PING_PONG = `${PROJECT_ROOT}/examples/ping-pong/topology.ts`;
const secret = (what: string): string => `${what}-${randomBytes(12).toString("hex")}`;

/**
 * The permissions of docs/operations.md: a system's nodes publish and subscribe only under
 * `troupe.<system>.>`; replies to requests they receive go out through `allow_responses`. Nodes
 * started in code put their request inbox inside the system's subjects with `inboxPrefix`.
 */
function nodeUser(user: string, password: string, system: string): string {
  return `{ user: "${user}", password: "${password}", permissions: ${nodePermissions(system)} }`;
}

function nodePermissions(system: string): string {
  return `{
      publish: { allow: ["troupe.${system}.>"] }
      subscribe: { allow: ["troupe.${system}.>"] }
      allow_responses: { max: 100, expires: "1m" }
    }`;
}

function tlsBlock(certs: TestCertificates): string {
  return `tls { cert_file: "${certs.certFile}", key_file: "${certs.keyFile}", timeout: 2 }`;
}

describe("security: TLS, users and per-system permissions (integration: nats-server, node processes)", function () {
  this.timeout(60_000);
  let certs: TestCertificates;
  let server: ConfiguredNats;
  let tokenServer: ConfiguredNats;
  const pw = { s1: secret("s1-password"), s2: secret("s2-password"), client: secret("client-password"), monitor: secret("monitor-password"), token: secret("token") };
  // An nkey user of s1 for NATS_CREDS, and one the server does not know.
  const nkey = createNkeyUser();
  const strangerNkey = createNkeyUser();
  const secrets = (): string[] => [...Object.values(pw), nkey.seed, strangerNkey.seed];
  let credsFile: string;
  let strangerCredsFile: string;
  const systems: ActorSystem[] = [];
  const processes: TroupeProcess[] = [];
  const raws: NatsConnection[] = [];

  before(async function () {
    certs = generateTestCertificates();
    credsFile = join(certs.dir, "s1-node.creds");
    strangerCredsFile = join(certs.dir, "stranger.creds");
    writeFileSync(credsFile, nkey.creds, { mode: 0o600 });
    writeFileSync(strangerCredsFile, strangerNkey.creds, { mode: 0o600 });
    server = await startNatsWithConfig(this, certs.dir, `${tlsBlock(certs)}
authorization {
  users = [
    ${nodeUser("s1-node", pw.s1, "s1")}
    ${nodeUser("s2-node", pw.s2, "s2")}
    { nkey: "${nkey.publicKey}", permissions: ${nodePermissions("s1")} }
    { user: "s1-monitor", password: "${pw.monitor}", permissions: ${rolePermissions.monitor("s1", "s1-monitor")} }
    { user: "s1-client", password: "${pw.client}", permissions: ${rolePermissions.client("s1", "s1-client")} }
  ]
}
`);
    tokenServer = await startNatsWithConfig(this, certs.dir, `${tlsBlock(certs)}\nauthorization { token: "${pw.token}" }\n`, "token.conf");
  });

  afterEach(async () => {
    await Promise.all(systems.splice(0).map((s) => s.shutdown()));
    await Promise.all(processes.splice(0).map((p) => p.stop()));
    await Promise.all(raws.splice(0).map((c) => c.close()));
  });

  after(async () => {
    await server?.stop();
    await tokenServer?.stop();
    certs?.remove();
  });

  const tls = (): NatsOptions["tls"] => ({ caFile: certs.caFile });
  const s1 = (): NatsOptions => ({ servers: server.url, tls: tls(), user: "s1-node", pass: pw.s1, inboxPrefix: "troupe.s1._INBOX" });
  const node = async (name: string, nodeId: string, options: NatsOptions): Promise<ActorSystem> => {
    const system = await ActorSystem.start({ name, nodeId, transport: await connectNats(options), types: [Ping, Pong, GetStats, Stats] });
    systems.push(system);
    return system;
  };
  const rawClient = async (options: Parameters<typeof connect>[0]): Promise<NatsConnection> => {
    const nc = await connect({ servers: server.url, tls: tls(), ...options });
    raws.push(nc);
    return nc;
  };
  const failure = (promise: Promise<unknown>): Promise<Error> => promise.then(() => expect.fail("expected a failure"), (e: Error) => e);

  it("security: a client without credentials is refused with a clear error, and so is one that does not trust the server's certificate", async () => {
    const anonymous = await failure(connect({ servers: server.url, tls: tls() }));
    expect(anonymous.name).to.equal("AuthorizationError");
    expect(anonymous.message).to.equal("Authorization Violation");

    const viaRuntime = await failure(connectNats({ servers: server.url, tls: tls() }));
    expect(viaRuntime).to.be.instanceOf(TransportError);
    expect(viaRuntime.message).to.match(/^cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: Authorization Violation\. Check that a nats-server is running there, reachable from this process, and that the credentials are right/);

    const wrongPassword = await failure(connectNats({ ...s1(), pass: "not-the-password" }));
    expect(wrongPassword.message).to.include("Authorization Violation");

    // Right credentials, but the server's certificate is signed by a CA the client does not trust.
    for (const options of [{ tls: undefined }, { tls: { caFile: certs.otherCaFile } }]) {
      const untrusted = await failure(connectNats({ ...s1(), ...options }));
      expect(untrusted.message).to.match(/cannot connect to NATS at .*: unable to verify the first certificate/);
    }
  });

  it("security: two nodes with credentials talk over TLS (tell, ask, lookup), and a plain client's request is answered", async () => {
    const a = await node("s1", "a", s1());
    const b = await node("s1", "b", s1());
    a.spawn(counter, { name: "counter" });
    await eventually("a and b see each other", () => b.nodes().length === 2 && a.nodes().length === 2);

    const remote = await b.lookup<Ping | GetStats>("counter");
    expect(remote?.toString()).to.equal("troupe://s1@a/user/counter");
    for (let seq = 1; seq <= 3; seq++) remote!.tell(Ping.create({ seq }));
    expect((await remote!.ask(GetStats.create(), Stats)).pings).to.equal(3);

    // A client outside Troupe asks a node through a NATS request; the node may answer through allow_responses.
    const client = await rawClient({ user: "s1-client", pass: pw.client, inboxPrefix: inboxPrefixOf("s1-client") });
    const request = encodeFrame([{ target: "/user/counter", typeName: "troupe.examples.pingpong.GetStats", type: GetStats, message: GetStats.create(), sender: undefined, headers: undefined }]);
    const reply = await client.request("troupe.s1.node.a", request, { timeout: 5_000 });
    const [envelope] = troupe.wire.Frame.decode(reply.data).envelopes;
    expect(envelope?.type).to.equal("troupe.examples.pingpong.Stats");
    expect(Stats.decode(envelope!.payload!).pings).to.equal(3);

    // Every connection is TLS and authenticated as its user.
    const connz = await monitorJson<{ connections: { authorized_user?: string; tls_version?: string }[] }>(server, "/connz?auth=true");
    expect(connz.connections.length).to.be.at.least(3);
    for (const c of connz.connections) {
      expect(c.tls_version, "TLS on every connection").to.match(/^1\.[23]$/);
      expect(c.authorized_user).to.be.oneOf(["s1-node", "s1-client"]);
    }
  });

  it("security: `troupe node` takes its credentials from NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS, and trusts the CA from NODE_EXTRA_CA_CERTS", async () => {
    const home = await node("s1", "home", s1());
    const withUser = runTroupe(["node", "--system", "s1", "--node-id", "p1", "--module", PING_PONG, "--exit-with-stdin"], {
      NATS_URL: server.url,
      NATS_USER: "s1-node",
      NATS_PASSWORD: pw.s1,
      NODE_EXTRA_CA_CERTS: certs.caFile,
    });
    processes.push(withUser);
    await withUser.ready();
    const player: ActorRef<Ping> = home.refFor({ system: "s1", node: "p1", path: "/user/player" });
    expect((await player.ask(Ping.create({ seq: 7 }), Pong, { timeoutMs: 5_000 })).node).to.equal("p1");

    const tokenHome = await node("tok", "home", { servers: tokenServer.url, tls: tls(), token: pw.token });
    const withToken = runTroupe(["node", "--system", "tok", "--node-id", "p2", "--module", PING_PONG, "--exit-with-stdin"], {
      NATS_URL: tokenServer.url,
      NATS_TOKEN: pw.token,
      NODE_EXTRA_CA_CERTS: certs.caFile,
    });
    processes.push(withToken);
    await withToken.ready();
    const tokenPlayer: ActorRef<Ping> = tokenHome.refFor({ system: "tok", node: "p2", path: "/user/player" });
    expect((await tokenPlayer.ask(Ping.create({ seq: 8 }), Pong, { timeoutMs: 5_000 })).seq).to.equal(8);

    for (const p of [withUser, withToken]) {
      await p.stop();
      expect(p.stdout() + p.stderr()).to.not.include(pw.s1).and.not.include(pw.token);
    }

    const withCreds = runTroupe(["node", "--system", "s1", "--node-id", "p3", "--module", PING_PONG, "--exit-with-stdin"], {
      NATS_URL: server.url,
      NATS_CREDS: credsFile,
      NODE_EXTRA_CA_CERTS: certs.caFile,
    });
    processes.push(withCreds);
    await withCreds.ready();
    const credsPlayer: ActorRef<Ping> = home.refFor({ system: "s1", node: "p3", path: "/user/player" });
    expect((await credsPlayer.ask(Ping.create({ seq: 9 }), Pong, { timeoutMs: 5_000 })).node).to.equal("p3");
    await withCreds.stop();
    expect(withCreds.stdout() + withCreds.stderr()).to.not.include(nkey.seed);
  });

  it("security: `troupe nodes` and `troupe actors` work for a monitoring user who may only read the roster and ask for actor lists", async () => {
    const a = await node("s1", "a", s1());
    a.spawn(counter, { name: "counter" });
    const env = { NATS_URL: server.url, NATS_USER: "s1-monitor", NATS_PASSWORD: pw.monitor, NATS_INBOX_PREFIX: inboxPrefixOf("s1-monitor"), NODE_EXTRA_CA_CERTS: certs.caFile };
    const nodes = runTroupe(["nodes", "--system", "s1", "--json"], env);
    const actors = runTroupe(["actors", "--system", "s1", "--json"], env);
    processes.push(nodes, actors);
    expect(await nodes.exited, nodes.stderr()).to.equal(0);
    expect(await actors.exited, actors.stderr()).to.equal(0);
    const listed = JSON.parse(nodes.stdout().trim().split("\n").at(-1)!) as { nodes: { node: string }[] };
    expect(listed.nodes.map((n) => n.node)).to.deep.equal(["a"]);
    expect(actors.stdout()).to.include('"path":"/user/counter"');
    expect(nodes.stdout() + nodes.stderr() + actors.stdout() + actors.stderr()).to.not.include(pw.monitor);
  });

  it("security: a client allowed only into another system cannot message this system's actors, subscribe to it, look it up or pose as its node", async () => {
    const a = await node("s1", "a", s1());
    const b = await node("s1", "b", s1());
    const target = a.spawn(counter, { name: "counter" });
    await eventually("a and b see each other", () => a.nodes().length === 2);
    const lettersBefore = a.deadLetters.count;

    // A raw client with the other system's credentials.
    const intruder = await rawClient({ user: "s2-node", pass: pw.s2, inboxPrefix: "troupe.s2._INBOX" });
    const violations: string[] = [];
    void (async () => {
      for await (const status of intruder.status()) if (status.type === "error") violations.push(status.error.message);
    })();
    const ping = encodeFrame([{ target: "/user/counter", typeName: "troupe.examples.pingpong.Ping", type: Ping, message: Ping.create({ seq: 1 }), sender: undefined, headers: undefined }]);
    intruder.publish("troupe.s1.node.a", ping);
    const ghost = troupe.membership.NodeHeartbeat.encode({ node: "ghost", incarnation: "x", startedAtMs: Date.now(), kinds: ["counter"], actorCount: 1, intervalMs: 500 }).finish();
    intruder.publish("troupe.s1.membership.heartbeat", ghost);
    const spy = intruder.subscribe("troupe.s1.>", { callback: (error) => void (error ?? violations.push("received a message of s1")) });
    const lookup = await failure(intruder.request("troupe.s1.name.counter", troupe.system.LookupRequest.encode({ name: "counter" }).finish(), { timeout: 2_000 }));
    expect(lookup.message).to.equal('Permissions Violation for Publish to "troupe.s1.name.counter"');
    await eventually("the server refused everything", () => violations.length >= 4);
    expect(violations).to.have.members([
      'Permissions Violation for Publish to "troupe.s1.node.a"',
      'Permissions Violation for Publish to "troupe.s1.membership.heartbeat"',
      'Permissions Violation for Subscription to "troupe.s1.>"',
      'Permissions Violation for Publish to "troupe.s1.name.counter"',
    ]);
    expect(await spy.closed).to.be.instanceOf(Error);

    // A whole node of the other system: its tell is refused by the server, and the node says so.
    const other = await node("s2", "x", { servers: server.url, tls: tls(), user: "s2-node", pass: pw.s2, inboxPrefix: "troupe.s2._INBOX" });
    const events: SystemEvent[] = [];
    other.onEvent((event) => events.push(event));
    const crossRef: ActorRef<Ping | GetStats> = other.refFor(target.toString());
    crossRef.tell(Ping.create({ seq: 2 }));
    expect(await failure(crossRef.ask(GetStats.create(), Stats, { timeoutMs: 1_000 }))).to.be.instanceOf(AskTimeoutError);
    await eventually("the s2 node reports the refusal", () => events.some((e) => e.type === "transport" && e.event.type === "error"));
    const refusal = events.find((e) => e.type === "transport" && e.event.type === "error");
    expect(refusal?.type === "transport" && refusal.event.type === "error" && refusal.event.error.message).to.equal('Permissions Violation for Publish to "troupe.s1.node.a"');

    // Nothing of it reached s1: a legitimate node's Ping is the only one counted, no dead letters, no ghost node.
    const fromB: ActorRef<Ping | GetStats> = b.refFor(target.toString());
    fromB.tell(Ping.create({ seq: 3 }));
    expect((await fromB.ask(GetStats.create(), Stats)).pings).to.equal(1);
    expect(a.deadLetters.count).to.equal(lettersBefore);
    expect(a.nodes().map((n) => n.node)).to.deep.equal(["a", "b"]);
    expect(violations).to.not.include("received a message of s1");
  });

  it("security: a node's lookup needs its request inbox allowed: under these permissions, without inboxPrefix, lookup() finds nothing and the node reports a permission error", async () => {
    const a = await node("s1", "a", s1());
    a.spawn(counter, { name: "counter" });
    const b = await node("s1", "b", { ...s1(), inboxPrefix: undefined });
    const events: SystemEvent[] = [];
    b.onEvent((event) => events.push(event));
    expect(await b.lookup("counter")).to.equal(undefined);
    await eventually("a transport error event", () => events.some((e) => e.type === "transport" && e.event.type === "error"));
    const error = events.find((e) => e.type === "transport" && e.event.type === "error");
    expect(error?.type === "transport" && error.event.type === "error" && error.event.error.message).to.match(/^Permissions Violation for Subscription to "_INBOX\./);
  });

  it("security: credentials never appear in errors or in a node's output", async () => {
    const leaks = (text: string): string[] => secrets().filter((s) => text.includes(s) || text.includes(encodeURIComponent(s)));
    const everything = (error: Error): string => [error.message, error.stack ?? "", String(error), inspect(error, { depth: 5 }), JSON.stringify(error)].join("\n");
    const hostPort = server.url.slice("nats://".length);

    // Errors thrown by connectNats, whatever carries the secret.
    const attempts: NatsOptions[] = [
      { ...s1(), pass: `${pw.s1}-wrong` },
      { ...s1(), user: undefined, pass: undefined, servers: `nats://s1-node:${pw.s1}-wrong@${hostPort}` },
      { ...s1(), user: undefined, pass: undefined, servers: `tls://${pw.token}@${hostPort}` },
      { servers: tokenServer.url, tls: tls(), token: `${pw.token}-wrong` },
      { ...s1(), tls: undefined },
    ];
    for (const options of attempts) expect(leaks(everything(await failure(connectNats(options))))).to.deep.equal([]);

    // A transport whose URL carries credentials describes itself without them.
    const transport = await connectNats({ ...s1(), servers: `nats://s1-node:${pw.s1}@${hostPort}` });
    expect(transport.description).to.equal(`nats nats://${hostPort}`);
    await transport.close();

    // `troupe node` with a wrong password in the environment, and with credentials in the URL.
    const runs = [
      runTroupe(["node", "--system", "s1", "--node-id", "bad1"], { NATS_URL: server.url, NATS_USER: "s1-node", NATS_PASSWORD: `${pw.s1}-wrong`, NODE_EXTRA_CA_CERTS: certs.caFile }),
      runTroupe(["node", "--system", "s1", "--node-id", "bad2", "--nats", `nats://s1-node:${pw.s1}-wrong@${hostPort}`], { NODE_EXTRA_CA_CERTS: certs.caFile }),
      runTroupe(["node", "--system", "tok", "--node-id", "bad3"], { NATS_URL: tokenServer.url, NATS_TOKEN: `${pw.token}-wrong`, NODE_EXTRA_CA_CERTS: certs.caFile }),
      runTroupe(["node", "--system", "s1", "--node-id", "bad4"], { NATS_URL: server.url, NATS_CREDS: strangerCredsFile, NODE_EXTRA_CA_CERTS: certs.caFile }),
    ];
    processes.push(...runs);
    for (const run of runs) {
      expect(await run.exited, `troupe node exits when it cannot connect\n${run.stderr()}`).to.equal(1);
      expect(run.stderr()).to.match(/cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: Authorization Violation/);
      expect(leaks(run.stdout() + run.stderr())).to.deep.equal([]);
    }
  });

  // nats.js 3.x ignores `user:password@` in a server URL; connectNats takes the credentials out of the
  // URL and passes them as user/pass (or token), so NATS_URL=nats://user:password@host works as with
  // other NATS clients.
  it("security: credentials in the server URL are used (nats://user:password@host)", async () => {
    const url = `nats://s1-node:${pw.s1}@${server.url.slice("nats://".length)}`;
    const system = await node("s1", "url-creds", { servers: url, tls: tls(), inboxPrefix: "troupe.s1._INBOX" });
    expect(system.nodes().map((n) => n.node)).to.include("url-creds");
  });
});
