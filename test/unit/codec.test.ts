import { expect } from "chai";
import { encodeFrame, decodeFrame } from "../../runtime/codec/frame-codec.js";
import { TypeRegistry } from "../../runtime/codec/type-registry.js";
import { Frame } from "../../runtime/codec/wire-types.js";
import { UnregisteredTypeError } from "../../runtime/index.js";
import { Ping, Pong } from "../../examples/ping-pong/messages.js";

describe("codec", () => {
  it("codec: writes frames byte-for-byte as the generated Frame.encode would", () => {
    const ping = Ping.create({ seq: 42, replyTo: { system: "s", node: "n", path: "/user/p" } });
    const sender = { system: "s", node: "n2", path: "/temp/7" };
    const headers = { traceparent: "00-abc-def-01" };
    const ours = encodeFrame([{ target: "/user/player", typeName: "troupe.examples.pingpong.Ping", type: Ping, message: ping, sender, headers }]);
    const reference = Frame.encode({
      envelopes: [{ target: "/user/player", type: "troupe.examples.pingpong.Ping", payload: Ping.encode(ping).finish(), sender, headers }],
    }).finish();
    expect(Buffer.from(ours).equals(Buffer.from(reference))).to.equal(true);
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
});
