import { expect } from "chai";
import type { ActorRef } from "../../runtime/actor-ref.js";
import { Mailbox } from "../../runtime/mailbox.js";

describe("mailbox", () => {
  it("mailbox: returns messages in the order they were queued, across growth and wrap-around", () => {
    const mailbox = new Mailbox({ capacity: Infinity });
    const out: number[] = [];
    let next = 0;
    // Interleave pushes and shifts so the ring wraps several times while it grows.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7 + round; i++) mailbox.push({ n: next++ }, undefined, undefined);
      for (let i = 0; i < 5; i++) out.push((mailbox.shift() as { n: number }).n);
    }
    while (mailbox.size > 0) out.push((mailbox.shift() as { n: number }).n);
    expect(out).to.deep.equal(Array.from({ length: next }, (_, i) => i));
  });

  it("mailbox: keeps each message's sender and headers with it", () => {
    const mailbox = new Mailbox();
    const headers = { traceparent: "x" };
    mailbox.push({ a: 1 }, undefined, headers);
    mailbox.push({ a: 2 }, undefined, undefined);
    expect(mailbox.shift()).to.deep.equal({ a: 1 });
    expect(mailbox.lastHeaders).to.equal(headers);
    expect(mailbox.shift()).to.deep.equal({ a: 2 });
    expect(mailbox.lastHeaders).to.equal(undefined);
  });

  it("mailbox: reports full at its capacity", () => {
    const mailbox = new Mailbox({ capacity: 3 });
    for (let i = 0; i < 3; i++) mailbox.push({}, undefined, undefined);
    expect(mailbox.isFull).to.equal(true);
    mailbox.shift();
    expect(mailbox.isFull).to.equal(false);
  });

  it("mailbox: rejects a capacity below one and an unknown overflow policy", () => {
    expect(() => new Mailbox({ capacity: 0 })).to.throw(/capacity must be at least 1/);
    expect(() => new Mailbox({ overflow: "drop-all" as never })).to.throw(/drop-newest/);
  });

  it("mailbox: keeps each message's sender through growth and wrap-around, when only some messages have one", () => {
    const mailbox = new Mailbox({ capacity: Infinity });
    const senders = [{ id: "a" }, { id: "b" }] as unknown as ActorRef<any>[];
    const senderOf = (n: number): ActorRef<any> | undefined => (n % 3 === 0 ? undefined : senders[n % 2]);
    const out: [number, ActorRef<any> | undefined][] = [];
    let next = 0;
    // The first messages have no sender, so the sender ring starts in the middle of a wrapped ring.
    for (let i = 0; i < 3; i++) mailbox.push({ n: next++ }, undefined, undefined);
    out.push([(mailbox.shift() as { n: number }).n, mailbox.lastSender]);
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 5 + round; i++, next++) mailbox.push({ n: next }, senderOf(next), undefined);
      for (let i = 0; i < 4; i++) out.push([(mailbox.shift() as { n: number }).n, mailbox.lastSender]);
    }
    while (mailbox.size > 0) out.push([(mailbox.shift() as { n: number }).n, mailbox.lastSender]);
    expect(out).to.deep.equal(Array.from({ length: next }, (_, n) => [n, n < 3 ? undefined : senderOf(n)]));
  });
});
