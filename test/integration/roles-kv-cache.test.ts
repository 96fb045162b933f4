import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { ActorSystem, connectNats } from "../../runtime/index.js";
import { NatsKvCacheStore, ResultCache } from "../../runtime/cache/index.js";
import { encodeFrame } from "../../runtime/codec/frame-codec.js";
import { troupe } from "../../proto/gen/troupe.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { counter } from "../fixtures/counter.js";
import { eventually } from "../helpers/conditions.js";
import { startNatsWithConfig, type ConfiguredNats } from "../helpers/nats-with-config.js";
import { inboxPrefixOf, rolePermissions, roleUser, violationsOf } from "../helpers/role-users.js";

const PASSWORD = "roles-kv-test-password";
/** For credentials given in the server URL: a password that a pattern stopping at the first `/` or `@` would leak. */
const URL_PASSWORD = "kv/url@pass:word";

/**
 * The node role of docs/operations.md with the addition that page gives a node using the NATS KV
 * result cache: the JetStream API calls of the bucket `troupe-cache` only, and the bucket's subjects, to
 * publish (JetStream answers on the node's request inbox, inside its system). Keep the two in step.
 */
const KV_CACHE_PUBLISH = [
  "$JS.API.INFO",
  "$JS.API.STREAM.INFO.KV_troupe-cache",
  "$JS.API.STREAM.CREATE.KV_troupe-cache",
  "$JS.API.STREAM.MSG.GET.KV_troupe-cache",
  "$JS.API.DIRECT.GET.KV_troupe-cache.>",
  "$KV.troupe-cache.>",
];
const nodeWithKvCache = (system: string): string => `{
      publish: { allow: ${JSON.stringify([`troupe.${system}.>`, ...KV_CACHE_PUBLISH])} }
      subscribe: { allow: ["troupe.${system}.>"] }
      allow_responses: { max: 100, expires: "1m" }
    }`;

