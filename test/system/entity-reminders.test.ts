import { expect } from "chai";
import { ActorSystem, AskFailedError, MemoryNetwork, defineEntity, MemoryStore, decodeEntityObject, rendezvous, type StateStore, type StoredObject, type Transport } from "../../runtime/index.js";
import { ManualClock } from "../../runtime/testkit/index.js";
import { troupe } from "../../proto/gen/troupe.js";
import { ALARMS_IDLE_MS, Alarms, CancelAlarm, SetAlarm, alarmsEntity } from "../fixtures/entity-alarms.js";
import { Add, Total, counterEntity } from "../fixtures/entity-counter.js";
import { settle } from "../helpers/conditions.js";

/** Counts reads by key, so a test can tell which objects a scan looked at. */
class ReadCountingStore implements StateStore {
  readonly reads = new Map<string, number>();
  constructor(readonly inner: StateStore) {}
  get description(): string {
    return this.inner.description;
  }
  read(key: string): Promise<StoredObject | undefined> {
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    return this.inner.read(key);
  }
  write: StateStore["write"] = (key, bytes, expected) => this.inner.write(key, bytes, expected);
  list: StateStore["list"] = (prefix) => this.inner.list(prefix);
  close: StateStore["close"] = () => this.inner.close();
}

describe("entities: reminders (system tier, in-memory network, manual clock)", () => {
  let network: MemoryNetwork;
  let shared: MemoryStore;
  let store: ReadCountingStore;
  /** Each node has its own clock: a node whose clock stops (and whose transport closes) is dead to the others. */
  let clocks: Map<string, ManualClock>;
  let transports: Map<string, Transport>;
  let nodes: Map<string, ActorSystem>;
  let deadClock: ManualClock | undefined;

  const start = async (nodeId: string, hosts = true): Promise<ActorSystem> => {
    const clock = new ManualClock(now());
    const transport = network.connect(nodeId);
    const entities = hosts ? [{ definition: alarmsEntity, store }] : [];
    const node = await ActorSystem.start({ name: "rem", nodeId, transport, clock, askTimeoutMs: 60_000, entities });
    clocks.set(nodeId, clock);
    transports.set(nodeId, transport);
    nodes.set(nodeId, node);
    return node;
  };
  const node = (id: string): ActorSystem => nodes.get(id)!;
  /** The time every live node agrees on. */
  const now = (): number => (clocks.size === 0 ? (deadClock?.now() ?? 0) : [...clocks.values()][0]!.now());
  const stop = async (id: string): Promise<void> => {
    await node(id).shutdown();
    nodes.delete(id);
    deadClock = clocks.get(id);
    clocks.delete(id);
  };
  /** The node stops: its clock no longer moves and its connection is gone, as after SIGKILL. */
  const kill = async (id: string): Promise<ActorSystem> => {
    const dead = node(id);
    await transports.get(id)!.close();
    nodes.delete(id);
    clocks.delete(id);
    return dead;
  };
  async function elapse(ms: number): Promise<void> {
    for (let done = 0; done < ms; done += 250) {
      for (const clock of clocks.values()) clock.advance(Math.min(250, ms - done));
      await settle();
      await settle();
    }
  }
  async function elapseUntil(what: string, condition: () => boolean | Promise<boolean>, limitMs = 30_000): Promise<void> {
    for (let ms = 0; !(await condition()); ms += 250) {
      if (ms > limitMs) throw new Error(`${what}: not after ${limitMs} ms`);
      await elapse(250);
    }
  }
  const seenBy = (id: string): string[] => node(id).nodes().map((n) => n.node);
  const keyOwnedBy = (owner: string, hosts: readonly string[], prefix = "k"): string => {
    for (let i = 0; ; i++) if (rendezvous("alarms", `${prefix}${i}`, hosts) === owner) return `${prefix}${i}`;
  };
  /** The stored log of the entity's firings. */
  const fired = async (key: string): Promise<{ name: string; missed: number; atMs: number; node: string }[]> => {
    const object = await shared.read(`entities/alarms/${key}`);
    const log = object === undefined ? [] : Alarms.decode(decodeEntityObject(object.bytes).state).fired;
    return log.map((f) => ({ name: f.name ?? "", missed: f.missed ?? 0, atMs: f.atMs ?? 0, node: f.node ?? "" }));
  };
  const set = (key: string, name: string, schedule: { atMs?: number; everyMs?: number }, via = "n1"): Promise<unknown> =>
    node(via).entityRef(alarmsEntity, key).ask(SetAlarm.create({ name, atMs: schedule.atMs ?? 0, everyMs: schedule.everyMs ?? 0 }), Alarms);
  const active = (id: string): string[] => node(id).entityActivations().map((a) => a.key);

  beforeEach(async () => {
    network = new MemoryNetwork();
    shared = new MemoryStore();
    store = new ReadCountingStore(shared);
    clocks = new Map();
    transports = new Map();
    nodes = new Map();
    deadClock = undefined;
    await start("n1", false);
    await start("n2");
    await start("n3");
    await elapse(500);
  });
  afterEach(() => Promise.all([...nodes.values()].map((n) => n.shutdown())));

  it("reminders: a periodic reminder fires on its active entity every interval with nothing missed, a one-off once, and a cancelled one no more", async () => {
    const key = keyOwnedBy("n2", ["n2", "n3"]);
    const t0 = now();
    await set(key, "tick", { everyMs: 1_000 });
    await set(key, "once", { atMs: t0 + 2_500 });
    await elapse(3_000);
    const names = (await fired(key)).map((f) => `${f.name}@${f.atMs - t0}:${f.missed}`);
    expect(names).to.deep.equal(["tick@1000:0", "tick@2000:0", "once@2500:0", "tick@3000:0"]);
    await node("n1").entityRef(alarmsEntity, key).ask(CancelAlarm.create({ name: "tick" }), Alarms);
    await elapse(3_000);
    expect((await fired(key)).length).to.equal(4);
    expect((await fired(key)).every((f) => f.node === "n2")).to.equal(true);
  });

  it("reminders: a reminder fires while its entity is passivated: the index wakes it on its owner", async () => {
    const key = keyOwnedBy("n3", ["n2", "n3"]);
    const t0 = now();
    await set(key, "later", { atMs: t0 + 20_000 });
    await elapse(ALARMS_IDLE_MS + 500);
    expect(active("n3")).to.deep.equal([]);
    await elapseUntil("the reminder fired", async () => (await fired(key)).length === 1);
    const [f] = await fired(key);
    expect(f).to.include({ name: "later", missed: 0, node: "n3" });
    expect(f!.atMs - t0).to.be.within(20_000, 21_500); // within a scan interval (1 s) and a step
    await elapse(5_000);
    expect((await fired(key)).length).to.equal(1);
  });

  it("reminders: after the owner node dies, the reminder fires on the key's new owner", async () => {
    const key = keyOwnedBy("n2", ["n2", "n3"]);
    const t0 = now();
    await set(key, "after-death", { atMs: t0 + 15_000 });
    expect(active("n2")).to.deep.equal([key]);
    const dead = await kill("n2");
    await elapseUntil("n1 and n3 lost n2", () => !seenBy("n1").includes("n2") && !seenBy("n3").includes("n2"));
    await elapseUntil("the reminder fired", async () => (await fired(key)).length === 1);
    expect((await fired(key))[0]).to.include({ name: "after-death", node: "n3" });
    expect(now() - t0).to.be.at.least(15_000);
    await dead.shutdown().catch(() => undefined);
  });

  it("reminders: persisted across a restart of every node; after the downtime, the missed ticks fire once with their number", async () => {
    const key = keyOwnedBy("n2", ["n2", "n3"]);
    const t0 = now();
    await set(key, "tick", { everyMs: 1_000 });
    await elapse(2_000);
    expect((await fired(key)).map((f) => f.missed)).to.deep.equal([0, 0]);
    for (const id of ["n1", "n2", "n3"]) await stop(id);
    deadClock!.advance(6_500); // nobody runs for 6.5 s
    await start("n1", false);
    await start("n2");
    await start("n3");
    await elapseUntil("the tick after the downtime", async () => (await fired(key)).length >= 3);
    const late = (await fired(key))[2]!;
    // Ticks were due at t0+3000, 4000, ...: one firing stands for all of them that passed.
    expect(late.missed).to.equal(Math.floor((late.atMs - t0 - 3_000) / 1_000));
    expect(late.missed).to.be.at.least(5);
    await elapse(2_000);
    expect((await fired(key)).slice(3).map((f) => f.missed)).to.deep.equal([0, 0]);
  });

  it("reminders: an entity holds many reminders, each fires once at its time, and the index keeps one entry for the entity", async () => {
    const key = keyOwnedBy("n2", ["n2", "n3"]);
    const t0 = now();
    const ref = node("n1").entityRef(alarmsEntity, key);
    await Promise.all(Array.from({ length: 50 }, (_, i) => ref.ask(SetAlarm.create({ name: `r${49 - i}`, atMs: t0 + 10_000 + (49 - i) * 100 }), Alarms)));
    const indexEntries = async (): Promise<troupe.entity.IReminderIndexEntry[]> => {
      const shards = await shared.list("entities/.reminders/alarms/");
      return (await Promise.all(shards.map(async (k) => troupe.entity.ReminderIndex.decode((await shared.read(k))!.bytes).entries))).flat();
    };
    expect((await indexEntries()).map((e) => [e.key, e.dueAtMs! - t0])).to.deep.equal([[key, 10_000]]);
    await elapse(16_000);
    const log = await fired(key);
    expect(log.map((f) => f.name)).to.deep.equal(Array.from({ length: 50 }, (_, i) => `r${i}`));
    expect(log.every((f, i) => f.missed === 0 && f.atMs - t0 >= 10_000 + i * 100)).to.equal(true);
    expect(decodeEntityObject((await shared.read(`entities/alarms/${key}`))!.bytes).reminders).to.deep.equal([]);
    expect(await indexEntries()).to.deep.equal([]); // nothing left to fire: the entry is gone
  });

  it("reminders: scanning reads the index shards, not the entities: 20 passivated entities with distant reminders are not read", async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `e${i}`);
    for (const key of keys) await set(key, "far", { atMs: now() + 3_600_000 });
    await elapse(ALARMS_IDLE_MS + 500);
    expect([...active("n2"), ...active("n3")]).to.deep.equal([]);
    store.reads.clear();
    await elapse(10_000);
    const readKeys = [...store.reads.keys()];
    expect(readKeys.filter((k) => k.startsWith("entities/alarms/"))).to.deep.equal([]);
    // One node per shard: 16 shards read once a second.
    expect(readKeys.every((k) => k.startsWith("entities/.reminders/alarms/"))).to.equal(true);
    const total = [...store.reads.values()].reduce((a, b) => a + b, 0);
    expect(total).to.be.within(16 * 9, 16 * 11);
  });

  it("reminders: ctx.remind on a kind without onReminder fails the handler; nothing is written", async () => {
    const a = await ActorSystem.start({ name: "solo", nodeId: "a", transport: network.connect("a"), clock: new ManualClock(), membership: false, askTimeoutMs: 60_000 });
    nodes.set("a", a);
    const noReminders = defineEntity({
      kind: "plain",
      state: Total,
      initial: () => Total.create(),
      messages: { Add },
      handlers: { Add: (_s, _m, ctx) => ctx.remind("x", { everyMs: 1_000 }) },
    });
    a.hostEntities(noReminders, { store: shared });
    const failure = await a.entityRef(noReminders, "k").ask(Add.create({ amount: 1 }), Total).then(
      () => expect.fail("answered"),
      (e: unknown) => e as AskFailedError,
    );
    expect(failure.reason).to.equal("handler-failed");
    expect(failure.message).to.match(/no onReminder/);
    expect(await shared.read("entities/plain/k")).to.equal(undefined);
    expect(counterEntity.onReminder).to.equal(undefined);
  });
});
