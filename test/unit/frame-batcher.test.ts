import { expect } from "chai";
import { decodeFrame, encodeFrame, type OutgoingEnvelope } from "../../runtime/codec/frame-codec.js";
import { FrameBatcher } from "../../runtime/frame-batcher.js";
import { MessageTooLargeError } from "../../runtime/errors.js";
import { Pong } from "../../examples/ping-pong/messages.js";
import { settle } from "../helpers/conditions.js";

const envelopeOf = (seq: number): OutgoingEnvelope => ({ target: "/user/p", typeName: "troupe.examples.pingpong.Pong", type: Pong, message: Pong.create({ seq, node: "n" }), sender: undefined, headers: undefined });
const frameOf = (seq: number): Uint8Array => encodeFrame([envelopeOf(seq)]);
const seqsIn = (data: Uint8Array): number[] => decodeFrame(data).map((e) => Pong.decode(e.payload!).seq);

describe("frame batcher", () => {
  it("batcher: publishes one frame per subject per turn, holding every envelope in order", async () => {
    const published: { subject: string; data: Uint8Array }[] = [];
    const batcher = new FrameBatcher((subject, data) => published.push({ subject, data }), () => undefined, 1 << 20);
    for (let seq = 1; seq <= 100; seq++) batcher.add(seq % 2 ? "odd" : "even", envelopeOf(seq));
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
    for (let seq = 1; seq <= 7; seq++) batcher.add("s", envelopeOf(seq));
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
    batcher.add("s", envelopeOf(1));
    batcher.add("s", envelopeOf(2));
    await settle();
    expect(failures).to.deep.equal(["s:2:connection closed"]);
  });

  it("batcher: refuses an envelope over the limit, or one that fails to encode, and keeps the frame as it was", () => {
    const published: Uint8Array[] = [];
    const size = frameOf(1).length;
    const batcher = new FrameBatcher((_s, data) => published.push(data), () => undefined, 1 << 20, size + 10);
    batcher.add("s", envelopeOf(1));
    const big = { ...envelopeOf(2), message: Pong.create({ seq: 2, node: "x".repeat(64) }) };
    expect(() => batcher.add("s", big)).to.throw(MessageTooLargeError, /troupe.examples.pingpong.Pong encodes to \d+ bytes/);
    const broken = { ...envelopeOf(3), type: { encode: () => { throw new Error("cannot encode"); } } as unknown as OutgoingEnvelope["type"] };
    expect(() => batcher.add("s", broken)).to.throw(/cannot encode/);
    batcher.add("s", envelopeOf(4));
    batcher.flush();
    expect(published.map(seqsIn)).to.deep.equal([[1, 4]]);
  });

  it("batcher: a frame published early is a copy: the next batch written into the same writer does not change it", () => {
    const published: Uint8Array[] = [];
    const size = frameOf(1).length;
    const batcher = new FrameBatcher((_s, data) => published.push(data), () => undefined, size * 2);
    for (let seq = 1; seq <= 9; seq++) batcher.add("s", envelopeOf(seq));
    batcher.flush();
    for (let seq = 10; seq <= 12; seq++) batcher.add("s", envelopeOf(seq));
    batcher.flush();
    expect(published.map(seqsIn)).to.deep.equal([[1, 2], [3, 4], [5, 6], [7, 8], [9], [10, 11], [12]]);
  });
});
