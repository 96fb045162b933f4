import { expect } from "chai";
import { encodeEntry } from "../../runtime/cache/cache-entry.js";
import { resultCacheKey } from "../../runtime/cache/cache-key.js";
import { MemoryCacheStore } from "../../runtime/cache/memory-cache-store.js";
import { InvalidCacheUrlError, openCacheStore } from "../../runtime/cache/open-result-cache.js";
import { ResultCache } from "../../runtime/cache/result-cache.js";
import type { CacheStore } from "../../runtime/cache/cache-store.js";
import { ManualClock } from "../../runtime/testkit/manual-clock.js";
import { eventually } from "../helpers/conditions.js";

const bytes = (text: string): Uint8Array => Buffer.from(text, "utf8");
const text = (value: Uint8Array): string => Buffer.from(value).toString("utf8");

describe("memory cache store (unit)", () => {
  it("memory store: keeps values within its byte budget, evicting the least recently used first", async () => {
    const store = new MemoryCacheStore({ maxBytes: 30 });
    await store.set("a", new Uint8Array(10), 60_000);
    await store.set("b", new Uint8Array(10), 60_000);
    await store.set("c", new Uint8Array(10), 60_000);
    expect(await store.get("a")).to.have.length(10); // a is now the most recently used
    await store.set("d", new Uint8Array(10), 60_000);
    expect(await store.get("b")).to.equal(undefined);
    expect(await store.get("a")).to.have.length(10);
    expect(store.bytes).to.equal(30);
    await store.set("big", new Uint8Array(31), 60_000);
    expect(await store.get("big"), "a value over the whole budget is not kept").to.equal(undefined);
    expect(store.size).to.equal(3);
  });

  it("memory store: drops an entry once its TTL has passed on the injected clock", async () => {
    const clock = new ManualClock(1_000);
    const store = new MemoryCacheStore({ clock });
    await store.set("k", bytes("v"), 500);
    clock.advance(499);
    expect(text((await store.get("k"))!)).to.equal("v");
    clock.advance(1);
    expect(await store.get("k")).to.equal(undefined);
    expect(store.bytes).to.equal(0);
  });

  it("memory store: a lease is held by one holder until released or run out", async () => {
    const clock = new ManualClock();
    const store = new MemoryCacheStore({ clock });
    expect(await store.acquire("k", "a", 100)).to.equal(true);
    expect(await store.acquire("k", "b", 100)).to.equal(false);
    expect(await store.renew("k", "b", 100)).to.equal(false);
    clock.advance(100);
    expect(await store.acquire("k", "b", 100), "a's lease ran out").to.equal(true);
    await store.release("k", "a");
    expect(await store.acquire("k", "c", 100), "a can no longer release b's lease").to.equal(false);
  });

  it("memory store: a lease that ran out and was never released is forgotten", async () => {
    const clock = new ManualClock();
    const store = new MemoryCacheStore({ clock });
    expect(await store.acquire("k1", "a", 100)).to.equal(true);
    expect(await store.acquire("k2", "b", 100)).to.equal(true);
    clock.advance(100);
    expect(await store.acquire("k3", "c", 100)).to.equal(true);
    expect(store.leaseCount, "k1 and k2 ran out").to.equal(1);
  });
});

describe("cache store URLs (unit)", () => {
  for (const [what, url, shown] of [
    ["a password holding '/' and '@'", "ftp://user:se/cr@et@host:21", "ftp://***@host:21"],
    ["no host", "nats-kv://user:secret@", "nats-kv://***@"],
    ["no scheme", "user:se/cret@host", "***@host"],
  ] as const) {
    it(`cache URL: a refused URL with ${what} is named without its credentials (${shown})`, () => {
      let error: unknown;
      try {
        openCacheStore(url);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).to.be.instanceOf(InvalidCacheUrlError);
      expect((error as Error).message).to.contain(JSON.stringify(shown)).and.not.match(/se\/?cr|secret/);
    });
  }
});

