import { expect } from "chai";
import { AskFailedError, AskTimeoutError } from "../../runtime/index.js";
import { ManualClock } from "../../runtime/testkit/index.js";
import { Failure } from "../../runtime/codec/wire-types.js";
import { PendingAsks } from "../../runtime/pending-asks.js";
import { TempPaths } from "../../runtime/temp-paths.js";
import { Stats } from "../../examples/ping-pong/messages.js";

const target = { system: "s", node: "n2", path: "/user/counter" };
const answer = Stats.create({ pings: 1, node: "n2" });

/** The state of a promise after the microtasks queued so far have run. */
async function state<T>(promise: Promise<T>): Promise<"pending" | "resolved" | "rejected"> {
  let result: "pending" | "resolved" | "rejected" = "pending";
  promise.then(
    () => (result = "resolved"),
    () => (result = "rejected"),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return result;
}

describe("pending asks", () => {
  it("temp paths: 128 random-looking bits each (32 hex digits), never repeated, and a node can tell its own from made-up ones", () => {
    const paths = new TempPaths();
    const minted = Array.from({ length: 2_000 }, () => paths.mint());
    expect(new Set(minted).size).to.equal(2_000);
    for (const path of minted) expect(path).to.match(/^\/temp\/[0-9a-f]{32}$/);
    expect(minted.every((path) => paths.wasIssued(path))).to.equal(true);
    const madeUp = ["/temp/1", "/temp/", `/temp/${"0".repeat(32)}`, `/temp/${"F".repeat(32)}`, "/user/x", minted[7]!.slice(0, -1) + (minted[7]!.endsWith("0") ? "1" : "0")];
    for (const path of madeUp) expect(paths.wasIssued(path), path).to.equal(false);
    // Another node's paths (another key) are not this node's.
    expect(new TempPaths().wasIssued(minted[0]!)).to.equal(false);
  });

  it("asks: only the asked actor's reply, or a Failure from its node, settles an ask; anything else is a forged reply and the ask keeps waiting", async () => {
    const clock = new ManualClock();
    const asks = new PendingAsks(clock);
    const { path, reply } = asks.open(target, "GetStats", Stats, "troupe.examples.pingpong.Stats", 1_000);
    const forgers = [undefined, { ...target, node: "n3" }, { ...target, path: "/user/other" }, { ...target, system: "s2" }, { system: "s", node: "n1", path }];
    for (const sender of forgers) expect(asks.settle(path, answer, sender)?.reason, JSON.stringify(sender)).to.equal("forged-reply");
    // A Failure counts from the target's node only.
    expect(asks.settle(path, Failure.create({ reason: "unknown-target" }), { ...target, node: "n3", path: "/system" })?.reason).to.equal("forged-reply");
    expect(await state(reply)).to.equal("pending");
    expect(asks.settle(path, answer, target)).to.equal(undefined);
    expect(await reply).to.equal(answer);
    expect(asks.size).to.equal(0);
    // Answered: the same reply again is late; a path never issued is forged.
    expect(asks.settle(path, answer, target)?.reason).to.equal("late-reply");
    expect(asks.settle("/temp/1", answer, target)?.reason).to.equal("forged-reply");
  });

  it("asks: a Failure from the target's node fails the ask with its reason; a forged reply does not stop the timeout", async () => {
    const clock = new ManualClock();
    const asks = new PendingAsks(clock);
    const failing = asks.open(target, "GetStats", Stats, "troupe.examples.pingpong.Stats", 1_000);
    expect(asks.settle(failing.path, Failure.create({ reason: "stopped-target", message: "gone" }), { ...target, path: "/system" })).to.equal(undefined);
    const error = await failing.reply.catch((e: unknown) => e);
    expect(error).to.be.instanceOf(AskFailedError);
    expect((error as AskFailedError).reason).to.equal("stopped-target");

    const waiting = asks.open(target, "GetStats", Stats, "troupe.examples.pingpong.Stats", 1_000);
    expect(asks.settle(waiting.path, answer, undefined)?.reason).to.equal("forged-reply");
    clock.advance(1_000);
    expect(await waiting.reply.catch((e: unknown) => e)).to.be.instanceOf(AskTimeoutError);
    expect(asks.settle(waiting.path, answer, target)?.reason).to.equal("late-reply");
  });
});