describe("roles: the NATS KV result cache under the node, client and monitor permissions of docs/operations.md (integration: nats-server with JetStream)", function () {
  this.timeout(60_000);
  let dir: string;
  let server: ConfiguredNats;
  const systems: ActorSystem[] = [];
  const raws: NatsConnection[] = [];
  const stores: NatsKvCacheStore[] = [];

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), "troupe-roles-kv-"));
    server = await startNatsWithConfig(this, dir, `jetstream { store_dir: "${join(dir, "js")}" }
authorization {
  users = [
    ${roleUser("s1-node", PASSWORD, nodeWithKvCache("s1"))}
    ${roleUser("s1-url-node", URL_PASSWORD, nodeWithKvCache("s1"))}
    ${roleUser("s1-client", PASSWORD, rolePermissions.client("s1", "s1-client"))}
    ${roleUser("s1-monitor", PASSWORD, rolePermissions.monitor("s1", "s1-monitor"))}
  ]
}
`);
  });
  afterEach(async () => {
    await Promise.all(raws.splice(0).map((c) => c.close()));
    await Promise.all(systems.splice(0).map((s) => s.shutdown()));
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The store as a node opens it: the node's credentials, and its request inbox inside the system. */
  const nodeStore = (): NatsKvCacheStore => {
    const store = new NatsKvCacheStore({ connection: { servers: server.url, user: "s1-node", pass: PASSWORD, inboxPrefix: "troupe.s1._INBOX" } });
    stores.push(store);
    return store;
  };
  const raw = async (user: string): Promise<NatsConnection> => {
    const nc = await connect({ servers: server.url, user, pass: PASSWORD, inboxPrefix: inboxPrefixOf(user) });
    raws.push(nc);
    return nc;
  };

  it("roles: a node with the documented permissions serves a cached service on the KV bucket: the second identical ask of a client is a hit", async () => {
    const transport = await connectNats({ servers: server.url, user: "s1-node", pass: PASSWORD, inboxPrefix: "troupe.s1._INBOX" });
    const node = await ActorSystem.start({ name: "s1", nodeId: "a", transport, types: [Ping, Pong, GetStats, Stats] });
    systems.push(node);
    const errors: string[] = [];
    const cache = new ResultCache(nodeStore(), { log: (line) => errors.push(line) });
    const member = node.serve(counter, { name: "counting", cache: { use: cache, version: `${Date.now()}` } });
    const nc = await raw("s1-client");
    const getStats = encodeFrame([{ target: "", typeName: "troupe.examples.pingpong.GetStats", type: GetStats, message: GetStats.create(), sender: undefined, headers: undefined }]);
    for (let i = 0; i < 2; i++) {
      const reply = troupe.wire.Frame.decode((await nc.request("troupe.s1.service.counting", getStats, { timeout: 5_000 })).data).envelopes[0]!;
      expect(reply.type).to.equal("troupe.examples.pingpong.Stats");
    }
    expect(member.cache!.counters).to.include({ misses: 1, hits: 1, bypassed: 0 });
    expect([cache.counters.errors, errors]).to.deep.equal([0, []]);
  });

  it("roles: the node's KV store takes and gives up leases, stores and reads entries, with nothing refused", async () => {
    const store = nodeStore();
    expect(await store.acquire("k1", "h", 5_000)).to.equal(true);
    expect(await store.renew("k1", "h", 5_000)).to.equal(true);
    await store.set("k1", Buffer.from("v"));
    await store.release("k1", "h");
    expect(Buffer.from((await store.get("k1"))!).toString()).to.equal("v");
  });

  it("roles: a node's KV store given its credentials in the server URL (nats://user:password@host) connects with them, and its description shows none", async () => {
    const withCredentials = server.url.replace("nats://", `nats://s1-url-node:${URL_PASSWORD}@`);
    const store = new NatsKvCacheStore({ connection: { servers: withCredentials, inboxPrefix: "troupe.s1._INBOX" } });
    stores.push(store);
    expect(store.description).to.equal(`nats-kv bucket troupe-cache at ${server.url}`);
    await store.set("url-credentials", Buffer.from("v"));
    expect(Buffer.from((await store.get("url-credentials"))!).toString()).to.equal("v");
  });

  it("roles: a node's KV store on the default request inbox (_INBOX, outside the system) is refused: the cache computes without it and says so", async () => {
    const store = new NatsKvCacheStore({ connection: { servers: server.url, user: "s1-node", pass: PASSWORD } });
    stores.push(store);
    const lines: string[] = [];
    const cache = new ResultCache(store, { log: (line) => lines.push(line) });
    const answer = await cache.getOrCompute("k2", "t.Result", async () => Buffer.from("computed"));
    expect(answer.outcome).to.equal("bypass");
    expect(lines.join("\n")).to.match(/nats-kv bucket troupe-cache .* is unavailable/);
  });

  for (const user of ["s1-client", "s1-monitor"]) {
    it(`roles: a ${user.slice(3)} can neither read nor write the cache's bucket: the server refuses each`, async () => {
      // An entry for it to try to read.
      await nodeStore().set("secret", Buffer.from("cached result"));
      const nc = await raw(user);
      const violations = violationsOf(nc);
      // Through nats.js's KV client, as a program of that user would try it.
      const kv = await new Kvm(nc).open("troupe-cache", { timeout: 2_000 });
      expect(await kv.get("secret").catch((e: Error) => e), "a read").to.be.instanceOf(Error);
      expect(await kv.put("secret", Buffer.from("forged")).catch((e: Error) => e), "a write").to.be.instanceOf(Error);
      // And by hand: a plain publish into the bucket, a subscription to it.
      nc.publish("$KV.troupe-cache.secret", Buffer.from("forged"));
      nc.subscribe("$KV.troupe-cache.>");
      await eventually("the refusals reported", () => violations.length >= 4);
      console.log(`      ${user}: ${JSON.stringify([...new Set(violations)])}`);
      expect(violations.join("\n")).to.include('Permissions Violation for Publish to "$KV.troupe-cache.secret"').and.include('Permissions Violation for Subscription to "$KV.troupe-cache.>"');
      expect(violations.some((v) => v.startsWith('Permissions Violation for Publish to "$JS.API.'))).to.equal(true);
      // The entry is as the node wrote it.
      expect(Buffer.from((await nodeStore().get("secret"))!).toString()).to.equal("cached result");
    });
  }
});
