import { expect } from "chai";
import {
  ActorSystem,
  addressFromWire,
  MemoryNetwork,
  RestartIntensityError,
  Terminated,
  defineActor,
  type ActorRef,
  type SupervisorSpec,
  type SystemEvent,
  type ChildRestart,
} from "../../runtime/index.js";
import { ManualClock } from "../../runtime/testkit/index.js";
import { GetStats, Ping, Stats } from "../../examples/ping-pong/messages.js";
import { eventually, settle } from "../helpers/conditions.js";

/** Ping with this seq makes a worker throw; seq 0 makes it stop itself. */
const POISON = -1;
const STOP_ITSELF = 0;

/** A child that logs its lifecycle into `log` as "<event> <name>" and counts the Pings it handled. */
function worker(log: string[]) {
  return defineActor({
    kind: "test-worker",
    messages: { Ping, GetStats },
    init: (props: { name: string; failInit?: () => boolean }) => {
      if (props.failInit?.()) throw new Error(`init ${props.name} failed`);
      log.push(`init ${props.name}`);
      return { name: props.name, handled: 0 };
    },
    handlers: {
      Ping: (state, ping, ctx) => {
        if (ping.seq === POISON) throw new Error(`${state.name} swallowed poison`);
        if (ping.seq === STOP_ITSELF) return void ctx.stop();
        return { ...state, handled: state.handled + 1 };
      },
      GetStats: (state, _m, ctx) => ctx.reply(Stats.create({ pings: state.handled, node: state.name })),
    },
    restarting: (state) => void log.push(`down ${state.name}`),
    stopped: (state) => void log.push(`stopped ${state.name}`),
  });
}

/** A supervisor that starts children a, b, c (in that order) under `spec`. */
function supervisor(log: string[], spec: SupervisorSpec, restart: ChildRestart = "transient", failInit?: (name: string) => boolean) {
  const child = worker(log);
  return defineActor({
    messages: { GetStats },
    init: () => ({}),
    started: (state, ctx) => {
      for (const name of ["a", "b", "c"]) ctx.spawn(child, { name, restart, props: { name, failInit: failInit && (() => failInit(name)) } });
      return state;
    },
    handlers: { GetStats: (_s, _m, ctx) => ctx.reply(Stats.create({ pings: ctx.children().length })) },
  });
}

