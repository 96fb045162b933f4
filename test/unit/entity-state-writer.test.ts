import { expect } from "chai";
import type { Mail } from "../../runtime/entities/activation-host.js";
import { EntityStateWriter, type Batch, type StateWriterHost } from "../../runtime/entities/entity-state-writer.js";
import { MemoryStore } from "../../runtime/state/memory-store.js";
import { GenerationConflictError, type Expected, type StateStore } from "../../runtime/state/state-store.js";
import { ManualClock } from "../../runtime/testkit/manual-clock.js";
import { settle } from "../helpers/conditions.js";
import { GatedStore } from "../helpers/gated-store.js";

const KEY = "entities/counter/a";

/** A writer over `store`, with a host that records what the writer tells its activation. */
function writerOn(store: StateStore, writeEveryMs = 0) {
  const clock = new ManualClock();
  const sent: string[] = [];
  const forgotten: Mail[] = [];
  const conflicts: { rejected: Batch; pending: Batch; error: GenerationConflictError }[] = [];
  let version = 0;
  const host: StateWriterHost = {
    clock,
    store,
    storeKey: KEY,
    writeEveryMs,
    handling: () => false,
    reminders: () => ({ token: "", claimBefore: () => undefined, claimUnused: () => {}, landed: () => {} }),
    snapshot: () => ({ state: Uint8Array.of(++version), applied: [], reminders: [], earliest: undefined }),
    forget: (mails) => forgotten.push(...mails),
    settled: () => {},
    conflict: (rejected, pending, error) => conflicts.push({ rejected, pending, error }),
  };
  const writer = new EntityStateWriter(host);
  /** As a handler does: its message joins the pending batch, with a reply held until the write lands. */
  const process = (name: string, changed = true): Mail => {
    const mail: Mail = { message: { name }, sender: undefined, headers: undefined };
    writer.pending.mail.push(mail);
    writer.pending.outputs.push(() => sent.push(name));
    if (changed) writer.markChanged();
    return mail;
  };
  return { writer, clock, sent, forgotten, conflicts, process };
}

/** Fails the next write without writing, or after writing: either way the writer cannot know which. */
class DoubtfulStore extends MemoryStore {
  failNext: "before" | "after" | undefined;

  override async write(key: string, bytes: Uint8Array, expected: Expected): Promise<string> {
    const fail = this.failNext;
    this.failNext = undefined;
    if (fail === "before") throw new Error("connection reset");
    const generation = await super.write(key, bytes, expected);
    if (fail === "after") throw new Error("timed out waiting for the response");
    return generation;
  }
}

describe("entity state writer (unit, memory store, manual clock)", () => {
  it("state writer: a batch's replies leave only once its write lands, and the next write names the generation the last one got", async () => {
    const store = new GatedStore(new MemoryStore());
    const { writer, sent, forgotten, conflicts, process } = writerOn(store);
    const first = process("a");
    store.hold();
    writer.maybeWrite();
    await settle();
    expect(writer.inFlight?.mail).to.deep.equal([first]);
    expect(sent).to.deep.equal([]);
    store.release();
    await settle();
    expect(sent).to.deep.equal(["a"]);
    expect(forgotten).to.deep.equal([first]);
    expect(writer.writes).to.equal(1);
    process("b");
    writer.maybeWrite();
    await settle();
    expect(conflicts).to.deep.equal([]);
    expect(writer.writes).to.equal(2);
    expect(sent).to.deep.equal(["a", "b"]);
    expect(writer.idle).to.equal(true);
  });

  it("state writer: what is processed while a write is in flight goes out together in the next write, at most one write per writeEveryMs", async () => {
    const store = new GatedStore(new MemoryStore());
    const { writer, clock, sent, process } = writerOn(store, 1_000);
    process("a");
    store.hold();
    writer.maybeWrite();
    process("b");
    process("c");
    writer.maybeWrite();
    expect(writer.held).to.equal(3);
    store.release();
    await settle();
    // The first write landed; the second waits for its turn.
    expect(store.writesAsked).to.equal(1);
    expect(sent).to.deep.equal(["a"]);
    clock.advance(999);
    await settle();
    expect(store.writesAsked).to.equal(1);
    clock.advance(1);
    await settle();
    expect(store.writesAsked).to.equal(2);
    expect(sent).to.deep.equal(["a", "b", "c"]);
    expect(writer.held).to.equal(0);
  });

  it("state writer: when another copy wrote first, the refused write and what is pending go to the activation, and nothing is sent", async () => {
    const store = new MemoryStore();
    const { writer, sent, conflicts, process } = writerOn(store);
    await store.write(KEY, Uint8Array.of(9), "absent");
    const refused = process("a");
    writer.maybeWrite();
    const later = process("b");
    await settle();
    expect(conflicts).to.have.length(1);
    expect(conflicts[0]!.error).to.be.instanceOf(GenerationConflictError);
    expect(conflicts[0]!.rejected.mail).to.deep.equal([refused]);
    expect(conflicts[0]!.pending.mail).to.deep.equal([later]);
    expect(sent).to.deep.equal([]);
    expect(writer.held).to.equal(0);
  });

  it("state writer: a write that failed after landing is found by a read, counts as landed, and the next write follows its generation", async () => {
    const store = new DoubtfulStore();
    const { writer, clock, sent, conflicts, process } = writerOn(store);
    store.failNext = "after";
    process("a");
    writer.maybeWrite();
    await settle();
    expect(writer.inFlight).to.not.equal(undefined);
    expect(sent).to.deep.equal([]);
    clock.advance(1_000);
    await settle();
    expect(sent).to.deep.equal(["a"]);
    expect(writer.writes).to.equal(1);
    process("b");
    writer.maybeWrite();
    await settle();
    expect(conflicts).to.deep.equal([]);
    expect(sent).to.deep.equal(["a", "b"]);
  });

  it("state writer: a write that failed before landing is found missing by a read and written again, its replies sent once", async () => {
    const store = new DoubtfulStore();
    const { writer, clock, sent, process } = writerOn(store);
    store.failNext = "before";
    process("a");
    writer.maybeWrite();
    await settle();
    expect(await store.read(KEY)).to.equal(undefined);
    clock.advance(1_000);
    await settle();
    await settle();
    expect(sent).to.deep.equal(["a"]);
    expect(writer.writes).to.equal(1);
    expect(await store.read(KEY)).to.not.equal(undefined);
  });

  it("state writer: with nothing changed, replies leave at once and nothing is written", async () => {
    const store = new GatedStore(new MemoryStore());
    const { writer, sent, forgotten, process } = writerOn(store);
    const mail = process("a", false);
    writer.maybeWrite();
    expect(sent).to.deep.equal(["a"]);
    expect(forgotten).to.deep.equal([mail]);
    expect(store.writesAsked).to.equal(0);
    expect(writer.idle).to.equal(true);
  });

  it("state writer: once stopped, a write that lands releases nothing and no retry is left on the clock", async () => {
    const store = new GatedStore(new DoubtfulStore());
    const { writer, clock, sent, process } = writerOn(store, 1_000);
    process("a");
    store.hold();
    writer.maybeWrite();
    writer.stop();
    store.release();
    await settle();
    expect(sent).to.deep.equal([]);
    expect(writer.writes).to.equal(0);
    expect(clock.pending).to.equal(0);
  });
});
