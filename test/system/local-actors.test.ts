import { expect } from "chai";
import { ActorSystem, AskFailedError, AskTimeoutError, MemoryNetwork, defineActor, type ActorContext, type ActorDefinition } from "../../runtime/index.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { player } from "../../examples/ping-pong/player.js";
import { eventually, settle } from "../helpers/conditions.js";
import { ManualClock } from "../../runtime/testkit/index.js";

/** An actor whose Ping handler is async and records how many handlers ran at once. */
function concurrencyProbe(log: string[]) {
  let running = 0;
  let maxRunning = 0;
  const definition = defineActor({
    messages: { Ping, GetStats },
    init: () => ({ handled: 0 }),
    handlers: {
      Ping: async (state, ping) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        log.push(`start ${ping.seq}`);
        await new Promise((resolve) => setTimeout(resolve, 3 - (ping.seq % 3)));
        log.push(`end ${ping.seq}`);
        running--;
        return { handled: state.handled + 1 };
      },
      GetStats: (state, _m, ctx) => ctx.reply(Stats.create({ pings: state.handled })),
    },
  });
  return { definition, maxRunning: () => maxRunning };
}

describe("local actors (system tier, in-memory transport)", () => {
  let system: ActorSystem;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock();
    system = await ActorSystem.start({ name: "local", nodeId: "n1", transport: new MemoryNetwork().connect(), clock });
  });
  afterEach(() => system.shutdown());

  it("actors: tell and ask with a typed reply", async () => {
    const ref = system.spawn(player, { name: "player" });
    ref.tell(Ping.create({ seq: 1 }));
    const pong = await ref.ask(Ping.create({ seq: 2 }), Pong);
    expect(pong).to.be.instanceOf(Pong);
    expect(pong.seq).to.equal(2);
    const stats = await ref.ask(GetStats.create(), Stats);
    expect(stats.pings).to.equal(2);
  });

  it("actors: process one message at a time, async handlers included, in arrival order", async () => {
    const log: string[] = [];
    const probe = concurrencyProbe(log);
    const ref = system.spawn(probe.definition);
    for (let seq = 1; seq <= 6; seq++) ref.tell(Ping.create({ seq }));
    const stats = await ref.ask(GetStats.create(), Stats, { timeoutMs: 60_000 });
    expect(stats.pings).to.equal(6);
    expect(probe.maxRunning()).to.equal(1);
    expect(log).to.deep.equal([1, 2, 3, 4, 5, 6].flatMap((n) => [`start ${n}`, `end ${n}`]));
  });

  it("actors: a named actor is found by lookup; a duplicate or invalid name is refused", async () => {
    const ref = system.spawn(player, { name: "alice" });
    expect((await system.lookup("alice"))?.equals(ref)).to.equal(true);
    expect(() => system.spawn(player, { name: "alice" })).to.throw(/already runs on node n1/);
    expect(() => system.spawn(player, { name: "a/b" })).to.throw(TypeError, /Invalid actor name/);
  });

  it("actors: an ask nobody answers times out with the target and type in the error", async () => {
    const ref = system.spawn(player, { name: "quiet" });
    // A player handles Pong without replying.
    const pending = ref.ask(Pong.create({ seq: 1, node: "x" }), Stats, { timeoutMs: 250 });
    await settle();
    clock.advance(249);
    await settle();
    clock.advance(1);
    const error = await pending.then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(AskTimeoutError);
    expect((error as Error).message).to.match(/troupe\.examples\.pingpong\.Pong to troupe:\/\/local@n1\/user\/quiet got no reply within 250 ms/);
  });

  it("actors: an ask to a path with no actor fails at once, and the message becomes a dead letter", async () => {
    const ghost = system.refFor({ system: "local", node: "n1", path: "/user/ghost" });
    const error = await ghost.ask(Ping.create({ seq: 1 }), Pong).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(AskFailedError);
    expect((error as Error).message).to.match(/unknown-target.*no actor at \/user\/ghost/);
    expect(system.deadLetters.countOf("unknown-target")).to.equal(1);
  });

  it("actors: lifecycle hooks run in order, children stop before their parent, in reverse start order", async () => {
    const events: string[] = [];
    const leaf = defineActor({
      messages: { Ping },
      init: (name: string) => name,
      handlers: { Ping: () => undefined },
      started: (name) => void events.push(`started ${name}`),
      stopping: (name) => void events.push(`stopping ${name}`),
      stopped: (name) => void events.push(`stopped ${name}`),
    });
    const parent = defineActor({
      messages: { Ping },
      init: () => "parent",
      handlers: { Ping: () => undefined },
      started: (_s, ctx: ActorContext<Ping>) => {
        events.push("started parent");
        ctx.spawn(leaf, { name: "first", props: "first" });
        ctx.spawn(leaf, { name: "second", props: "second" });
      },
      stopping: () => void events.push("stopping parent"),
      stopped: () => void events.push("stopped parent"),
    });
    const ref = system.spawn(parent, { name: "parent" });
    await eventually("both children started", () => events.filter((e) => e.startsWith("started")).length === 3);
    expect(system.actors().map((a) => a.path)).to.deep.equal(["/user/parent", "/user/parent/first", "/user/parent/second"]);
    await system.stop(ref);
    expect(events.slice(3)).to.deep.equal([
      "stopping parent",
      "stopping second",
      "stopped second",
      "stopping first",
      "stopped first",
      "stopped parent",
    ]);
    expect(system.actors()).to.have.length(0);
  });

  it("actors: a failing handler restarts the actor with fresh state; queued messages survive, the failing one is dead-lettered", async () => {
    const events: string[] = [];
    const fragile = defineActor({
      messages: { Ping, GetStats },
      init: () => ({ seen: [] as number[] }),
      handlers: {
        Ping: (state, ping) => {
          if (ping.seq === 2) throw new Error("seq 2 is poison");
          return { seen: [...state.seen, ping.seq] };
        },
        GetStats: (state, _m, ctx) => ctx.reply(Stats.create({ pings: state.seen.length, node: state.seen.join(",") })),
      },
      restarting: (_state, _ctx, error) => void events.push(`restarting: ${(error as Error).message}`),
    });
    const ref = system.spawn(fragile);
    for (const seq of [1, 2, 3, 4]) ref.tell(Ping.create({ seq }));
    const stats = await ref.ask(GetStats.create(), Stats);
    expect(stats.node).to.equal("3,4");
    expect(events).to.deep.equal(["restarting: seq 2 is poison"]);
    const [letter] = system.deadLetters.recent();
    expect(letter!.reason).to.equal("handler-failed");
    expect((letter!.message as Ping).seq).to.equal(2);
    expect(system.actors()[0]!.restarts).to.equal(1);
  });

  const mailboxOf = (path: string): number | undefined => system.actors().find((a) => a.path === path)?.mailboxSize;

  it("actors: a full mailbox drops per its policy and dead-letters what it drops", async () => {
    const gate = { open: undefined as undefined | (() => void) };
    const blocked = defineActor({
      messages: { Ping, GetStats },
      init: () => ({ seqs: [] as number[] }),
      handlers: {
        Ping: async (state, ping) => {
          if (ping.seq === 0) await new Promise<void>((resolve) => (gate.open = resolve));
          return { seqs: [...state.seqs, ping.seq] };
        },
        GetStats: (state, _m, ctx) => ctx.reply(Stats.create({ node: state.seqs.join(",") })),
      },
    });
    const newest = system.spawn(blocked, { mailbox: { capacity: 2 } });
    newest.tell(Ping.create({ seq: 0 }));
    await eventually("the first Ping to block the actor", () => gate.open !== undefined);
    for (const seq of [1, 2, 3, 4]) newest.tell(Ping.create({ seq }));
    expect(system.deadLetters.countOf("mailbox-overflow")).to.equal(2);
    gate.open!();
    gate.open = undefined;
    await eventually("the mailbox to drain", () => mailboxOf(newest.address.path) === 0);
    expect((await newest.ask(GetStats.create(), Stats)).node).to.equal("0,1,2");

    const oldest = system.spawn(blocked, { mailbox: { capacity: 2, overflow: "drop-oldest" } });
    oldest.tell(Ping.create({ seq: 0 }));
    await eventually("the first Ping to block the actor", () => gate.open !== undefined);
    for (const seq of [1, 2, 3, 4]) oldest.tell(Ping.create({ seq }));
    gate.open!();
    await eventually("the mailbox to drain", () => mailboxOf(oldest.address.path) === 0);
    expect((await oldest.ask(GetStats.create(), Stats)).node).to.equal("0,3,4");
    expect(system.deadLetters.countOf("mailbox-overflow")).to.equal(4);
  });

  it("actors: messages to a stopped actor become dead letters, and an ask to it fails at once", async () => {
    const ref = system.spawn(player, { name: "brief" });
    await system.stop(ref);
    ref.tell(Ping.create({ seq: 1 }));
    expect(system.deadLetters.recent().map((d) => d.reason)).to.include("unknown-target");
    const ghostAsk = await ref.ask(Ping.create({ seq: 2 }), Pong).then(() => undefined, (e: unknown) => e);
    expect(ghostAsk).to.be.instanceOf(AskFailedError);
  });

  it("actors: timers deliver to self on the injected clock and stop with the actor", async () => {
    const ticker = defineActor({
      messages: { Ping, GetStats },
      init: () => 0,
      handlers: {
        Ping: (count) => count + 1,
        GetStats: (count, _m, ctx) => ctx.reply(Stats.create({ pings: count })),
      },
      started: (_s, ctx) => void ctx.scheduleRepeatedly(100, Ping.create({ seq: 0 })),
    });
    const timersBefore = clock.pending; // the node's own (membership heartbeats)
    const ref = system.spawn(ticker);
    await settle();
    clock.advance(350);
    expect((await ref.ask(GetStats.create(), Stats)).pings).to.equal(3);
    await system.stop(ref);
    expect(clock.pending).to.equal(timersBefore);
  });

  it("scheduling: two actors that keep each other busy forever do not starve the event loop, nor a third actor", async () => {
    // Each Ping is answered with a Ping back: a chain that never ends by itself.
    const rally = defineActor({
      messages: { Ping, GetStats },
      init: () => 0,
      handlers: {
        Ping: (count, ping, ctx) => {
          if (ping.seq >= 0) ctx.reply(Ping.create({ seq: ping.seq + 1 }));
          return count + 1;
        },
        GetStats: (count, _m, ctx) => ctx.reply(Stats.create({ pings: count })),
      },
    });
    const left = system.spawn(rally, { name: "left" });
    const right = system.spawn(rally, { name: "right" });
    right.tell(Ping.create({ seq: 0 }), left);
    // A macrotask (what socket reads and timers are) still gets its turn, and so does another actor's ask.
    await new Promise((resolve) => setImmediate(resolve));
    const third = system.spawn(player, { name: "third" });
    expect((await third.ask(Ping.create({ seq: 7 }), Pong)).seq).to.equal(7);
    const exchanged = (await left.ask(GetStats.create(), Stats)).pings + (await right.ask(GetStats.create(), Stats)).pings;
    expect(exchanged).to.be.greaterThan(1_000);
    // Stopping one side ends the rally: its replies go nowhere.
    await system.stop(left);
    await system.stop(right);
  });

  it("paths: an actor deep in the tree is found by its address, listed with its ancestors, and gone once stopped", async () => {
    const chain: ActorDefinition<number, Ping, number> = defineActor({
      messages: { Ping },
      init: (depth: number) => depth,
      started: (depth, ctx) => void (depth > 0 && ctx.spawn(chain, { name: `level${depth - 1}`, props: depth - 1 })),
      handlers: { Ping: (depth, ping, ctx) => ctx.reply(Pong.create({ seq: ping.seq, node: String(depth) })) },
    });
    const top = system.spawn(chain, { name: "top", props: 3 });
    await eventually("the chain to start", () => system.actors().length === 4);
    expect(system.actors().map((a) => a.path)).to.deep.equal(["/user/top", "/user/top/level2", "/user/top/level2/level1", "/user/top/level2/level1/level0"]);
    const at = (path: string) => system.refFor({ ...top.address, path });
    const deepest = at("/user/top/level2/level1/level0");
    expect((await deepest.ask(Ping.create({ seq: 5 }), Pong)).node).to.equal("0");
    await system.stop(at("/user/top/level2/level1"));
    expect(system.actors().map((a) => a.path)).to.deep.equal(["/user/top", "/user/top/level2"]);
    const gone = await deepest.ask(Ping.create({ seq: 6 }), Pong).then(() => undefined, (e: unknown) => e);
    expect(gone).to.be.instanceOf(AskFailedError);
    expect(system.deadLetters.recent().at(-1)?.reason).to.equal("unknown-target");
  });
});
