import { expect } from "chai";
import { backoffDelayMs } from "../../runtime/supervision/backoff.js";
import { RestartIntensity } from "../../runtime/supervision/restart-intensity.js";
import { restartTargets } from "../../runtime/supervision/restart-targets.js";
import { resolveSupervisorSpec } from "../../runtime/supervision/supervisor-spec.js";
import { NoNodeForKindError, chooseNode } from "../../runtime/remote/placement.js";

describe("supervision parts (unit)", () => {
  it("restart targets: one-for-one the failed child, one-for-all every child, rest-for-one it and those after it, in start order", () => {
    const children = ["a", "b", "c", "d"];
    expect(restartTargets("one-for-one", "b", children)).to.deep.equal(["b"]);
    expect(restartTargets("one-for-all", "b", children)).to.deep.equal(["a", "b", "c", "d"]);
    expect(restartTargets("rest-for-one", "b", children)).to.deep.equal(["b", "c", "d"]);
    expect(restartTargets("rest-for-one", "d", children)).to.deep.equal(["d"]);
  });

  it("intensity: more than maxRestarts within withinMs is exceeded; restarts older than the window no longer count", () => {
    const intensity = new RestartIntensity(2, 1_000);
    expect(intensity.exceededBy(0)).to.equal(false);
    expect(intensity.exceededBy(500)).to.equal(false);
    expect(intensity.exceededBy(900)).to.equal(true, "third restart within 1 s");
    const spread = new RestartIntensity(2, 1_000);
    expect([0, 600, 1_200, 1_800, 2_400].map((t) => spread.exceededBy(t))).to.deep.equal([false, false, false, false, false]);
  });

  it("backoff: exponential from minBackoffMs, capped at maxBackoffMs, spread by jitter either way", () => {
    const spec = resolveSupervisorSpec({ minBackoffMs: 100, maxBackoffMs: 1_000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 10].map((n) => backoffDelayMs(n, spec))).to.deep.equal([100, 200, 400, 800, 1_000, 1_000]);
    const jittered = resolveSupervisorSpec({ minBackoffMs: 100, maxBackoffMs: 1_000, jitter: 0.2 });
    expect(backoffDelayMs(1, jittered, () => 0)).to.equal(80);
    expect(backoffDelayMs(1, jittered, () => 1)).to.equal(120);
    expect(backoffDelayMs(3, resolveSupervisorSpec({}), () => 0.5)).to.equal(0, "no backoff by default");
  });

  it("spec: defaults are stated, and bad values are refused with the field's name", () => {
    expect(resolveSupervisorSpec(undefined)).to.include({ strategy: "one-for-one", maxRestarts: 3, withinMs: 5_000, minBackoffMs: 0, maxBackoffMs: 30_000, jitter: 0.2, resetBackoffAfterMs: 10_000, shutdownMs: 5_000 });
    expect(() => resolveSupervisorSpec({ strategy: "all-for-none" as never })).to.throw(/strategy must be one of one-for-one, one-for-all, rest-for-one/);
    expect(() => resolveSupervisorSpec({ maxRestarts: -1 })).to.throw(/maxRestarts must be a number >= 0/);
    expect(() => resolveSupervisorSpec({ jitter: 2 })).to.throw(/jitter must be between 0 and 1/);
    expect(() => resolveSupervisorSpec({ minBackoffMs: 500, maxBackoffMs: 100 })).to.throw(/maxBackoffMs \(100\) is below minBackoffMs \(500\)/);
  });

  it("placement: a named node must host the kind; round-robin goes in turn; least-loaded picks the fewest actors", () => {
    const nodes = [
      { node: "n3", kinds: ["w"], actorCount: 7 },
      { node: "n1", kinds: ["w", "x"], actorCount: 9 },
      { node: "n2", kinds: ["x"], actorCount: 0 },
    ];
    const counter = { next: 0 };
    expect([1, 2, 3].map(() => chooseNode("w", "round-robin", nodes, counter))).to.deep.equal(["n1", "n3", "n1"]);
    expect(chooseNode("w", "least-loaded", nodes, counter)).to.equal("n3");
    expect(chooseNode("x", { node: "n2" }, nodes, counter)).to.equal("n2");
    expect(chooseNode("w", "round-robin", nodes, { next: 0 }, new Set(["n1"]))).to.equal("n3");
    expect(() => chooseNode("w", { node: "n2" }, nodes, counter)).to.throw(NoNodeForKindError, /no live node hosts actor kind "w" \(placement node n2\)/);
    expect(() => chooseNode("z", "least-loaded", nodes, counter)).to.throw(NoNodeForKindError);
  });
});
