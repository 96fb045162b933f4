import { expect } from "chai";
import { BucketHistogram } from "../../runtime/stats/bucket-histogram.js";
import { KindStats } from "../../runtime/stats/kind-stats.js";

describe("duration histograms kept as plain numbers", () => {
  it("histogram: a value falls in the first bucket whose bound it does not exceed; above the last, in the overflow", () => {
    const h = new BucketHistogram([0.001, 0.01]);
    h.add(0.001);
    h.add(0.005);
    h.add(3);
    expect(h.counts).to.deep.equal([1, 1, 1]);
    expect([h.count, h.min, h.max]).to.deep.equal([3, 0.001, 3]);
    expect(h.sum).to.be.closeTo(3.006, 1e-12);
  });

  it("histogram: a mailbox turn counts each of its messages at the turn's mean; an async handler counts as one", () => {
    const stats = new KindStats("k");
    stats.turn(1000, 2); // 1,000 messages in 2 ms: 2 µs each
    stats.turn(0, 5); // a turn that handled nothing records nothing
    stats.settled(40); // one async handler that took 40 ms
    expect(stats.processed).to.equal(1001);
    expect(stats.processing.count).to.equal(1001);
    expect(stats.processing.sum).to.be.closeTo(0.042, 1e-12);
    expect(stats.processing.counts[stats.processing.boundaries.indexOf(0.000_01)]).to.equal(1000);
    expect(stats.processing.counts[stats.processing.boundaries.indexOf(0.05)]).to.equal(1);
  });
});
