import { expect } from "chai";
import { ActorSystem, CountingStore, MemoryNetwork, MemoryStore, decodeEntityObject, type StateStore } from "../../runtime/index.js";
import { ManualClock } from "../../runtime/testkit/index.js";
import { ReminderIndex } from "../../runtime/entities/reminder-index.js";
import { ALARMS_IDLE_MS, Alarms, SetAlarm, alarmsEntity } from "../fixtures/entity-alarms.js";
import { eventuallyAsync, settle } from "../helpers/conditions.js";

describe("entities: the reminder index (system tier, in-memory store, manual clock)", () => {
  let clock: ManualClock;
  let shared: MemoryStore;

  beforeEach(() => {
    clock = new ManualClock(1_000_000);
    shared = new MemoryStore();
  });

  const entryOf = async (index: ReminderIndex, key: string) => (await index.read(index.shardOf(key))).find((e) => e.key === key);

  it("reminder index: a claim only ever lowers an entry and always takes a new token; a raise applies only under the current token", async () => {
    const index = new ReminderIndex(shared, "entities", "alarms", 16, clock, 0);
    const first = await index.lower("k", 100);
    const second = await index.lower("k", 200);
    expect(second).to.not.equal(first);
    expect(await entryOf(index, "k")).to.deep.equal({ key: "k", dueAtMs: 100, token: second });
    // The copy that made the first claim cannot move the entry past what the second one covers.
    expect(await index.raise("k", 300, first)).to.equal(false);
    expect((await entryOf(index, "k"))!.dueAtMs).to.equal(100);
    expect(await index.raise("k", 300, second)).to.equal(true);
    expect((await entryOf(index, "k"))!.dueAtMs).to.equal(300);
    expect(await index.raise("k", undefined, second)).to.equal(true);
    expect(await entryOf(index, "k")).to.equal(undefined);
  });

  it("reminder index: operations on one shard from one node are coalesced: one read-modify-write in flight, the rest together in the next", async () => {
    const counting = new CountingStore(shared);
    const index = new ReminderIndex(counting, "entities", "alarms", 1, clock, 0);
    await Promise.all(Array.from({ length: 20 }, (_, i) => index.lower(`k${i}`, i)));
    expect(counting.totalWrites).to.equal(2);
    expect((await index.read(0)).length).to.equal(20);
  });

  it("reminder index: an entry left early by a copy that claimed and never wrote is healed by the wake it causes, and wakes no more", async () => {
    const network = new MemoryNetwork();
    const reads: string[] = [];
    const store: StateStore = {
      description: "spy",
      read: (key) => (reads.push(key), shared.read(key)),
      write: (key, bytes, expected) => shared.write(key, bytes, expected),
      list: (prefix) => shared.list(prefix),
      close: () => shared.close(),
    };
    const a = await ActorSystem.start({ name: "rem", nodeId: "a", transport: network.connect("a"), clock, membership: false, askTimeoutMs: 60_000 });
    try {
      a.hostEntities(alarmsEntity, { store });
      const far = clock.now() + 3_600_000;
      await a.entityRef(alarmsEntity, "x").ask(SetAlarm.create({ name: "far", atMs: far }), Alarms);
      for (let ms = 0; ms <= ALARMS_IDLE_MS; ms += 500) {
        clock.advance(500);
        await settle();
      }
      expect(a.entityActivations()).to.deep.equal([]);

      // Another copy claimed an earlier time and lost its write: the entry is early, under a token no record has.
      const index = new ReminderIndex(shared, "entities", "alarms", 16, clock, 0);
      await index.lower("x", clock.now());
      clock.advance(1_000); // the scan wakes x, which finds nothing due and claims anew with a write
      await eventuallyAsync("the entry moved back to the reminder", async () => (await entryOf(index, "x"))?.dueAtMs === far);
      const entry = (await entryOf(index, "x"))!;
      expect(entry.dueAtMs).to.equal(far);
      expect(entry.token).to.equal(decodeEntityObject((await shared.read("entities/alarms/x"))!.bytes).indexToken);

      reads.length = 0;
      for (let ms = 0; ms < 5_000; ms += 500) {
        clock.advance(500);
        await settle();
      }
      expect(reads.filter((k) => k === "entities/alarms/x")).to.deep.equal([]);
      expect(Alarms.decode(decodeEntityObject((await shared.read("entities/alarms/x"))!.bytes).state).fired).to.deep.equal([]);
    } finally {
      await a.shutdown();
    }
  });
});