describe("supervision (system tier, in-memory transport, manual clock)", () => {
  let system: ActorSystem;
  let clock: ManualClock;
  let events: SystemEvent[];
  let log: string[];

  async function start(guardian?: SupervisorSpec): Promise<void> {
    log.length = 0;
    clock = new ManualClock();
    system = await ActorSystem.start({ name: "sup", nodeId: "n1", transport: new MemoryNetwork().connect(), clock, guardian });
    events = [];
    system.onEvent((event) => events.push(event));
  }

  beforeEach(async () => {
    log = [];
    await start();
  });
  afterEach(() => system.shutdown());

  const child = (name: string): ActorRef<Ping | GetStats> => system.refFor(`troupe://sup@n1/user/sup/${name}`);
  const restartsOf = (path: string): number | undefined => system.actors().find((a) => a.path === path)?.restarts;
  const decisions = (): string[] => events.flatMap((e) => (e.type === "supervision" ? [`${e.directive} ${e.path}`] : []));

  async function spawnTree(spec: SupervisorSpec, restart?: ChildRestart): Promise<ActorRef<GetStats>> {
    const ref = system.spawn(supervisor(log, spec, restart), { name: "sup", supervisor: spec });
    await eventually("three children started", () => log.length === 3);
    log.length = 0;
    return ref;
  }

  it("one-for-one: only the failed child restarts; its siblings keep their state", async () => {
    await spawnTree({ strategy: "one-for-one" });
    child("a").tell(Ping.create({ seq: 1 }));
    child("b").tell(Ping.create({ seq: POISON }));
    await eventually("b restarted", () => log.includes("init b"));
    expect(log).to.deep.equal(["down b", "init b"]);
    expect((await child("a").ask(GetStats.create(), Stats)).pings).to.equal(1);
    expect([restartsOf("/user/sup/a"), restartsOf("/user/sup/b"), restartsOf("/user/sup/c")]).to.deep.equal([0, 1, 0]);
    expect(decisions()).to.deep.equal(["restart /user/sup/b"]);
  });

  it("one-for-all: every child goes down in reverse start order, then all start again in start order", async () => {
    await spawnTree({ strategy: "one-for-all" });
    child("a").tell(Ping.create({ seq: 1 }));
    child("b").tell(Ping.create({ seq: POISON }));
    await eventually("all restarted", () => log.length === 6);
    expect(log).to.deep.equal(["down c", "down b", "down a", "init a", "init b", "init c"]);
    expect((await child("a").ask(GetStats.create(), Stats)).pings).to.equal(0, "a lost its state with the restart");
  });

  it("rest-for-one: the failed child and those started after it restart; earlier ones are untouched", async () => {
    await spawnTree({ strategy: "rest-for-one" });
    child("b").tell(Ping.create({ seq: POISON }));
    await eventually("b and c restarted", () => log.length === 4);
    expect(log).to.deep.equal(["down c", "down b", "init b", "init c"]);
    expect([restartsOf("/user/sup/a"), restartsOf("/user/sup/b"), restartsOf("/user/sup/c")]).to.deep.equal([0, 1, 1]);
  });

  it("failure: messages queued behind the failing one survive the restart; the failing one is a dead letter", async () => {
    await spawnTree({});
    const b = child("b");
    for (const seq of [1, POISON, 2, 3]) b.tell(Ping.create({ seq }));
    const stats = await b.ask(GetStats.create(), Stats);
    expect(stats.pings).to.equal(2, "2 and 3 handled by the new instance");
    const letters = system.deadLetters.recent().filter((d) => d.reason === "handler-failed");
    expect(letters.map((d) => (d.message as Ping).seq)).to.deep.equal([POISON]);
  });

  it("decider: resume keeps the state and drops the failing message; stop stops the child and its watchers learn it failed", async () => {
    const decider = (error: unknown): "resume" | "stop" => ((error as Error).message.startsWith("a ") ? "resume" : "stop");
    await spawnTree({ decider });
    child("a").tell(Ping.create({ seq: 1 }));
    child("a").tell(Ping.create({ seq: POISON }));
    child("a").tell(Ping.create({ seq: 2 }));
    expect((await child("a").ask(GetStats.create(), Stats)).pings).to.equal(2);

    const seen: Terminated[] = [];
    const watcher = defineActor({
      messages: { Terminated, Ping },
      init: () => ({}),
      handlers: {
        Ping: (_s, _m, ctx) => ctx.watch(child("b")),
        Terminated: (_s, t) => void seen.push(t),
      },
    });
    system.spawn(watcher).tell(Ping.create({ seq: 1 }));
    await settle();
    child("b").tell(Ping.create({ seq: POISON }));
    await eventually("Terminated for b", () => seen.length === 1);
    expect(seen[0]!.reason).to.equal("failed");
    expect(seen[0]!.detail).to.equal("b swallowed poison");
    expect(seen[0]!.actor!.path).to.equal("/user/sup/b");
    expect(log).to.include("stopped b");
    expect(system.actors().map((a) => a.path)).to.not.include("/user/sup/b");
  });

  it("intensity: more than maxRestarts within withinMs escalates; the supervisor's own supervisor restarts it with fresh children", async () => {
    await spawnTree({ maxRestarts: 2, withinMs: 1_000 });
    for (let i = 1; i <= 2; i++) {
      child("b").tell(Ping.create({ seq: POISON }));
      await eventually(`restart ${i} of b`, () => restartsOf("/user/sup/b") === i);
      clock.advance(100);
    }
    child("b").tell(Ping.create({ seq: POISON }));
    await eventually("sup restarted by the guardian", () => restartsOf("/user/sup") === 1 && log.filter((l) => l.startsWith("init")).length === 5);
    const escalation = events.find((e) => e.type === "supervision" && e.directive === "escalate");
    expect(escalation && escalation.type === "supervision" && escalation.error).to.be.instanceOf(RestartIntensityError);
    expect(decisions()).to.deep.equal(["restart /user/sup/b", "restart /user/sup/b", "escalate /user/sup/b", "restart /user/sup"]);
    // The supervisor restarted: all three children went down and came back fresh, in start order.
    expect(log.slice(-6)).to.deep.equal(["stopped c", "stopped b", "stopped a", "init a", "init b", "init c"]);
  });

  it("intensity: restarts spread wider than withinMs never escalate", async () => {
    await spawnTree({ maxRestarts: 2, withinMs: 1_000 });
    for (let i = 1; i <= 5; i++) {
      child("b").tell(Ping.create({ seq: POISON }));
      await eventually(`restart ${i} of b`, () => restartsOf("/user/sup/b") === i);
      clock.advance(600);
    }
    expect(decisions().every((d) => d === "restart /user/sup/b")).to.equal(true);
  });

  it("escalation to the root: the guardian reports and stops the subtree; the node keeps running", async () => {
    await system.shutdown();
    await start({ decider: () => "escalate" });
    await spawnTree({ decider: () => "escalate" });
    child("a").tell(Ping.create({ seq: POISON }));
    await eventually("subtree stopped", () => system.actors().length === 0);
    const failed = events.filter((e) => e.type === "actor-failed");
    expect(failed).to.have.length(1);
    expect(failed[0]!.type === "actor-failed" && failed[0]!.path).to.equal("/user/sup");
    expect(log).to.deep.equal(["stopped c", "stopped b", "stopped a"]);
    const again = system.spawn(worker(log), { name: "after", props: { name: "after" } });
    again.tell(Ping.create({ seq: 1 }));
    expect((await again.ask(GetStats.create(), Stats)).pings).to.equal(1);
  });

  it("backoff: restarts wait minBackoffMs, doubling per consecutive failure up to maxBackoffMs, and reset after a stable period", async () => {
    await spawnTree({ minBackoffMs: 100, maxBackoffMs: 300, jitter: 0, resetBackoffAfterMs: 5_000, maxRestarts: 100 });
    const delays = (): number[] => events.flatMap((e) => (e.type === "supervision" ? [e.delayMs] : []));
    const failAndRestart = async (expectedDelay: number): Promise<void> => {
      const before = restartsOf("/user/sup/b")!;
      child("b").tell(Ping.create({ seq: POISON }));
      await eventually("decision", () => delays().length === before + 1);
      expect(delays().at(-1)).to.equal(expectedDelay);
      clock.advance(expectedDelay - 1);
      await settle();
      expect(restartsOf("/user/sup/b")).to.equal(before, `not restarted before ${expectedDelay} ms`);
      clock.advance(1);
      await eventually("restarted", () => restartsOf("/user/sup/b") === before + 1);
    };
    await failAndRestart(100);
    await failAndRestart(200);
    await failAndRestart(300);
    await failAndRestart(300);
    clock.advance(5_000);
    await failAndRestart(100);
  });

  it("backoff: messages that arrive while a child waits for its restart are kept for the new instance", async () => {
    await spawnTree({ minBackoffMs: 1_000, jitter: 0 });
    child("b").tell(Ping.create({ seq: POISON }));
    child("b").tell(Ping.create({ seq: 1 }));
    await settle();
    const reply = child("b").ask(GetStats.create(), Stats, { timeoutMs: 60_000 });
    clock.advance(1_000);
    expect((await reply).pings).to.equal(1);
  });

  it("stop during a restart: a child waiting out its backoff stops at once and is never restarted", async () => {
    const sup = await spawnTree({ minBackoffMs: 1_000, jitter: 0 });
    child("b").tell(Ping.create({ seq: POISON }));
    child("b").tell(Ping.create({ seq: 7 }));
    await eventually("decision", () => decisions().length === 1);
    await system.stop(child("b"));
    expect(log).to.deep.equal(["stopped b"]);
    clock.advance(10_000);
    await settle();
    expect(system.actors().map((a) => a.path)).to.deep.equal(["/user/sup", "/user/sup/a", "/user/sup/c"]);
    expect(restartsOf("/user/sup/b")).to.equal(undefined);
    expect(system.deadLetters.recent().some((d) => d.reason === "stopped-target" && (d.message as Ping).seq === 7)).to.equal(true);
    expect((await sup.ask(GetStats.create(), Stats)).pings).to.equal(2);
  });

  it("stop during a restart: stopping the supervisor while a restart is pending stops everything", async () => {
    const sup = await spawnTree({ minBackoffMs: 1_000, jitter: 0 });
    child("c").tell(Ping.create({ seq: POISON }));
    await eventually("decision", () => decisions().length === 1);
    await system.stop(sup);
    expect(system.actors()).to.deep.equal([]);
    clock.advance(10_000);
    await settle();
    expect(system.actors()).to.deep.equal([]);
  });

  it("restart types: temporary is never restarted, transient ends when it stops itself, permanent comes back", async () => {
    await spawnTree({}, "temporary");
    child("a").tell(Ping.create({ seq: POISON }));
    await eventually("a gone", () => restartsOf("/user/sup/a") === undefined);
    expect(decisions()).to.deep.equal(["stop /user/sup/a"]);
    await system.shutdown();

    await start();
    await spawnTree({}, "transient");
    child("a").tell(Ping.create({ seq: STOP_ITSELF }));
    await eventually("a gone", () => restartsOf("/user/sup/a") === undefined);
    expect(decisions()).to.deep.equal([]);
    await system.shutdown();

    await start();
    await spawnTree({}, "permanent");
    child("a").tell(Ping.create({ seq: STOP_ITSELF }));
    await eventually("a back", () => log.includes("init a"));
    expect(log).to.deep.equal(["stopped a", "init a"]);
    expect(system.actors().map((a) => a.path)).to.deep.equal(["/user/sup", "/user/sup/a", "/user/sup/b", "/user/sup/c"]);
  });

  it("a child whose start fails is restarted, and escalates once the intensity is exceeded", async () => {
    let failures = 0;
    const failInit = (name: string): boolean => name === "b" && ++failures <= 2;
    system.spawn(supervisor(log, {}, "transient", failInit), { name: "sup", supervisor: { maxRestarts: 5 } });
    await eventually("b started on the third try", () => log.includes("init b") && log.includes("init c"));
    expect(decisions()).to.deep.equal(["restart /user/sup/b", "restart /user/sup/b"]);

    log.length = 0;
    events.length = 0;
    system.spawn(supervisor(log, {}, "transient", (name) => name === "a"), { name: "doomed", supervisor: { maxRestarts: 1 } });
    await eventually("escalated", () => decisions().includes("escalate /user/doomed/a"));
  });

  it("shutdown: a child that does not stop within shutdownMs is abandoned and reported; the rest still stop", async () => {
    const stuck = defineActor({
      messages: { Ping },
      init: () => ({}),
      handlers: { Ping: () => undefined },
      stopping: () => new Promise<void>(() => undefined),
    });
    const parent = defineActor({
      messages: { Ping },
      init: () => ({}),
      started: (state, ctx) => {
        ctx.spawn(worker(log), { name: "first", props: { name: "first" } });
        ctx.spawn(stuck, { name: "stuck" });
        return state;
      },
      handlers: { Ping: () => undefined },
    });
    const ref = system.spawn(parent, { name: "parent", supervisor: { shutdownMs: 250 } });
    await eventually("children started", () => system.actors().length === 3);
    const stopped = system.stop(ref);
    await settle();
    clock.advance(250);
    await stopped;
    expect(system.actors()).to.deep.equal([]);
    expect(log).to.deep.equal(["init first", "stopped first"]);
    expect(events.some((e) => e.type === "actor-failed" && e.path === "/user/parent/stuck" && e.directive === "shutdown-timeout")).to.equal(true);
  });
});

