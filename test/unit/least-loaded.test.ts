import { expect } from "chai";
import { LeastLoaded } from "../../runtime/remote/least-loaded.js";
import { serveLoad } from "../../runtime/remote/serve-load.js";
import { Subjects } from "../../runtime/subjects.js";
import { ManualClock, MemoryNetwork } from "../../runtime/testkit/index.js";
import { troupe } from "../../proto/gen/troupe.js";
import { eventually } from "../helpers/conditions.js";

const { LoadReply } = troupe.system;
const subjects = new Subjects("troupe", "s");
const hosts = (counts: Record<string, number>) => Object.entries(counts).map(([node, actorCount]) => ({ node, kinds: ["w"], actorCount }));

describe("least-loaded placement (power of two choices)", () => {
  let network: MemoryNetwork;
  let clock: ManualClock;
  let invalid: string[];
  let picks: number[];
  const chooser = (localCount = 0) => {
    const transport = network.connect("n1");
    // Picks the first two hosts, in order, unless a test queues other draws.
    return new LeastLoaded({ transport, subjects, nodeId: "n1", clock, localCount: () => localCount, timeoutMs: 50, random: () => picks.shift() ?? 0, onInvalid: (reason, detail) => void invalid.push(`${reason}: ${detail}`) });
  };
  /** `node` answers load questions with `count` actors (as `name` says it is). */
  const answering = (node: string, count: number, name = node) =>
    network.connect(node).subscribe(subjects.loadOf(node), (m) => network.connect(`${node}-reply`).publish(m.reply!, LoadReply.encode({ node: name, actorCount: count }).finish()));

  beforeEach(() => {
    network = new MemoryNetwork();
    clock = new ManualClock();
    invalid = [];
    picks = [];
  });

  it("least-loaded: takes the lighter of two candidates by their answers, counting what it placed since", async () => {
    answering("n2", 10);
    answering("n3", 3);
    const choice = chooser();
    const counts = hosts({ n2: 0, n3: 0 });
    // No answers yet: by membership's counts (a tie, so the first drawn), and both asked.
    expect(choice.choose(counts)).to.equal("n2");
    await eventually("answers", () => choice.stats().answered === 2);
    // n2 answered 10 and got one child since; n3 answered 3: it takes children until it reaches 11.
    const placed = Array.from({ length: 9 }, () => choice.choose(counts));
    expect(placed).to.deep.equal([...Array<string>(8).fill("n3"), "n2"]);
  });

  it("least-loaded: its own node's count is local, never asked", () => {
    const choice = chooser(0);
    expect(choice.choose(hosts({ n1: 0, n2: 0 }))).to.equal("n1");
    expect(choice.stats().asked).to.equal(1); // n2 only
  });

  it("least-loaded: a candidate whose question goes unanswered is skipped; an answer naming another node or malformed is refused", async () => {
    network.connect("n2").subscribe(subjects.loadOf("n2"), () => undefined); // hangs
    answering("n3", 0, "n9"); // answers for somebody else
    network.connect("n4").subscribe(subjects.loadOf("n4"), (m) => network.connect("x").publish(m.reply!, new Uint8Array([0xff, 0xff, 0xff])));
    answering("n5", 50);
    const choice = chooser();
    const counts = hosts({ n2: 0, n3: 0, n4: 0, n5: 0 });
    picks = [0, 0, 2 / 4, 0]; // pairs (n2, n3) then (n4, n5)
    choice.choose(counts);
    choice.choose(counts);
    await eventually("all answered or timed out", () => choice.stats().answered + choice.stats().unanswered + choice.stats().refused === 4, 2_000);
    expect(choice.stats()).to.deep.equal({ asked: 4, answered: 1, unanswered: 1, refused: 2 });
    expect(invalid.join("\n")).to.match(/forged-reply: load answer to a question for n3 names node "n9"/).and.match(/malformed-payload: load answer from n4/);
    picks = [0, 0]; // (n2, n3): both silent, so the first drawn
    expect(choice.choose(counts)).to.equal("n2");
    picks = [1 / 4, 1 / 3]; // (n3, n5): n3 skipped, n5 taken although it answered 50
    expect(choice.choose(counts)).to.equal("n5");
  });

  it("least-loaded: a choice that may wait asks both candidates first, and waits no longer than the timeout", async () => {
    answering("n2", 10);
    answering("n3", 3);
    network.connect("n4").subscribe(subjects.loadOf("n4"), () => undefined); // hangs
    const choice = chooser();
    expect(await choice.chooseAsked(hosts({ n2: 0, n3: 0 }))).to.equal("n3");
    picks = [0, 2 / 3]; // (n2, n4)
    const startedMs = Date.now();
    expect(await choice.chooseAsked(hosts({ n2: 0, n3: 0, n4: 0 }))).to.equal("n2");
    // The 50 ms timeout and scheduling on a busy machine: far from waiting for the hung node (unanswered: 1 below).
    expect(Date.now() - startedMs).to.be.below(1_000);
    expect(choice.stats()).to.include({ answered: 3, unanswered: 1 });
  });

  it("serveLoad: answers with this node's count on a request inbox only, and no more than its rate", async () => {
    const server = network.connect("n2");
    const refused: string[] = [];
    let actors = 7;
    serveLoad({
      transport: server,
      subjects,
      nodeId: "n2",
      clock,
      actorCount: () => actors,
      mayAnswer: (m): m is typeof m & { reply: string } => m.reply !== undefined,
      maxAnswersPerSecond: 2,
      onOverRate: (detail) => refused.push(detail),
    });
    const asker = network.connect("n1");
    expect(LoadReply.decode(await asker.request(subjects.loadOf("n2"), new Uint8Array(), 100)).toJSON()).to.deep.equal({ node: "n2", actorCount: 7 });
    actors = 9;
    expect(LoadReply.decode(await asker.request(subjects.loadOf("n2"), new Uint8Array(), 100)).actorCount).to.equal(9);
    await asker.request(subjects.loadOf("n2"), new Uint8Array(), 50).then(
      () => expect.fail("answered over the rate"),
      (error: Error) => expect(error.message).to.match(/timed out/),
    );
    expect(refused).to.have.length(1);
    clock.advance(1_000);
    expect(LoadReply.decode(await asker.request(subjects.loadOf("n2"), new Uint8Array(), 100)).actorCount).to.equal(9);
  });
});
