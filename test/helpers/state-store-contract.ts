import { expect } from "chai";
import { GenerationConflictError, InvalidKeyError, type StateStore } from "../../runtime/state/state-store.js";
import { updateObject } from "../../runtime/state/update.js";

/** Opens a fresh, empty store for one test; the contract closes it. */
export type StoreFactory = () => Promise<StateStore> | StateStore;

/** Bytes of a string, and back: store contents in the tests are short texts. */
export const text = (value: string): Uint8Array => new TextEncoder().encode(value);
export const decode = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the promise to reject, but it resolved");
}

/**
 * The behaviour every `StateStore` shares, as one suite: `describe(name)` run against stores from
 * `open`. Each adapter's test file calls it once.
 */
export function stateStoreContract(name: string, open: StoreFactory): void {
  describe(`${name}: the StateStore contract`, function () {
    let store: StateStore;
    beforeEach(async function () {
      store = await open();
    });
    afterEach(async function () {
      await store?.close();
    });

    it(`${name}: reading a key that was never written gives undefined`, async function () {
      expect(await store.read("nothing/here")).to.equal(undefined);
    });

    it(`${name}: create-if-absent succeeds once; a second create conflicts and changes nothing`, async function () {
      const generation = await store.write("counter", text("one"), "absent");
      expect(generation).to.match(/^[1-9][0-9]*$/);
      const error = await rejection(store.write("counter", text("two"), "absent"));
      expect(error).to.be.instanceOf(GenerationConflictError);
      expect((error as GenerationConflictError).key).to.equal("counter");
      expect((error as GenerationConflictError).expected).to.equal("absent");
      expect(error.message).to.contain('"counter"').and.to.contain("expected no object");
      const current = await store.read("counter");
      expect(decode(current?.bytes)).to.equal("one");
      expect(current?.generation).to.equal(generation);
    });

    it(`${name}: a write with the current generation replaces the object; a stale generation conflicts`, async function () {
      const first = await store.write("doc", text("v1"), "absent");
      const second = await store.write("doc", text("v2"), { generation: first });
      expect(second).to.not.equal(first);
      const error = await rejection(store.write("doc", text("v3"), { generation: first }));
      expect(error).to.be.instanceOf(GenerationConflictError);
      expect((error as GenerationConflictError).expected).to.deep.equal({ generation: first });
      expect(error.message).to.contain(`expected generation ${first}`);
      const current = await store.read("doc");
      expect(decode(current?.bytes)).to.equal("v2");
      expect(current?.generation).to.equal(second);
    });

    it(`${name}: read returns the latest bytes and generation after many writes`, async function () {
      let generation = await store.write("log", text("0"), "absent");
      const seen = new Set([generation]);
      for (let i = 1; i <= 5; i++) {
        generation = await store.write("log", text(String(i)), { generation });
        seen.add(generation);
      }
      expect(seen.size, "every write gives a new generation").to.equal(6);
      const current = await store.read("log");
      expect(decode(current?.bytes)).to.equal("5");
      expect(current?.generation).to.equal(generation);
    });

    it(`${name}: a write expecting a generation of a missing object conflicts`, async function () {
      const error = await rejection(store.write("missing", text("x"), { generation: "1" }));
      expect(error).to.be.instanceOf(GenerationConflictError);
      expect(await store.read("missing")).to.equal(undefined);
    });

    it(`${name}: empty and binary objects round-trip byte for byte`, async function () {
      await store.write("empty", new Uint8Array(0), "absent");
      expect((await store.read("empty"))?.bytes).to.deep.equal(new Uint8Array(0));
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      await store.write("binary", all, "absent");
      expect((await store.read("binary"))?.bytes).to.deep.equal(all);
    });

    it(`${name}: stored bytes do not change when the caller's buffers do`, async function () {
      const bytes = text("abc");
      await store.write("copy", bytes, "absent");
      bytes[0] = 0x7a;
      const read = await store.read("copy");
      read!.bytes[1] = 0x7a;
      expect(decode((await store.read("copy"))?.bytes)).to.equal("abc");
    });

    it(`${name}: list gives the keys under a prefix, sorted, and only existing objects`, async function () {
      for (const key of ["shards/b", "shards/a", "shards/c/deep", "other", "shardsx"]) await store.write(key, text(key), "absent");
      expect(await store.list("shards/")).to.deep.equal(["shards/a", "shards/b", "shards/c/deep"]);
      expect(await store.list("shards")).to.deep.equal(["shards/a", "shards/b", "shards/c/deep", "shardsx"]);
      expect(await store.list()).to.deep.equal(["other", "shards/a", "shards/b", "shards/c/deep", "shardsx"]);
      expect(await store.list("none/")).to.deep.equal([]);
    });

    it(`${name}: malformed keys are rejected with an InvalidKeyError that says why`, async function () {
      const cases: [string, RegExp][] = [
        ["", /empty/],
        ["..", /'\.\.' segment/],
        ["a/../b", /'\.\.' segment/],
        ["./a", /'\.' segment/],
        ["/abs", /starts with '\/'/],
        ["dir/", /ends with '\/'/],
        ["a//b", /empty segment/],
        ["tab\there", /control character/],
        ["nul\u0000", /control character/],
        ["x".repeat(1025), /longer than 1024 bytes/],
      ];
      for (const [key, reason] of cases) {
        for (const attempt of [() => store.read(key), () => store.write(key, text("x"), "absent")]) {
          const error = await rejection(attempt());
          expect(error, JSON.stringify(key)).to.be.instanceOf(InvalidKeyError);
          expect(error.message, JSON.stringify(key)).to.match(reason);
        }
      }
      expect(await store.list()).to.deep.equal([]);
    });

    it(`${name}: a malformed expected generation is a TypeError, not a conflict`, async function () {
      for (const expected of [{ generation: "" }, { generation: "01" }, { generation: "-1" }, { generation: "abc" }]) {
        expect(await rejection(store.write("k", text("x"), expected))).to.be.instanceOf(TypeError);
      }
    });

    it(`${name}: of ten concurrent creates of one key, exactly one wins`, async function () {
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.write("race/create", text(String(i)), "absent")));
      const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
      expect(won).to.have.length(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).to.be.instanceOf(GenerationConflictError);
      expect(decode((await store.read("race/create"))?.bytes)).to.equal(String(won[0]));
    });

    it(`${name}: of ten concurrent writes expecting one generation, exactly one wins`, async function () {
      const base = await store.write("race/replace", text("base"), "absent");
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.write("race/replace", text(String(i)), { generation: base })));
      const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
      expect(won).to.have.length(1);
      const current = await store.read("race/replace");
      expect(decode(current?.bytes)).to.equal(String(won[0]));
      expect(current?.generation).to.equal((results[won[0]!] as PromiseFulfilledResult<string>).value);
    });

    it(`${name}: two writers racing with updateObject both land all their increments`, async function () {
      const increments = 50;
      const writer = async (id: "a" | "b"): Promise<number> => {
        let attempts = 0;
        for (let i = 0; i < increments; i++) {
          const result = await updateObject(
            store,
            "race/counter",
            (current) => {
              const counts = current ? (JSON.parse(decode(current)!) as Record<string, number>) : {};
              counts[id] = (counts[id] ?? 0) + 1;
              return text(JSON.stringify(counts));
            },
            { maxAttempts: 2 * increments + 2 },
          );
          attempts += result.attempts;
        }
        return attempts;
      };
      const [a, b] = await Promise.all([writer("a"), writer("b")]);
      expect(JSON.parse(decode((await store.read("race/counter"))?.bytes)!)).to.deep.equal({ a: increments, b: increments });
      // Not asserted, since scheduling decides it; printed so a run shows the race was real.
      if (process.env.TROUPE_TEST_VERBOSE) console.log(`    ${name}: ${a + b - 2 * increments} conflicts in ${2 * increments} updates`);
    });
  });
}
