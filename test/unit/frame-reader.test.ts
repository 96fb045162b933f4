import { expect } from "chai";
import protobuf from "protobufjs/minimal.js";
import { readFrame } from "../../runtime/codec/frame-reader.js";
import { Frame } from "../../runtime/codec/wire-types.js";
import { Blob } from "../../bench/messages.js";
import { FuzzInputs } from "../helpers/fuzz-frames.js";
import { SeededRandom } from "../helpers/seeded-random.js";

/** What a frame decodes to, envelope by envelope (target, type, payload as a Blob or "ERR"), or "FRAME-ERR". */
type Reading = string;

/** The reference: the generated `Frame.decode`, and each payload decoded from its own copy. */
function byGeneratedCode(data: Uint8Array): Reading {
  try {
    const envelopes = Frame.decode(data).envelopes;
    return JSON.stringify(envelopes.map((e) => [e.target ?? "", e.type ?? "", addressOf(e.sender), e.headers ?? {}, Array.from(e.traceContext ?? []), payloadOf(() => Blob.decode(e.payload ?? new Uint8Array(0)))]));
  } catch {
    return "FRAME-ERR";
  }
}

/** The runtime's way (runtime/remote-endpoint.ts): readFrame, then each payload decoded in place through one reader. */
function byReader(data: Uint8Array): Reading {
  try {
    const envelopes = readFrame(data);
    const reader = protobuf.Reader.create(data);
    return JSON.stringify(
      envelopes.map((e) => [
        e.target,
        e.type,
        addressOf(e.sender),
        e.headers ?? {},
        Array.from(e.traceContextStart < 0 ? [] : data.subarray(e.traceContextStart, e.traceContextEnd)),
        payloadOf(() => {
          reader.pos = e.payloadStart;
          reader.len = data.length;
          const blob = Blob.decode(reader, e.payloadEnd - e.payloadStart);
          if (reader.pos !== e.payloadEnd) throw new RangeError("past the end");
          return blob;
        }),
      ]),
    );
  } catch {
    return "FRAME-ERR";
  }
}

/** An absent address field and an empty one mean the same (`addressFromWire` refuses both). */
function addressOf(a: { system?: string | null; node?: string | null; path?: string | null } | null | undefined): string[] | null {
  return a ? [a.system ?? "", a.node ?? "", a.path ?? ""] : null;
}

function payloadOf(decode: () => Blob): string {
  try {
    return JSON.stringify(decode());
  } catch {
    return "ERR";
  }
}

describe("frame reader", () => {
  it("reader: accepts and rejects exactly what the generated Frame.decode does, on 30,000 fuzzed frames", () => {
    const mismatches: string[] = [];
    for (const seed of [1568246457, 7, 20261124]) {
      const inputs = new FuzzInputs(new SeededRandom(seed), "sys", 1 << 20);
      for (let i = 0; i < 10_000; i++) {
        const { label, data } = inputs.inbox(["/user/a", "/user/b/c"]);
        const expected = byGeneratedCode(data);
        const actual = byReader(data);
        if (actual !== expected) mismatches.push(`seed ${seed} #${i} ${label}: generated ${expected.slice(0, 120)} / reader ${actual.slice(0, 120)}`);
      }
    }
    expect(mismatches.slice(0, 5)).to.deep.equal([]);
  });
});
