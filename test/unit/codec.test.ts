import { expect } from "chai";
import { encodeFrame, decodeFrame } from "../../runtime/codec/frame-codec.js";
import { TypeRegistry } from "../../runtime/codec/type-registry.js";
import { InternedStrings } from "../../runtime/codec/interned-strings.js";
import { Envelope, Frame } from "../../runtime/codec/wire-types.js";
import protobuf from "protobufjs/minimal.js";
import { NO_IDS, TRACE_CONTEXT, TRACE_CONTEXT_BYTES, isTraceContext } from "../../runtime/codec/trace-context.js";
import { UnregisteredTypeError } from "../../runtime/index.js";
import { Ping, Pong } from "../../examples/ping-pong/messages.js";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { readFrame } from "../../runtime/codec/frame-reader.js";
import { UnsampledContext } from "../../runtime/tracing/unsampled-context.js";

/**
 * A one-envelope Frame as the encoder writes it: `Frame.encode`'s bytes with the envelope's headers and
 * trace context first (fields may come in any order; a protobuf message's encodings concatenated are
 * that message merged), so the generated code stays the reference.
 */
function referenceFrame(envelope: Parameters<typeof Envelope.create>[0]): Uint8Array {
  const { headers, traceContext, ...rest } = envelope!;
  const first = Envelope.encode({ headers, traceContext }).finish();
  const then = Envelope.encode(rest).finish();
  const body = new Uint8Array(first.length + then.length);
  body.set(first);
  body.set(then, first.length);
  const frame = protobuf.Writer.create().uint32(10).bytes(body).finish();
  const decoded = (bytes: Uint8Array) => Frame.toObject(Frame.decode(bytes), { bytes: Array });
  expect(decoded(frame), "the same envelope as Frame.encode writes").to.deep.equal(decoded(Frame.encode({ envelopes: [envelope!] }).finish()));
  return frame;
}

