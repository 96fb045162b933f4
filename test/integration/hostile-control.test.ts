import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { connect } from "@nats-io/transport-node";
import { expect } from "chai";
import { ActorSystem, connectNats, defineActor, type ControlLimits, type EmbeddedNats, type MessagesOf } from "../../runtime/index.js";
import { GetStats, Ping, Stats } from "../../examples/ping-pong/messages.js";
import { troupe } from "../../proto/gen/troupe.js";
import { counter } from "../fixtures/counter.js";
import { eventually } from "../helpers/conditions.js";
import { keepsAnsweringDuring, legitimateAsk, type HostileScene } from "../helpers/hostile-bus.js";
import { natsServerFor } from "../helpers/nats.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const heapUsed = (): number => {
  gc();
  return process.memoryUsage().heapUsed;
};
const MEMORY_BOUND_BYTES = 64 * 1024 * 1024;

const { Frame } = troupe.wire;
const { Supervise, SpawnRequest, ChildFailed, Watch, Failure } = troupe.system;
const Directive = troupe.system.Supervise.Directive;

/** A parent on the caller node with one counter child placed on the victim node. */
const parent = defineActor({
  kind: "parent",
  messages: { GetStats },
  init: () => ({}),
  started: (state, ctx) => {
    ctx.spawn(counter, { name: "child", placement: { node: "victim" }, props: Stats.create({ node: "child" }) });
    return state;
  },
  handlers: {
    GetStats: (_s, _m, ctx) => ctx.reply(Stats.create({ node: ctx.children().map((c) => `${c.address.node}${c.address.path}`).join(",") })),
  },
});

type Envelope = troupe.wire.IEnvelope;
const envelope = (target: string, type: string, payload: Uint8Array, sender?: troupe.IActorAddress): Envelope => ({ target, type, payload, sender });
const supervise = (target: string, directive: troupe.system.Supervise.Directive, sender?: troupe.IActorAddress): Envelope =>
  envelope(target, "troupe.system.Supervise", Supervise.encode({ directive, reason: "attack" }).finish(), sender);

/**
 * The scene of the control-plane attacks: the victim hosts a counter of its own and a child for the
 * caller's parent; the attacker is a raw connection that may publish anywhere in the system (the node
 * role's rights, or a client where permissions are too wide). The attacks are the findings.
 */
