import { expect } from "chai";
import { ActorSystem, MemoryNetwork } from "../../runtime/index.js";
import { Subjects } from "../../runtime/subjects.js";
import { SystemSampler } from "../../runtime/live/system-sampler.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { counter, POISON } from "../fixtures/counter.js";
import { ManualClock } from "../../runtime/testkit/manual-clock.js";

describe("live counters: what `troupe top` reads from a node's actor list (system: memory transport)", () => {
  let network: MemoryNetwork;
  let system: ActorSystem;

  beforeEach(async () => {
    network = new MemoryNetwork(64 * 1024);
    system = await ActorSystem.start({ name: "live", nodeId: "a", transport: network.connect("a"), types: [Ping, Pong, GetStats, Stats] });
  });
  afterEach(() => system.shutdown());

  it("live counters: each actor reports the messages it processed, and the node's totals keep counting those of actors that stopped, their restarts and dead letters", async () => {
    const kept = system.spawn(counter, { name: "kept" });
    const gone = system.spawn(counter, { name: "gone" });
    for (let i = 0; i < 5; i++) kept.tell(Ping.create({ seq: i }));
    for (let i = 0; i < 3; i++) gone.tell(Ping.create({ seq: i }));
    gone.tell(Ping.create({ seq: POISON })); // a restart (the default directive), processed all the same
    expect(await gone.ask(GetStats.create(), Stats)).to.deep.include({ pings: 0 });
    await system.stop(gone);
    gone.tell(Ping.create({ seq: 1 })); // a dead letter: it has stopped
    expect(await kept.ask(GetStats.create(), Stats)).to.deep.include({ pings: 5 });

    const observer = network.connect("observer");
    const sampler = new SystemSampler(observer, new Subjects("troupe", "live"), { waitMs: 50 });
    try {
      const sample = await sampler.sample();
      expect(sample.actors.map((a) => [a.path, a.processed, a.restarts])).to.deep.equal([["/user/kept", 6, 0]]);
      // gone: 3 pings, the poison, one GetStats; its restart; the poison's letter and the tell after it stopped.
      expect(system.deadLetters.byReason()).to.deep.equal({ "handler-failed": 1, "unknown-target": 1 });
      expect(sample.totals.get("a")).to.deep.equal({ processed: 6 + 5, restarts: 1, deadLetters: 2 });
    } finally {
      await observer.close();
    }
  });

  it("live counters: a node answers at most maxActorListsPerSecond actor lists a second; the rest are refused and counted, and answered again the next second", async () => {
    const clock = new ManualClock();
    const limited = await ActorSystem.start({ name: "limited", nodeId: "b", transport: network.connect("b"), clock, maxActorListsPerSecond: 3 });
    const observer = network.connect("observer-b");
    const subjects = new Subjects("troupe", "limited");
    const ask = () => observer.request(subjects.actorsOf("b"), new Uint8Array(0), 300).then(
      () => "answered",
      () => "silent",
    );
    try {
      limited.spawn(counter, { name: "c" });
      const burst = await Promise.all(Array.from({ length: 8 }, ask));
      expect(burst.filter((r) => r === "answered")).to.have.length(3);
      expect(limited.deadLetters.countOf("refused-control")).to.equal(5);
      clock.advance(1_000);
      expect(await ask()).to.equal("answered");
    } finally {
      await observer.close();
      await limited.shutdown();
    }
  });
});
