import { expect } from "chai";
import { decodeFrame, encodeFrame } from "../../runtime/codec/frame-codec.js";
import { FrameBatcher } from "../../runtime/frame-batcher.js";
import { Pong } from "../../examples/ping-pong/messages.js";
import { settle } from "../helpers/conditions.js";

const frameOf = (seq: number): Uint8Array =>
  encodeFrame([{ target: "/user/p", typeName: "troupe.examples.pingpong.Pong", type: Pong, message: Pong.create({ seq, node: "n" }), sender: undefined, headers: undefined }]);
const seqsIn = (data: Uint8Array): number[] => decodeFrame(data).map((e) => Pong.decode(e.payload!).seq);

describe("frame batcher", () => {
  it("batcher: publishes one frame per subject per turn, holding every envelope in order", async () => {
    const published: { subject: string; data: Uint8Array }[] = [];
    const batcher = new FrameBatcher((subject, data) => published.push({ subject, data }), () => undefined, 1 << 20);
    for (let seq = 1; seq <= 100; seq++) batcher.add(seq % 2 ? "odd" : "even", frameOf(seq));
    expect(published).to.have.length(0);
    await settle();
    expect(published.map((p) => p.subject)).to.deep.equal(["odd", "even"]);
    expect(seqsIn(published[0]!.data)).to.deep.equal(Array.from({ length: 50 }, (_, i) => 2 * i + 1));
    expect(seqsIn(published[1]!.data)).to.deep.equal(Array.from({ length: 50 }, (_, i) => 2 * i + 2));
  });

  it("batcher: starts a new frame before one would exceed the batch limit", () => {
    const published: Uint8Array[] = [];
    const size = frameOf(1).length;
    const batcher = new FrameBatcher((_s, data) => published.push(data), () => undefined, size * 3);
    for (let seq = 1; seq <= 7; seq++) batcher.add("s", frameOf(seq));
    batcher.flush();
    expect(published.map(seqsIn)).to.deep.equal([[1, 2, 3], [4, 5, 6], [7]]);
    expect(published.every((d) => d.length <= size * 3)).to.equal(true);
  });

  it("batcher: reports a publish that fails instead of throwing into the event loop", async () => {
    const failures: string[] = [];
    const batcher = new FrameBatcher(
      () => {
        throw new Error("connection closed");
      },
      (subject, envelopes, error) => failures.push(`${subject}:${envelopes}:${(error as Error).message}`),
      1 << 20,
    );
    batcher.add("s", frameOf(1));
    batcher.add("s", frameOf(2));
    await settle();
    expect(failures).to.deep.equal(["s:2:connection closed"]);
  });
});