describe("result cache (unit)", () => {
  const key = resultCacheKey({ kind: "k", version: 1, type: "t.Task", bytes: bytes("task") });
  const silent = { log: () => undefined };

  it("key: differs by kind, version, type and bytes, and never confuses where one part ends", () => {
    const base = { kind: "kind", version: 1, type: "a.T", bytes: bytes("x") };
    const keys = [base, { ...base, kind: "kind2" }, { ...base, version: 2 }, { ...base, type: "a.U" }, { ...base, bytes: bytes("y") }, { ...base, kind: "kin", type: "da.T" }].map(resultCacheKey);
    expect(new Set(keys).size).to.equal(keys.length);
    expect(keys[0]).to.match(/^[0-9a-f]{64}$/);
  });

  it("result cache: a miss computes and stores, the next identical request is a hit that reports the time saved", async () => {
    const cache = new ResultCache(new MemoryCacheStore(), silent);
    let computed = 0;
    const compute = async (): Promise<Uint8Array> => {
      computed++;
      return bytes("result");
    };
    const first = await cache.getOrCompute(key, "t.Result", compute);
    const second = await cache.getOrCompute(key, "t.Result", compute);
    expect([first.outcome, second.outcome, computed]).to.deep.equal(["miss", "hit", 1]);
    expect(text(second.bytes)).to.equal("result");
    expect(second.savedMs).to.equal(Math.round(first.computeMs));
    expect(cache.counters).to.include({ hits: 1, misses: 1, waits: 0, bypassed: 0, corrupt: 0 });
  });

  it("single flight: identical requests at once on one node compute once, the others wait for it", async () => {
    const cache = new ResultCache(new MemoryCacheStore(), silent);
    let computed = 0;
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const compute = async (): Promise<Uint8Array> => {
      computed++;
      await gate;
      return bytes("once");
    };
    const answers = Array.from({ length: 20 }, () => cache.getOrCompute(key, "t.Result", compute));
    finish();
    const outcomes = (await Promise.all(answers)).map((a) => a.outcome);
    expect(computed).to.equal(1);
    expect(outcomes.filter((o) => o === "miss")).to.have.length(1);
    expect(outcomes.filter((o) => o === "wait")).to.have.length(19);
  });

  it("result cache: an entry past its TTL on the injected clock is computed again", async () => {
    const clock = new ManualClock(10_000);
    const cache = new ResultCache(new MemoryCacheStore({ clock }), { ...silent, clock, ttlMs: 1_000 });
    const compute = async (): Promise<Uint8Array> => bytes("r");
    expect((await cache.getOrCompute(key, "t.Result", compute)).outcome).to.equal("miss");
    clock.advance(999);
    expect((await cache.getOrCompute(key, "t.Result", compute)).outcome).to.equal("hit");
    clock.advance(1);
    expect((await cache.getOrCompute(key, "t.Result", compute)).outcome).to.equal("miss");
  });

  it("result cache: corrupt bytes, another result type or an undecodable result are misses, counted as corrupt", async () => {
    const store = new MemoryCacheStore();
    const cache = new ResultCache(store, silent);
    const compute = async (): Promise<Uint8Array> => bytes("fresh");
    await store.set(key, bytes("garbage that is no entry"), 60_000);
    expect((await cache.getOrCompute(key, "t.Result", compute)).outcome).to.equal("miss");
    const entry = encodeEntry({ expiresAtMs: Date.now() + 60_000, computeMs: 5, type: "t.Result", result: bytes("stored") });
    const flipped = Uint8Array.from(entry);
    flipped[flipped.length - 1]! ^= 1;
    await store.set(key, flipped, 60_000);
    expect((await cache.getOrCompute(key, "t.Result", compute)).outcome, "a flipped bit").to.equal("miss");
    await store.set(key, entry, 60_000);
    expect((await cache.getOrCompute(key, "t.Other", compute)).outcome, "another type").to.equal("miss");
    await store.set(key, entry, 60_000);
    const undecodable = (): void => {
      throw new Error("cannot decode");
    };
    expect((await cache.getOrCompute(key, "t.Result", compute, { validate: undecodable })).outcome).to.equal("miss");
    expect(cache.counters).to.include({ corrupt: 4, misses: 4, hits: 0 });
  });

  it("result cache: a result over maxValueBytes is computed every time and never stored", async () => {
    const cache = new ResultCache(new MemoryCacheStore(), { ...silent, maxValueBytes: 4 });
    const compute = async (): Promise<Uint8Array> => bytes("12345");
    await cache.getOrCompute(key, "t.Result", compute);
    expect((await cache.getOrCompute(key, "t.Result", compute)).outcome).to.equal("miss");
    expect(cache.counters.tooLarge).to.equal(2);
  });

  /** A memory store whose acquire or renew answers only when the test says. */
  const heldBack = (memory: MemoryCacheStore, calls: string[]): CacheStore & { answer: (() => void)[] } => {
    const answer: (() => void)[] = [];
    const later = <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      calls.push(name);
      return new Promise<void>((resolve) => answer.push(resolve)).then(fn);
    };
    return {
      answer,
      description: "held-back:",
      get: (k) => memory.get(k),
      set: (k, v, t) => memory.set(k, v, t),
      acquire: (k, h, l) => (calls.includes("acquire") ? memory.acquire(k, h, l) : later("acquire", () => memory.acquire(k, h, l))),
      renew: (k, h, l) => later("renew", () => memory.renew(k, h, l)),
      release: (k, h) => {
        calls.push("release");
        return memory.release(k, h);
      },
      close: () => memory.close(),
    };
  };

  it("lease: a renewal under way when the computation ends is waited for before the release, and none follows it", async () => {
    const clock = new ManualClock(0);
    const memory = new MemoryCacheStore({ clock });
    const calls: string[] = [];
    const store = heldBack(memory, calls);
    const cache = new ResultCache(store, { ...silent, clock, leaseMs: 300 });
    let computing = false;
    let finish!: () => void;
    const compute = async (): Promise<Uint8Array> => {
      computing = true;
      await new Promise<void>((resolve) => (finish = resolve));
      return bytes("r");
    };
    const answer = cache.getOrCompute(key, "t.Result", compute);
    await eventually("the acquire asked", () => store.answer.length === 1);
    store.answer.shift()!();
    await eventually("the computation started", () => computing);
    clock.advance(100);
    await eventually("a renewal asked", () => store.answer.length === 1);
    finish();
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls, "the release waits for the renewal under way").to.deep.equal(["acquire", "renew"]);
    store.answer.shift()!();
    expect((await answer).outcome).to.equal("miss");
    clock.advance(1_000);
    expect(calls, "no renewal after the computation").to.deep.equal(["acquire", "renew", "release"]);
    expect(memory.leaseCount).to.equal(0);
  });

  it("lease: an acquire that timed out but was granted later is given back", async () => {
    const clock = new ManualClock(0);
    const memory = new MemoryCacheStore({ clock });
    const calls: string[] = [];
    const store = heldBack(memory, calls);
    const cache = new ResultCache(store, { ...silent, clock, opTimeoutMs: 100 });
    const answer = cache.getOrCompute(key, "t.Result", async () => bytes("r"));
    await eventually("the acquire asked", () => store.answer.length === 1);
    clock.advance(100);
    expect((await answer).outcome).to.equal("bypass");
    store.answer.shift()!();
    await eventually("the late lease released", () => calls.includes("release"));
    expect(memory.leaseCount).to.equal(0);
    expect(await memory.acquire(key, "another node", 300), "the key is free at once").to.equal(true);
  });

  it("store down: requests are computed without it, it is said once, and it is used again once it answers", async () => {
    const clock = new ManualClock(0);
    let down = true;
    const memory = new MemoryCacheStore({ clock });
    const failing = <T>(fn: () => Promise<T>): Promise<T> => (down ? Promise.reject(new Error("connection refused")) : fn());
    const store: CacheStore = {
      description: "flaky:",
      get: (k) => failing(() => memory.get(k)),
      set: (k, v, t) => failing(() => memory.set(k, v, t)),
      acquire: (k, h, l) => failing(() => memory.acquire(k, h, l)),
      renew: (k, h, l) => failing(() => memory.renew(k, h, l)),
      release: (k, h) => failing(() => memory.release(k, h)),
      close: () => memory.close(),
    };
    const lines: string[] = [];
    const cache = new ResultCache(store, { clock, retryAfterMs: 1_000, log: (line) => lines.push(line) });
    const compute = async (): Promise<Uint8Array> => bytes("r");
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push((await cache.getOrCompute(key, "t.Result", compute)).outcome);
    expect(outcomes).to.deep.equal(["bypass", "bypass", "bypass"]);
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/^flaky: is unavailable \(connection refused\): computing without it/);
    expect(cache.counters, "tried once, then left alone for retryAfterMs").to.include({ errors: 1, bypassed: 3 });
    down = false;
    clock.advance(1_000);
    expect((await cache.getOrCompute(key, "t.Result", compute)).outcome).to.equal("miss");
    expect((await cache.getOrCompute(key, "t.Result", compute)).outcome).to.equal("hit");
    expect(lines[1]).to.equal("flaky: is available again");
  });
});