describe("death watch (system tier, in-memory transport)", () => {
  let network: MemoryNetwork;
  let n1: ActorSystem;
  let n2: ActorSystem;

  beforeEach(async () => {
    network = new MemoryNetwork();
    n1 = await ActorSystem.start({ name: "watch", nodeId: "n1", transport: network.connect() });
    n2 = await ActorSystem.start({ name: "watch", nodeId: "n2", transport: network.connect() });
  });
  afterEach(async () => {
    await n1.shutdown();
    await n2.shutdown();
  });

  /** Watches whatever address a Ping's reply_to names; Pings with seq 0 unwatch it instead. */
  function watcher(seen: Terminated[]) {
    return defineActor({
      messages: { Ping, Terminated },
      init: () => ({}),
      handlers: {
        Ping: (_s, ping, ctx) => {
          const target = ctx.refFor(addressFromWire(ping.replyTo)!);
          if (ping.seq === 0) ctx.unwatch(target);
          else ctx.watch(target);
        },
        Terminated: (_s, t) => void seen.push(t),
      },
    });
  }
  const idle = defineActor({ messages: { Ping }, init: () => ({}), handlers: { Ping: () => undefined } });

  it("local: a watcher receives Terminated once, with reason stopped, when the actor stops", async () => {
    const seen: Terminated[] = [];
    const target = n1.spawn(idle, { name: "target" });
    const w = n1.spawn(watcher(seen));
    w.tell(Ping.create({ seq: 1, replyTo: target.address }));
    w.tell(Ping.create({ seq: 2, replyTo: target.address }));
    await settle();
    await n1.stop(target);
    await eventually("Terminated", () => seen.length === 1);
    expect(seen[0]!.reason).to.equal("stopped");
    await settle();
    expect(seen).to.have.length(1);
  });

  it("local: watching an actor that does not exist gives Terminated not-found at once; unwatch means no Terminated", async () => {
    const seen: Terminated[] = [];
    const w = n1.spawn(watcher(seen));
    w.tell(Ping.create({ seq: 1, replyTo: { system: "watch", node: "n1", path: "/user/nobody" } }));
    await eventually("Terminated", () => seen.length === 1);
    expect(seen[0]!.reason).to.equal("not-found");

    const target = n1.spawn(idle, { name: "target" });
    w.tell(Ping.create({ seq: 1, replyTo: target.address }));
    w.tell(Ping.create({ seq: 0, replyTo: target.address }));
    await settle();
    await n1.stop(target);
    await settle();
    expect(seen).to.have.length(1);
  });

  it("remote: a watcher on another node receives Terminated when the actor stops, and not-found for a missing one", async () => {
    const seen: Terminated[] = [];
    const target = n2.spawn(idle, { name: "target" });
    const w = n1.spawn(watcher(seen));
    w.tell(Ping.create({ seq: 1, replyTo: target.address }));
    w.tell(Ping.create({ seq: 1, replyTo: { system: "watch", node: "n2", path: "/user/nobody" } }));
    await eventually("not-found", () => seen.length === 1);
    expect(seen[0]!.reason).to.equal("not-found");
    expect(seen[0]!.actor!.path).to.equal("/user/nobody");
    await n2.stop(target);
    await eventually("Terminated", () => seen.length === 2);
    expect(seen[1]!.reason).to.equal("stopped");
    expect(seen[1]!.actor!.node).to.equal("n2");
  });

  it("remote: after unwatch, no Terminated arrives", async () => {
    const seen: Terminated[] = [];
    const target = n2.spawn(idle, { name: "target" });
    n2.spawn(idle, { name: "probe" });
    const w = n1.spawn(watcher(seen));
    w.tell(Ping.create({ seq: 1, replyTo: target.address }));
    w.tell(Ping.create({ seq: 0, replyTo: target.address }));
    // Watch and Unwatch travel to n2 in order; a lookup round trip after each step lets n2, then n1, catch up.
    expect(await n1.lookup("probe")).to.not.equal(undefined);
    await n2.stop(target);
    expect(await n1.lookup("probe")).to.not.equal(undefined);
    await settle();
    expect(seen).to.deep.equal([]);
  });
});
