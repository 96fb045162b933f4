import { expect } from "chai";
import type { Address, EmbeddedNats } from "../../runtime/index.js";
import { decodeFrame, encodeFrame, type OutgoingEnvelope } from "../../runtime/codec/frame-codec.js";
import { Failure, LookupReply, LookupRequest } from "../../runtime/codec/wire-types.js";
import { GetStats, Ping, Stats } from "../../examples/ping-pong/messages.js";
import { eventually } from "../helpers/conditions.js";
import { heapUsedBytes, hostileScene, keepsAnsweringDuring, legitimateAsk, type HostileScene } from "../helpers/hostile-bus.js";
import { natsServerFor } from "../helpers/nats.js";

const STATS = "troupe.examples.pingpong.Stats";
const FAILURE = "troupe.system.Failure";

/** A reply as an attacker writes it: any target path, any type, any sender it cares to claim. */
function forgedReply(target: string, sender: Address | undefined, message: object = Stats.create({ pings: 666, node: "forged" })): OutgoingEnvelope {
  const failure = message instanceof Failure;
  return { target, typeName: failure ? FAILURE : STATS, type: failure ? Failure : Stats, message, sender, headers: undefined };
}

/** What the victim's counter must answer: the pings told to it so far, and where it runs. */
function expectReal(stats: Stats, pings: number): void {
  expect({ pings: stats.pings, node: stats.node }).to.deep.equal({ pings, node: "@victim" });
}

