import { expect } from "chai";
import { ActorSystem, MemoryNetwork, MemoryStore, decodeEntityObject, defineEntity, type HostEntitiesOptions } from "../../runtime/index.js";
import { ManualClock } from "../../runtime/testkit/index.js";
import { Alarms, Fired, SetAlarm } from "../fixtures/entity-alarms.js";
import { settle } from "../helpers/conditions.js";

/** An alarms entity whose onReminder throws while `throwing(call)` says so; every call is logged with its time and missed count. */
function flakyAlarms(kind: string, throwing: (call: number) => boolean, calls: { atMs: number; name: string; missed: number }[], idleMs = 600_000) {
  return defineEntity({
    kind,
    state: Alarms,
    initial: () => Alarms.create({ fired: [] }),
    messages: { SetAlarm },
    handlers: {
      SetAlarm: (state, set, ctx) => {
        ctx.remind(set.name, set.everyMs > 0 ? { atMs: set.atMs, everyMs: set.everyMs } : { atMs: set.atMs });
        ctx.reply(state);
      },
    },
    onReminder: (state, fired, ctx) => {
      calls.push({ atMs: ctx.clock.now(), name: fired.name, missed: fired.missed });
      if (throwing(calls.length)) throw new Error(`call ${calls.length} failed`);
      return Alarms.create({ fired: [...state.fired, Fired.create({ name: fired.name, missed: fired.missed, atMs: ctx.clock.now(), node: ctx.nodeId })] });
    },
    idleMs,
  });
}

describe("entities: a reminder whose onReminder throws is retried with backoff (system tier, in-memory network, manual clock)", () => {
  const T0 = 1_000_000;
  let network: MemoryNetwork;
  let clock: ManualClock;
  let shared: MemoryStore;
  let node: ActorSystem | undefined;

  beforeEach(() => {
    network = new MemoryNetwork();
    clock = new ManualClock(T0);
    shared = new MemoryStore();
  });
  afterEach(() => node?.shutdown());

  const start = async (definition: ReturnType<typeof flakyAlarms>, options: Partial<HostEntitiesOptions> = {}): Promise<ActorSystem> => {
    node = await ActorSystem.start({ name: "retry", nodeId: "a", transport: network.connect("a"), clock, membership: false, askTimeoutMs: 60_000 });
    node.hostEntities(definition, { store: shared, ...options });
    return node;
  };
  /** Moves the clock one second at a time, letting the entity run between steps. */
  const elapse = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 1_000) {
      clock.advance(1_000);
      for (let i = 0; i < 3; i++) await settle();
    }
  };

  it("reminder retry: a handler that always throws is called again after 1 s, doubling to 60 s, never in a loop; each throw is a handler-failed dead letter", async () => {
    const calls: { atMs: number; name: string; missed: number }[] = [];
    const entity = flakyAlarms("always-throws", () => true, calls);
    const a = await start(entity);
    await a.entityRef(entity, "x").ask(SetAlarm.create({ name: "once", atMs: T0 + 1_000 }), Alarms);
    await elapse(10 * 60_000);
    const gaps = calls.slice(1).map((c, i) => c.atMs - calls[i]!.atMs);
    expect(calls[0]!.atMs).to.equal(T0 + 1_000);
    expect(gaps.slice(0, 9)).to.deep.equal([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    expect(calls.length).to.be.within(14, 16); // 1 + 6 doublings (63 s) + one per minute after
    expect(a.deadLetters.countOf("handler-failed")).to.equal(calls.length);
    expect(a.deadLetters.recent().at(-1)?.detail).to.match(/onReminder threw for reminder once \(call \d+ failed\); it fires again in 60000 ms/);
    // The retry is persisted with the reminder: its tick is still there, with its failures and when it is due again.
    const record = decodeEntityObject((await shared.read("entities/always-throws/x"))!.bytes);
    expect(record.reminders.map((r) => ({ name: r.name, dueAtMs: r.dueAtMs, failures: r.failures }))).to.deep.equal([{ name: "once", dueAtMs: T0 + 1_000, failures: calls.length }]);
    expect(record.reminders[0]!.retryAtMs).to.equal(calls.at(-1)!.atMs + 60_000);
  });

  it("reminder retry: a one-off reminder that throws twice fires a third time and is then gone, its effect committed once", async () => {
    const calls: { atMs: number; name: string; missed: number }[] = [];
    const entity = flakyAlarms("twice-throws", (n) => n <= 2, calls);
    const a = await start(entity);
    const x = a.entityRef(entity, "x");
    await x.ask(SetAlarm.create({ name: "once", atMs: T0 + 1_000 }), Alarms);
    await elapse(30_000);
    expect(calls.map((c) => c.atMs - T0)).to.deep.equal([1_000, 2_000, 4_000]);
    const record = decodeEntityObject((await shared.read("entities/twice-throws/x"))!.bytes);
    expect(record.reminders).to.deep.equal([]);
    expect(Alarms.decode(record.state).fired.map((f) => Number(f.atMs) - T0)).to.deep.equal([4_000]);
  });

  it("reminder retry: a periodic reminder that throws keeps its phase: the retry counts the ticks it passed as missed, and the next tick is on time", async () => {
    const calls: { atMs: number; name: string; missed: number }[] = [];
    // Throws on its first tick and on the first two retries: retries at +1 s, +3 s, +7 s (after ticks at 10 s).
    const entity = flakyAlarms("periodic-throws", (n) => n <= 3, calls);
    const a = await start(entity, { reminders: { retryMinBackoffMs: 1_000, retryMaxBackoffMs: 4_000 } });
    await a.entityRef(entity, "x").ask(SetAlarm.create({ name: "tick", atMs: T0 + 10_000, everyMs: 5_000 }), Alarms);
    await elapse(30_000);
    expect(calls.map((c) => [c.atMs - T0, c.missed])).to.deep.equal([
      [10_000, 0],
      [11_000, 0],
      [13_000, 0],
      [17_000, 1], // the 15 s tick passed while it backed off: one call stands for both
      [20_000, 0],
      [25_000, 0],
      [30_000, 0],
    ]);
  });

  it("reminder retry: the backoff survives passivation: a reactivated entity does not fire again before its retry time", async () => {
    const calls: { atMs: number; name: string; missed: number }[] = [];
    const entity = flakyAlarms("passive-throws", (n) => n <= 4, calls, 2_000);
    const a = await start(entity, { reminders: { scanEveryMs: 1_000 } });
    await a.entityRef(entity, "x").ask(SetAlarm.create({ name: "once", atMs: T0 + 1_000 }), Alarms);
    await elapse(60_000);
    // Idle for 2 s between retries, the copy passivates; the scanner wakes it at the persisted retry time.
    expect(calls.map((c) => c.atMs - T0)).to.deep.equal([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(a.entityActivations()).to.deep.equal([]);
  });
});
