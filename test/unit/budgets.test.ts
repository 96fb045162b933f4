import { expect } from "chai";
import { readFrame, readFrameWithin } from "../../runtime/codec/frame-reader.js";
import { frameLimits } from "../../runtime/codec/frame-limits.js";
import { Frame } from "../../runtime/codec/wire-types.js";
import { DeadLetters } from "../../runtime/dead-letters.js";
import { Mailbox } from "../../runtime/mailbox.js";

const envelopes = (n: number, headers?: Record<string, string>) => Frame.encode({ envelopes: Array.from({ length: n }, (_, i) => ({ target: `/user/a${i}`, type: "t.T", payload: new Uint8Array(1), headers })) }).finish();

describe("budgets", () => {
  it("reader: stops before envelope maxFrameEnvelopes + 1 and says how many bytes it left unread", () => {
    const frame = envelopes(5);
    const { envelopes: read, unreadBytes } = readFrameWithin(frame, frameLimits({ maxFrameEnvelopes: 3 }));
    expect(read.map((e) => e.target)).to.deep.equal(["/user/a0", "/user/a1", "/user/a2"]);
    expect(unreadBytes).to.equal(frame.length - Frame.encode({ envelopes: Frame.decode(frame).envelopes.slice(0, 3) }).finish().length);
    expect(readFrameWithin(frame, frameLimits({ maxFrameEnvelopes: 5 })).unreadBytes).to.equal(0);
    // What follows the limit is not read, so not checked either: the frame is not malformed.
    const broken = new Uint8Array([...frame, 0x0a, 0x7f]);
    expect(() => readFrame(broken)).to.throw(RangeError);
    expect(readFrameWithin(broken, frameLimits({ maxFrameEnvelopes: 5 })).envelopes).to.have.length(5);
  });

  it("reader: refuses an envelope over maxHeaders or maxHeaderBytes without keeping its headers, and still checks their structure", () => {
    const headers = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, "v".repeat(10)]));
    const frame = envelopes(1, headers);
    const [byCount] = readFrameWithin(frame, frameLimits({ maxHeaders: 9 })).envelopes;
    expect(byCount!.headers).to.equal(undefined);
    expect(byCount!.headersOverLimit).to.deep.equal({ limit: "maxHeaders", count: 10, bytes: 10 * 16 });
    const [byBytes] = readFrameWithin(frame, frameLimits({ maxHeaderBytes: 100 })).envelopes;
    expect(byBytes!.headersOverLimit).to.deep.equal({ limit: "maxHeaderBytes", count: 10, bytes: 160 });
    const [within] = readFrameWithin(frame, frameLimits({ maxHeaders: 10, maxHeaderBytes: 160 })).envelopes;
    expect(within!.headers).to.deep.equal(headers);
    expect(within!.headersOverLimit).to.equal(undefined);
    // The last header entry's value runs past the entry: malformed whether or not it is over the limit.
    const bad = Uint8Array.from(frame);
    bad[bad.length - 11] = 0x7f;
    expect(() => readFrameWithin(bad, frameLimits({ maxHeaders: 1 }))).to.throw(RangeError);
    expect(() => frameLimits({ maxHeaders: 0 })).to.throw(RangeError, /maxHeaders must be a positive integer/);
  });

  it("dead letters: keep at most maxDeadLetterKeptBytes of a letter's bytes, as a copy, with the original size", () => {
    const letters = new DeadLetters({ maxDeadLetterKeptBytes: 8 });
    const frame = new Uint8Array(1000).map((_, i) => i);
    letters.publish({ reason: "unknown-type", detail: "x", bytes: frame.subarray(10, 30) });
    letters.publish({ reason: "unknown-type", detail: "x", bytes: frame.subarray(10, 14) });
    const [cut, small] = letters.recent();
    expect([...cut!.bytes!]).to.deep.equal([10, 11, 12, 13, 14, 15, 16, 17]);
    expect(cut!.size).to.equal(20);
    expect(cut!.bytes!.buffer.byteLength, "a copy, not a view of the frame").to.equal(8);
    expect(small!.bytes!.buffer.byteLength).to.equal(4);
    expect(small!.size).to.equal(undefined);
    expect(letters.limitHits()).to.deep.equal({ maxDeadLetterKeptBytes: 1 });
  });

  it("dead letters: evict the oldest past maxDeadLetterLogBytes, counted; the counters still cover all", () => {
    const letters = new DeadLetters({ maxDeadLetterLogBytes: 10_000, maxDeadLetterKeptBytes: 4096 });
    for (let i = 0; i < 10; i++) letters.publish({ reason: "unknown-type", detail: `letter ${i}`, bytes: new Uint8Array(3000) });
    expect(letters.recent().map((l) => l.detail)).to.deep.equal(["letter 7", "letter 8", "letter 9"]);
    expect(letters.retainedBytesEstimate).to.be.at.most(10_000);
    expect(letters.count).to.equal(10);
    expect(letters.limitHits().maxDeadLetterLogBytes).to.equal(7);
    // A decoded message counts with the whole buffer its byte arrays are views of.
    letters.publish({ reason: "unknown-target", detail: "big", message: { data: new Uint8Array(1 << 20).subarray(0, 1) } });
    expect(letters.recent(), "a letter over the whole budget is not kept").to.have.length(0);
    expect(new DeadLetters({ maxDeadLetters: 2 }).maxDeadLetters).to.equal(2);
  });

  it("mailbox: with maxBytes, is full once its messages' estimate reaches it, and not before", () => {
    const mailbox = new Mailbox({ maxBytes: 1000 });
    const message = { text: "x".repeat(300) };
    mailbox.push(message, undefined, undefined);
    mailbox.push(message, undefined, undefined);
    expect(mailbox.isFull).to.equal(false);
    mailbox.push(message, undefined, undefined);
    expect(mailbox.bytes).to.be.above(1000);
    expect(mailbox.isFull).to.equal(true);
    mailbox.shift();
    expect(mailbox.isFull).to.equal(false);
    for (let i = 0; i < 3; i++) mailbox.shift();
    expect(mailbox.bytes).to.equal(0);
    expect(new Mailbox().bytes, "no estimate without maxBytes").to.equal(0);
    expect(() => new Mailbox({ maxBytes: 0 })).to.throw(RangeError);
  });
});