describe("hostile client: asks and lookups that cannot be hijacked (integration: nats-server)", function () {
  this.timeout(30_000);
  let nats: EmbeddedNats;
  let scene: HostileScene | undefined;

  before(async function () {
    nats = await natsServerFor(this);
  });

  afterEach(async () => {
    await scene?.close();
    scene = undefined;
  });

  after(async () => {
    await nats?.stop();
  });

  it("forged replies: a flood of replies to /temp/1..400 and to guessed paths, claiming to come from the asked actor, settles no ask; each is a counted forged-reply dead letter", async () => {
    const s = (scene = await hostileScene(nats));
    const heapBefore = heapUsedBytes();
    // The counter's own answer carries the pings told so far: a forged one says 666 and "forged".
    for (let i = 0; i < 10; i++) s.target.tell(Ping.create({ seq: i }));
    const guessed = ["/temp/0", "/temp/401", `/temp/${"0".repeat(32)}`, `/temp/${"f".repeat(32)}`, "/temp/", "/temp/1.x"];
    const frame = encodeFrame([
      ...Array.from({ length: 400 }, (_, i) => forgedReply(`/temp/${i + 1}`, s.target.address)),
      ...guessed.map((path) => forgedReply(path, s.target.address)),
      ...guessed.map((path) => forgedReply(path, undefined, Failure.create({ reason: "unknown-target", message: "forged" }))),
    ]);
    const perFrame = 400 + 2 * guessed.length;
    let frames = 0;
    let asked = 0;
    await keepsAnsweringDuring(s, async () => {
      // Rounds of 64 asks in flight, with forged frames published before, among and after them.
      for (let round = 0; round < 10; round++) {
        s.attacker.publish(s.caller.inboxSubject, frame);
        frames++;
        const asks = Array.from({ length: 64 }, () => s.target.ask(GetStats.create(), Stats, { timeoutMs: 5_000 }));
        s.attacker.publish(s.caller.inboxSubject, frame);
        s.attacker.publish(s.caller.inboxSubject, frame);
        frames += 2;
        for (const stats of await Promise.all(asks)) expectReal(stats, 10);
        asked += asks.length;
      }
    });
    expect(asked).to.equal(640);
    await s.attacker.flush();
    await eventually("every forged reply counted", () => s.caller.deadLetters.countOf("forged-reply") === frames * perFrame);
    expect(s.caller.deadLetters.countOf("late-reply"), "late replies").to.equal(0);
    expectReal(await legitimateAsk(s), 10);
    expect(heapUsedBytes() - heapBefore, "heap growth (bytes)").to.be.below(64 * 1024 * 1024);
  });

  it("forged replies: a reply to an ask's real path is refused unless it comes from the asked actor (a Failure from its node), and the actor's own answer still settles the ask", async () => {
    const s = (scene = await hostileScene(nats));
    // The attacker sees the request (as anyone allowed to subscribe to the victim's inbox would), so it
    // knows the ask's path: only the sender check stands between it and the ask.
    const seen: string[] = [];
    s.attacker.subscribe(s.victim.inboxSubject, {
      callback: (error, msg) => {
        if (error) return;
        for (const e of decodeFrame(msg.data)) if (e.type === "troupe.examples.pingpong.GetStats" && e.sender?.path) seen.push(e.sender.path);
      },
    });
    await s.attacker.flush();
    // Keep the counter busy, so the attacker's replies arrive well before the real one.
    const local = s.victim.refFor<Ping>(s.target.address);
    for (let i = 0; i < 90_000; i++) local.tell(Ping.create({ seq: i }));
    const answer = s.target.ask(GetStats.create(), Stats, { timeoutMs: 10_000 });
    await eventually("the request seen on the victim's inbox", () => seen.length === 1);
    const path = seen[0]!;
    const { system } = s;
    const notTheTarget: (Address | undefined)[] = [
      undefined,
      { system, node: "attacker", path: "/user/counter" },
      { system, node: "victim", path: "/user/other" },
      { system: "other-system", node: "victim", path: "/user/counter" },
      { system, node: "caller", path: path },
    ];
    s.attacker.publish(
      s.caller.inboxSubject,
      encodeFrame([
        ...notTheTarget.map((sender) => forgedReply(path, sender)),
        // A Failure counts only from the target's node.
        forgedReply(path, { system, node: "attacker", path: "/system" }, Failure.create({ reason: "unknown-target", message: "forged" })),
        forgedReply(path, undefined, Failure.create({ reason: "unknown-target", message: "forged" })),
      ]),
    );
    await s.attacker.flush();
    expectReal(await answer, 90_000);
    expect(s.caller.deadLetters.countOf("forged-reply"), "forged replies counted").to.equal(notTheTarget.length + 2);
    expect(path, "an ask's path: 128 random bits, not a counter").to.match(/^\/temp\/[0-9a-f]{32}$/);
    // Answered now: a second copy of a reply, even from the right sender, finds no ask.
    s.attacker.publish(s.caller.inboxSubject, encodeFrame([forgedReply(path, s.target.address)]));
    await eventually("the copy counted as a late reply", () => s.caller.deadLetters.countOf("late-reply") === 1);
    // The node's own Failures still reach the asker, from the node: an ask to a missing actor fails at once.
    const missing = s.caller.refFor<GetStats>({ ...s.target.address, path: "/user/nobody" });
    const failed = await missing.ask(GetStats.create(), Stats, { timeoutMs: 2_000 }).then(
      () => undefined,
      (error: Error & { reason?: string }) => error.reason,
    );
    expect(failed).to.equal("unknown-target");
  });

  it("forged lookups: answers from a node of the system that is not a live member, from another system, or naming another actor lose to the real node's answer, even when they come first", async () => {
    const s = (scene = await hostileScene(nats));
    const { system } = s;
    const forged = (name: string): Uint8Array[] => [
      LookupReply.encode({ found: true, address: { system, node: "ghost", path: `/user/${name}` } }).finish(),
      LookupReply.encode({ found: true, address: { system: "other-system", node: "victim", path: `/user/${name}` } }).finish(),
      LookupReply.encode({ found: true, address: { system, node: "victim", path: "/user/evil" } }).finish(),
      LookupReply.encode({ found: false }).finish(),
    ];
    let answered = 0;
    s.attacker.subscribe(`troupe.${system}.name.>`, {
      callback: (error, msg) => {
        if (error || !msg.reply) return;
        const { name } = LookupRequest.decode(msg.data);
        for (const answer of forged(name)) s.attacker.publish(msg.reply, answer);
        answered++;
      },
    });
    await s.attacker.flush();
    // The real node answers 50 ms late, so that the forgers answer first (as a closer client would).
    const transport = s.victim.transport as { publish: (subject: string, data: Uint8Array, reply?: string) => void };
    const publish = transport.publish.bind(transport);
    transport.publish = (subject, data, reply) => {
      if (!subject.includes("_INBOX")) return publish(subject, data, reply);
      setTimeout(() => {
        try {
          publish(subject, data, reply);
        } catch {
          // the scene closed meanwhile
        }
      }, 50);
    };
    const found = await s.caller.lookup("counter");
    expect(answered).to.equal(1);
    expect(found?.address).to.deep.equal(s.target.address);
    expectReal(await found!.ask(GetStats.create(), Stats), 0);
    expect(s.caller.deadLetters.countOf("forged-reply"), "forged lookup answers counted").to.equal(4);
    // A name only the forgers claim: nothing found.
    expect(await s.caller.lookup("nobody", { timeoutMs: 300 })).to.equal(undefined);
    expect(answered).to.equal(2);
    expect(s.caller.deadLetters.countOf("forged-reply")).to.equal(8);
    await legitimateAsk(s);
  });
});