describe("hostile client: a control plane that checks (integration: nats-server)", function () {
  this.timeout(60_000);
  let nats: EmbeddedNats;
  let scene: (HostileScene & { readonly childPath: string }) | undefined;

  before(async function () {
    nats = await natsServerFor(this);
  });
  afterEach(async () => {
    await scene?.close();
    scene = undefined;
  });
  after(() => nats?.stop());

  async function start(limits: ControlLimits = {}): Promise<HostileScene & { readonly childPath: string }> {
    const system = `hostile-c-${Math.random().toString(36).slice(2, 8)}`;
    const options = { name: system, types: [Ping, GetStats, Stats], kinds: [counter] };
    const victim = await ActorSystem.start({ ...options, ...limits, nodeId: "victim", transport: await connectNats({ servers: nats.url }) });
    const caller = await ActorSystem.start({ ...options, nodeId: "caller", transport: await connectNats({ servers: nats.url }) });
    await eventually("the two nodes see each other", () => victim.nodes().length === 2 && caller.nodes().length === 2, 5_000);
    const local = victim.spawn(counter, { name: "counter" });
    const home = caller.spawn(parent, { name: "parent" });
    const childPath = "/remote/caller/user/parent/child";
    await eventually("the child runs on the victim", () => victim.actors().some((a) => a.path === childPath), 5_000);
    expect((await home.ask(GetStats.create(), Stats)).node).to.equal(`victim${childPath}`);
    const attacker = await connect({ servers: nats.url, name: "attacker" });
    return {
      system,
      victim,
      caller,
      target: caller.refFor<MessagesOf<typeof counter>>(local.address),
      attacker,
      childPath,
      async close() {
        await attacker.close();
        await caller.shutdown();
        await victim.shutdown();
      },
    };
  }

  const publish = (s: HostileScene, plane: "node" | "control", node: string, envelopes: Envelope[]): void => s.attacker.publish(`troupe.${s.system}.${plane}.${node}`, Frame.encode({ envelopes }).finish());
  /** Waits until the victim has refused all but `allowed` of the `sent` control messages. */
  const inFlightBelow = async (s: HostileScene, sent: number, allowed: number): Promise<void> => {
    await s.attacker.flush();
    await eventually("the victim keeps up", () => s.victim.deadLetters.countOf("refused-control") >= sent - allowed, 10_000);
  };
  const restartsOf = (system: ActorSystem, path: string): number | undefined => system.actors().find((a) => a.path === path)?.restarts;

  it("Supervise STOP and PREPARE_RESTART on the data plane are refused (wrong-plane); the actor and the hosted child keep running", async () => {
    const s = (scene = await start());
    const callerTemp = { system: s.system, node: "caller", path: "/temp/0123456789abcdef0123456789abcdef" };
    await keepsAnsweringDuring(s, async () => {
      for (let i = 0; i < 100; i++) {
        publish(s, "node", "victim", [supervise("/user/counter", Directive.STOP, callerTemp), supervise("/user/counter", Directive.PREPARE_RESTART, callerTemp), supervise(s.childPath, Directive.STOP, callerTemp)]);
      }
    });
    await eventually("every forged directive refused", () => s.victim.deadLetters.countOf("wrong-plane") === 300);
    expect(s.victim.actors().map((a) => a.path)).to.include.members(["/user/counter", s.childPath]);
    expect(restartsOf(s.victim, "/user/counter")).to.equal(0);
    expect((await legitimateAsk(s)).pings).to.equal(0);
  });

  it("Supervise on the control plane for an actor the node does not host for another node, or from a node other than the parent's, is refused and changes nothing", async () => {
    const s = (scene = await start());
    const asCaller = { system: s.system, node: "caller", path: "/temp/0123456789abcdef0123456789abcdef" };
    const asGhost = { system: s.system, node: "ghost", path: "/temp/0123456789abcdef0123456789abcdef" };
    await keepsAnsweringDuring(s, async () => {
      for (let i = 0; i < 100; i++) {
        publish(s, "control", "victim", [
          // An ordinary actor takes no directive from the wire, whoever claims to send it.
          supervise("/user/counter", Directive.STOP, asCaller),
          supervise("/user/counter", Directive.PREPARE_RESTART, asCaller),
          // The hosted child takes directives only from its parent's node.
          supervise(s.childPath, Directive.STOP, asGhost),
          supervise(s.childPath, Directive.PREPARE_RESTART, { ...asCaller, node: "victim" }),
          supervise(s.childPath, Directive.STOP),
        ]);
      }
    });
    await eventually("every forged directive refused", () => s.victim.deadLetters.countOf("refused-control") === 500);
    expect(s.victim.actors().map((a) => a.path)).to.include.members(["/user/counter", s.childPath]);
    expect(restartsOf(s.victim, s.childPath)).to.equal(0);
    // Not wedged: the child still processes messages, and the counter answers.
    const child = s.caller.refFor<MessagesOf<typeof counter>>({ system: s.system, node: "victim", path: s.childPath });
    child.tell(Ping.create({ seq: 1 }));
    expect((await child.ask(GetStats.create(), Stats)).pings).to.equal(1);
    await legitimateAsk(s);
  });

  it("spawn flood: 50,000 SpawnRequests from a node that never existed start nothing, waits for it stay bounded, memory stays bounded, and the node keeps answering", async () => {
    const s = (scene = await start({ maxControlAwaitingMembership: 500 }));
    const ghost = { system: s.system, node: "ghost", path: "/temp/0123456789abcdef0123456789abcdef" };
    const before = heapUsed();
    const actorsBefore = s.victim.actors().length;
    const frames = 500;
    const perFrame = 100;
    await keepsAnsweringDuring(s, async () => {
      for (let f = 0; f < frames; f++) {
        const envelopes = Array.from({ length: perFrame }, (_, i) => {
          const name = `evil-${f}-${i}`;
          const request = SpawnRequest.encode({ kind: "counter", parent: { system: s.system, node: "ghost", path: "/user/p" }, restart: "permanent" }).finish();
          return envelope(`/remote/ghost/user/p/${name}`, "troupe.system.SpawnRequest", request, ghost);
        });
        publish(s, "control", "victim", envelopes);
        // As fast as the victim refuses them, with at most 5,000 in flight: a flood faster than any
        // node can read would only measure the machine (NATS cuts such a slow consumer off).
        if (f % 50 === 49) await inFlightBelow(s, (f + 1) * perFrame, 5_000);
      }
    });
    const held = heapUsed() - before;
    // 500 wait for the ghost's heartbeat, the rest are refused at once; the waiting ones after failureTimeoutMs.
    await eventually("every request refused", () => s.victim.deadLetters.countOf("refused-control") === frames * perFrame, 10_000);
    expect(s.victim.deadLetters.limitHits().maxControlAwaitingMembership).to.equal(frames * perFrame - 500);
    expect(s.victim.actors().length, "no actor started").to.equal(actorsBefore);
    expect(held, `heap held during the flood: ${(held / 1e6).toFixed(1)} MB`).to.be.below(MEMORY_BOUND_BYTES);
    await legitimateAsk(s);
  });

  it("spawn requests with a path that climbs out of /remote, for another system, or for a parent on another node than the sender's are refused", async () => {
    const s = (scene = await start());
    const asCaller = { system: s.system, node: "caller", path: "/temp/0123456789abcdef0123456789abcdef" };
    const request = (parentAddress: troupe.IActorAddress): Uint8Array => SpawnRequest.encode({ kind: "counter", parent: parentAddress, restart: "permanent" }).finish();
    const ask = async (target: string, body: Uint8Array, sender?: troupe.IActorAddress): Promise<troupe.system.Failure> => {
      const frame = Frame.encode({ envelopes: [envelope(target, "troupe.system.SpawnRequest", body, sender)] }).finish();
      const answer = await s.attacker.request(`troupe.${s.system}.control.victim`, frame, { timeout: 2_000 });
      const [first] = Frame.decode(answer.data).envelopes;
      expect(first?.type).to.equal("troupe.system.Failure");
      return Failure.decode(first!.payload!);
    };
    const parentAddress = { system: s.system, node: "caller", path: "/user/p" };
    // With no node behind it, refused before anything else: control messages come from nodes.
    expect((await ask("/remote/caller/user/p/x", request(parentAddress))).reason).to.equal("refused");
    // In a live member's name, the answer goes to the claimed asker: the caller, which has no such ask.
    const failuresToCaller = (): string[] =>
      s.caller.deadLetters.recent().filter((l) => l.reason === "forged-reply" && l.message instanceof Failure).map((l) => (l.message as troupe.system.Failure).reason);
    for (const path of ["/remote/../../user/evil", "/remote/caller/user/p/../../../user/evil", "/user/evil"]) {
      publish(s, "control", "victim", [envelope(path, "troupe.system.SpawnRequest", request(parentAddress), asCaller)]);
    }
    await eventually("three bad requests answered", () => failuresToCaller().length === 3);
    expect(failuresToCaller()).to.deep.equal(["bad-request", "bad-request", "bad-request"]);
    const before = s.victim.deadLetters.countOf("refused-control");
    // Answers to these go to the claimed sender (a /temp path on caller, where no ask has them).
    publish(s, "control", "victim", [
      envelope("/remote/caller/user/p/x", "troupe.system.SpawnRequest", request({ ...parentAddress, system: "other" }), { ...asCaller, system: "other" }),
      envelope("/remote/caller/user/p/y", "troupe.system.SpawnRequest", request(parentAddress), { ...asCaller, node: "victim" }),
    ]);
    await eventually("both refused", () => s.victim.deadLetters.countOf("refused-control") === before + 2);
    expect(s.victim.actors().map((a) => a.path).filter((p) => p.includes("evil") || p.startsWith("/remote/caller/user/p/"))).to.deep.equal([]);
    await legitimateAsk(s);
  });

  it("a live member's spawn requests are capped at maxHostedChildrenPerNode, counted, and the node keeps answering", async () => {
    const s = (scene = await start({ maxHostedChildrenPerNode: 20 }));
    // The caller's parent already has one child there; 30 more claimed in its name.
    const asCaller = { system: s.system, node: "caller", path: "/temp/0123456789abcdef0123456789abcdef" };
    const request = SpawnRequest.encode({ kind: "counter", parent: { system: s.system, node: "caller", path: "/user/parent" }, restart: "temporary" }).finish();
    await keepsAnsweringDuring(s, async () => {
      publish(s, "control", "victim", Array.from({ length: 30 }, (_, i) => envelope(`/remote/caller/user/parent/extra-${i}`, "troupe.system.SpawnRequest", request, asCaller)));
    });
    await eventually("the requests past the cap refused", () => s.victim.deadLetters.limitHits().maxHostedChildrenPerNode === 11);
    expect(s.victim.actors().filter((a) => a.path.startsWith("/remote/caller/")).length).to.equal(20);
    expect(s.victim.deadLetters.countOf("refused-control")).to.equal(11);
  });

  it("child reports: 30 forged ChildFailed from anywhere but the child's address neither restart the child nor kill its parent", async () => {
    const s = (scene = await start());
    const report = ChildFailed.encode({ error: "forged", messageType: "" }).finish();
    const from = (node: string): troupe.IActorAddress => ({ system: s.system, node, path: s.childPath });
    await keepsAnsweringDuring(s, async () => {
      for (let i = 0; i < 30; i++) {
        publish(s, "control", "caller", [envelope("/user/parent", "troupe.system.ChildFailed", report, from(i % 2 === 0 ? "ghost" : "caller"))]);
        publish(s, "node", "caller", [envelope("/user/parent", "troupe.system.ChildFailed", report, from("victim"))]);
      }
    });
    await eventually("every forged report refused", () => s.caller.deadLetters.countOf("refused-control") === 30 && s.caller.deadLetters.countOf("wrong-plane") === 30);
    expect(restartsOf(s.caller, "/user/parent"), "the parent was never restarted").to.equal(0);
    expect(restartsOf(s.victim, s.childPath), "the child was never restarted").to.equal(0);
    const home = s.caller.refFor<MessagesOf<typeof parent>>({ system: s.system, node: "caller", path: "/user/parent" });
    expect((await home.ask(GetStats.create(), Stats)).node).to.equal(`victim${s.childPath}`);
  });

  it("watches: 100,000 Watch messages from made-up nodes are refused and hold nothing; a live member's watches are capped at maxWatchesPerNode", async () => {
    const s = (scene = await start({ maxWatchesPerNode: 100, maxControlAwaitingMembership: 100 }));
    const watch = Watch.encode({}).finish();
    const before = heapUsed();
    await keepsAnsweringDuring(s, async () => {
      for (let f = 0; f < 100; f++) {
        const envelopes = Array.from({ length: 1_000 }, (_, i) => envelope("/user/counter", "troupe.system.Watch", watch, { system: s.system, node: `ghost-${f}`, path: `/user/w${i}` }));
        publish(s, "control", "victim", envelopes);
        if (f % 10 === 9) await inFlightBelow(s, (f + 1) * 1_000, 10_000);
      }
    });
    const held = heapUsed() - before;
    await eventually("every ghost watch refused", () => s.victim.deadLetters.countOf("refused-control") === 100_000, 10_000);
    expect(held, `heap held during the flood: ${(held / 1e6).toFixed(1)} MB`).to.be.below(MEMORY_BOUND_BYTES);

    // In the name of a live member: 150 watchers, 100 held.
    publish(s, "control", "victim", Array.from({ length: 150 }, (_, i) => envelope("/user/counter", "troupe.system.Watch", watch, { system: s.system, node: "caller", path: `/user/w${i}` })));
    await eventually("the watches past the cap refused", () => s.victim.deadLetters.limitHits().maxWatchesPerNode === 50);

    // A stop then tells the 100 held watchers (on the caller's control inbox) and nobody else.
    const terminated = new Map<string, number>();
    const spy = s.attacker.subscribe(`troupe.${s.system}.control.*`, {
      callback: (_e, msg) => {
        for (const e of Frame.decode(msg.data).envelopes) if (e.type === "troupe.system.Terminated") terminated.set(msg.subject, (terminated.get(msg.subject) ?? 0) + 1);
      },
    });
    await s.attacker.flush();
    await s.victim.stop(s.victim.refFor({ system: s.system, node: "victim", path: "/user/counter" }));
    await eventually("the held watchers told", () => terminated.get(`troupe.${s.system}.control.caller`) === 100);
    // Whatever else the victim published has reached the server, and through it the spy.
    await s.victim.transport.flush();
    await s.attacker.flush();
    spy.unsubscribe();
    expect([...terminated.keys()]).to.deep.equal([`troupe.${s.system}.control.caller`]);
  });
});