describe("codec", () => {
  it("codec: writes each field byte-for-byte as the generated Frame.encode would, an envelope's headers and trace context first", () => {
    const ping = Ping.create({ seq: 42, replyTo: { system: "s", node: "n", path: "/user/p" } });
    const sender = { system: "s", node: "n2", path: "/temp/7" };
    const headers = { traceparent: "00-abc-def-01" };
    const ours = encodeFrame([{ target: "/user/player", typeName: "troupe.examples.pingpong.Ping", type: Ping, message: ping, sender, headers }]);
    const reference = referenceFrame({ target: "/user/player", type: "troupe.examples.pingpong.Ping", payload: Ping.encode(ping).finish(), sender, headers });
    expect(Buffer.from(ours).equals(Buffer.from(reference))).to.equal(true);
  });

  it("codec: writes a binary trace context (headers' TRACE_CONTEXT slot) as Envelope field 6, byte-for-byte as Frame.encode writes it, and reads it back", () => {
    const ping = Ping.create({ seq: 7 });
    // Version 0, field 0 + trace id, field 1 + span id, field 2 + flags.
    const traceContext = Uint8Array.from({ length: TRACE_CONTEXT_BYTES }, (_, i) => (i <= 1 || i === 28 ? 0 : i === 18 ? 1 : i === 27 ? 2 : i));
    const headers = { [TRACE_CONTEXT]: traceContext, tracestate: "k=v" };
    const ours = encodeFrame([{ target: "/user/player", typeName: "troupe.examples.pingpong.Ping", type: Ping, message: ping, sender: undefined, headers }]);
    const reference = referenceFrame({ target: "/user/player", type: "troupe.examples.pingpong.Ping", payload: Ping.encode(ping).finish(), headers: { tracestate: "k=v" }, traceContext });
    expect(Buffer.from(ours).equals(Buffer.from(reference))).to.equal(true);
    const [read] = decodeFrame(ours);
    expect(read!.headers, "the trace context is not a string header").to.deep.equal({ tracestate: "k=v" });
    expect(Array.from(read!.traceContext!)).to.deep.equal(Array.from(traceContext));
    expect(isTraceContext(read!.traceContext!)).to.equal(true);
  });

  it("codec: an unsampled trace travels without ids (one byte, NO_IDS) until something draws them; then with them, written straight into the frame, the same every time", () => {
    const ping = Ping.create({ seq: 7 });
    const encode = (headers: object) => encodeFrame([{ target: "/user/player", typeName: "troupe.examples.pingpong.Ping", type: Ping, message: ping, sender: undefined, headers: headers as Record<string, string> }]);
    const reference = (traceContext: Uint8Array) => referenceFrame({ target: "/user/player", type: "troupe.examples.pingpong.Ping", payload: Ping.encode(ping).finish(), traceContext });
    const begun = UnsampledContext.begun(ROOT_CONTEXT, 0);
    const withoutIds = encode(begun.headers());
    expect(Buffer.from(withoutIds).equals(Buffer.from(reference(NO_IDS))), "field 6 is the one byte 00").to.equal(true);
    expect(withoutIds.length, "28 bytes fewer: one byte in place of 29").to.equal(reference(new Uint8Array(TRACE_CONTEXT_BYTES)).length - 28);
    // Asked for (a log line's span context): drawn, and from then on they travel.
    const traceId = begun.spanContext().traceId;
    const withIds = encode(begun.headers());
    expect(isTraceContext(begun.traceContext)).to.equal(true);
    expect(Buffer.from(withIds).equals(Buffer.from(reference(begun.traceContext))), "field by field as Frame.encode writes them").to.equal(true);
    expect(Buffer.from(encode(begun.headers())).equals(Buffer.from(withIds)), "the same ids the second time").to.equal(true);
    // Received: its ids read out of the frame, which it does not keep.
    const [read] = readFrame(withIds);
    const received = UnsampledContext.of(withIds, ROOT_CONTEXT, read!.traceContextStart);
    expect(Buffer.from(encode(received.headers())).equals(Buffer.from(withIds))).to.equal(true);
    withIds.fill(0);
    expect(received.spanContext().traceId).to.equal(traceId);
  });

  it("codec: round-trips several envelopes in one frame", () => {
    const frame = encodeFrame([1, 2, 3].map((seq) => ({ target: "/user/a", typeName: "troupe.examples.pingpong.Pong", type: Pong, message: Pong.create({ seq, node: "x" }), sender: undefined, headers: undefined })));
    const envelopes = decodeFrame(frame);
    expect(envelopes.map((e) => Pong.decode(e.payload!).seq)).to.deep.equal([1, 2, 3]);
  });

  it("codec: rejects bytes that are not a frame", () => {
    expect(() => decodeFrame(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f]))).to.throw();
  });

  it("registry: maps generated classes to their full protobuf names and back", () => {
    const registry = new TypeRegistry().register(Ping, Pong);
    expect(registry.nameOf(Ping.create({ seq: 1 }))).to.equal("troupe.examples.pingpong.Ping");
    expect(registry.typeNamed("troupe.examples.pingpong.Pong")).to.equal(Pong);
    expect(registry.typeNamed("nope.Nope")).to.equal(undefined);
  });

  it("registry: registers a generated class on first send, and names the fix for anything else", () => {
    const registry = new TypeRegistry();
    expect(registry.requireName(Ping.create())).to.equal("troupe.examples.pingpong.Ping");
    expect(registry.typeNamed("troupe.examples.pingpong.Ping")).to.equal(Ping);
    class Plain {}
    expect(() => registry.requireName(new Plain())).to.throw(UnregisteredTypeError, /pbjs -t static-module/);
    expect(() => registry.register({} as never)).to.throw(/pbjs -t static-module/);
  });

  it("reader: reads what the generated Frame.encode writes, sender, headers and unknown fields included", () => {
    const sender = { system: "s", node: "n2", path: "/temp/7" };
    const envelopes = [
      { target: "/user/player", type: "troupe.examples.pingpong.Ping", payload: Ping.encode(Ping.create({ seq: 42 })).finish(), sender, headers: { traceparent: "00-abc-def-01", "x-é": "ü" } },
      { target: "/user/ünïcode", type: "troupe.examples.pingpong.Pong", payload: new Uint8Array(0) },
    ];
    const bytes = Frame.encode({ envelopes }).finish();
    // An unknown field (number 9, varint) after the envelopes must be skipped, as protobufjs does.
    const withUnknown = new Uint8Array([...bytes, 0x48, 0x96, 0x01]);
    const read = decodeFrame(withUnknown);
    expect(read.map((e) => ({ ...e, payload: Array.from(e.payload!) }))).to.deep.equal([
      { ...envelopes[0], payload: Array.from(envelopes[0]!.payload) },
      { ...envelopes[1], payload: [], sender: undefined, headers: undefined },
    ]);
  });

  it("reader: decodes names and paths from its cache as they were, through slot collisions, and rejects invalid UTF-8", () => {
    const strings = new InternedStrings();
    const encoder = new TextEncoder();
    // Five times more distinct strings than the cache has slots, each read twice in a shuffled order.
    const texts = Array.from({ length: 5_000 }, (_, i) => (i % 7 === 0 ? `/user/wörker-${i}` : `/temp/${i}`));
    const order = [...texts, ...texts].map((t, i) => ({ t, k: (i * 7919) % 10_007 })).sort((a, b) => a.k - b.k);
    for (const { t } of order) {
      const bytes = encoder.encode(`x${t}y`);
      expect(strings.read(bytes, 1, bytes.length - 1)).to.equal(t);
    }
    expect(() => strings.read(new Uint8Array([0x2f, 0xc3, 0x28]), 0, 3)).to.throw(TypeError);
    expect(() => InternedStrings.decode(new Uint8Array(40).fill(0xff), 0, 40)).to.throw(TypeError);
  });

  it("reader: rejects a frame whose lengths run past its end, inside an envelope too", () => {
    const frame = encodeFrame([{ target: "/user/a", typeName: "troupe.examples.pingpong.Pong", type: Pong, message: Pong.create({ seq: 1, node: "x" }), sender: undefined, headers: undefined }]);
    expect(() => decodeFrame(frame.subarray(0, frame.length - 1))).to.throw(RangeError);
    const inner = Uint8Array.from(frame);
    inner[3] = 0x7f; // the target's length, now past the envelope's end
    expect(() => decodeFrame(inner)).to.throw(RangeError);
  });
});
