import { expect } from "chai";
import { ActorSystem, connectNats, defineWorker, openStateStore, runJob, startEmbeddedNats, type EmbeddedNats, type JobTask, type StateStore } from "../../runtime/index.js";
import { NatsKvCacheStore, RedisCacheStore, ResultCache, resultCacheKey, type CacheStore, type ResultCacheOptions } from "../../runtime/cache/index.js";
import { SumResult, SumTask, sumReducer } from "../fixtures/sum-job.js";
import { eventually, eventuallyAsync } from "../helpers/conditions.js";
import { natsServerFor } from "../helpers/nats.js";
import { redisServerFor, type RedisServer } from "../helpers/redis.js";
import { ManualClock } from "../../runtime/testkit/manual-clock.js";

const bytes = (text: string): Uint8Array => Buffer.from(text, "utf8");

/** One store under test: a fresh client to the same server each time, and the server's life. */
interface StoreUnderTest {
  readonly open: (options?: { clock?: ManualClock; maxAgeMs?: number }) => CacheStore;
  /** Stops the server; the store's clients then fail. */
  readonly stopServer: () => Promise<void>;
  readonly startServer: () => Promise<void>;
}

for (const which of ["nats-kv", "redis"] as const) {
  describe(`result cache on ${which} (integration, real server)`, function () {
    this.timeout(60_000);
    let nats: EmbeddedNats;
    let redis: RedisServer | undefined;
    let subject: StoreUnderTest;
    const opened: CacheStore[] = [];
    const open = (options?: { clock?: ManualClock; maxAgeMs?: number }): CacheStore => {
      const store = subject.open(options);
      opened.push(store);
      return store;
    };
    const cacheOn = (store: CacheStore, options: ResultCacheOptions = {}): ResultCache => new ResultCache(store, { log: () => undefined, ...options });
    let run = 0;
    const keyOf = (task: string): string => resultCacheKey({ kind: `test-${process.pid}-${run}`, version: 1, type: "t.Task", bytes: bytes(task) });

    before(async function () {
      nats = await natsServerFor(this);
      if (which === "redis") redis = await redisServerFor(this);
      subject =
        which === "redis"
          ? { open: () => new RedisCacheStore(redis!.url), stopServer: () => redis!.stop(), startServer: () => redis!.start() }
          : {
              open: (options) => new NatsKvCacheStore({ connection: { servers: nats.url }, bucket: options?.maxAgeMs ? "short-lived" : undefined, maxAgeMs: options?.maxAgeMs, clock: options?.clock }),
              stopServer: () => nats.stop(),
              startServer: async () => {
                nats = await startEmbeddedNats({ port: nats.port });
              },
            };
    });
    beforeEach(() => run++);
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });
    after(async () => {
      await nats?.stop();
      await redis?.stop();
    });

    it(`${which}: a stored result is a hit for another client of the same store, until its TTL has passed`, async () => {
      const clock = new ManualClock(Date.now());
      const writer = cacheOn(open({ clock }), { clock, ttlMs: 60_000 });
      const reader = cacheOn(open({ clock }), { clock });
      const compute = async (): Promise<Uint8Array> => bytes("forty-two");
      expect((await writer.getOrCompute(keyOf("a"), "t.Result", compute)).outcome).to.equal("miss");
      const hit = await reader.getOrCompute(keyOf("a"), "t.Result", compute);
      expect([hit.outcome, Buffer.from(hit.bytes).toString()]).to.deep.equal(["hit", "forty-two"]);
      clock.advance(60_000);
      expect((await reader.getOrCompute(keyOf("a"), "t.Result", compute)).outcome, "expired by its own TTL").to.equal("miss");
    });

    it(`${which}: the server itself drops an entry after its TTL`, async () => {
      // Redis expires each key (PX); a KV bucket drops keys older than its max age.
      const store = open({ maxAgeMs: 1_000 });
      const cache = cacheOn(store, { ttlMs: which === "redis" ? 300 : 60_000 });
      await cache.getOrCompute(keyOf("b"), "t.Result", async () => bytes("soon gone"));
      expect(await store.get(keyOf("b"))).to.not.equal(undefined);
      await eventuallyAsync("the server dropped the entry", async () => (await store.get(keyOf("b"))) === undefined, 10_000);
    });

    it(`${which}: a corrupt entry is a miss, counted, and is replaced by the computed result`, async () => {
      const store = open();
      await store.set(keyOf("c"), bytes("not an entry at all"), 60_000);
      const cache = cacheOn(store);
      const compute = async (): Promise<Uint8Array> => bytes("good");
      expect((await cache.getOrCompute(keyOf("c"), "t.Result", compute)).outcome).to.equal("miss");
      expect(cache.counters.corrupt).to.equal(1);
      expect((await cache.getOrCompute(keyOf("c"), "t.Result", compute)).outcome).to.equal("hit");
    });

    it(`${which}: a result over maxValueBytes is computed every time and never written to the server`, async () => {
      const store = open();
      const cache = cacheOn(store, { maxValueBytes: 1_000 });
      let computed = 0;
      const compute = async (): Promise<Uint8Array> => (computed++, new Uint8Array(1_001));
      for (let i = 0; i < 2; i++) expect((await cache.getOrCompute(keyOf("big"), "t.Result", compute)).outcome).to.equal("miss");
      expect([computed, cache.counters.tooLarge, await store.get(keyOf("big"))]).to.deep.equal([2, 2, undefined]);
    });

    it(`${which}: with the server down, work is computed without the cache and that is said once; once back, it is used again`, async () => {
      const lines: string[] = [];
      const cache = cacheOn(open(), { retryAfterMs: 200, opTimeoutMs: 1_000, log: (line) => lines.push(line) });
      const compute = async (): Promise<Uint8Array> => bytes("still computed");
      await cache.getOrCompute(keyOf("warm"), "t.Result", compute); // connected
      await subject.stopServer();
      try {
        const answers = await Promise.all(["d1", "d2", "d3"].map((t) => cache.getOrCompute(keyOf(t), "t.Result", compute)));
        expect(answers.map((a) => [a.outcome, Buffer.from(a.bytes).toString()])).to.deep.equal(Array(3).fill(["bypass", "still computed"]));
        expect(lines.filter((l) => /is unavailable/.test(l))).to.have.length(1);
        expect(cache.counters.errors).to.be.at.least(1);
      } finally {
        await subject.startServer();
      }
      await eventuallyAsync("the store is used again", async () => (await cache.getOrCompute(keyOf("e"), "t.Result", compute)).outcome !== "bypass", 20_000);
      expect(lines.at(-1)).to.match(/is available again$/);
    });

    it(`${which}: a request waiting on a holder that died computes itself once the holder's lease runs out`, async () => {
      const store = open();
      expect(await store.acquire(keyOf("f"), "a node that then died", 500)).to.equal(true);
      const cache = cacheOn(open());
      const started = Date.now();
      const answer = await cache.getOrCompute(keyOf("f"), "t.Result", async () => bytes("computed after all"));
      expect(answer.outcome).to.equal("miss");
      expect(Date.now() - started, "it waited for the lease").to.be.at.least(400);
    });

    it(`${which}: a lease whose grant never reached its holder's client (a timed-out acquire) is released by the holder, and the key is free at once`, async () => {
      // The grant was answered to one client and lost; the holder releases through another, which never saw it.
      expect(await open().acquire(keyOf("h"), "holder", 60_000)).to.equal(true);
      await open().release(keyOf("h"), "someone else");
      expect(await open().acquire(keyOf("h"), "another node", 60_000), "another holder's release leaves it").to.equal(false);
      await open().release(keyOf("h"), "holder");
      expect(await open().acquire(keyOf("h"), "another node", 60_000)).to.equal(true);
    });

    it(`${which}: a holder computing for longer than its lease keeps it by renewing, and the other node waits for its result`, async () => {
      const options = { leaseMs: 300 };
      const [first, second] = [cacheOn(open(), options), cacheOn(open(), options)];
      let computed = 0;
      const compute = async (): Promise<Uint8Array> => {
        computed++;
        await new Promise((resolve) => setTimeout(resolve, 1_000)); // three leases long
        return bytes("slow");
      };
      const holding = first.getOrCompute(keyOf("g"), "t.Result", compute);
      await eventually("the first client computes", () => computed === 1);
      const waiting = second.getOrCompute(keyOf("g"), "t.Result", compute);
      expect([(await holding).outcome, (await waiting).outcome]).to.deep.equal(["miss", "wait"]);
      expect(computed).to.equal(1);
    });

    it(`${which}: 100 identical tasks at once over two worker nodes are computed once (single flight across nodes)`, async () => {
      const nodes: ActorSystem[] = [];
      let state: StateStore | undefined;
      const caches = new Map<string, ResultCache>();
      let computations = 0;
      const worker = defineWorker({
        kind: `cached-square-${which}`,
        task: SumTask,
        result: SumResult,
        cache: { use: (ctx) => caches.get(ctx.nodeId), version: `${process.pid}-${run}` },
        run: async (task) => {
          computations++;
          await new Promise((resolve) => setTimeout(resolve, 300)); // a computation that takes a while
          return SumResult.create({ n: task.n, square: task.n * task.n });
        },
      });
      const node = async (nodeId: string, hosts: boolean): Promise<ActorSystem> => {
        const system = await ActorSystem.start({
          name: `cache-${which}-${run}`,
          nodeId,
          transport: await connectNats({ servers: nats.url }),
          kinds: hosts ? [worker] : [],
          types: [SumTask, SumResult],
          membership: { intervalMs: 50, failureTimeoutMs: 2_000 },
        });
        nodes.push(system);
        return system;
      };
      try {
        // Each node its own client of the store, as separate processes would have.
        for (const id of ["n1", "n2"]) caches.set(id, cacheOn(open()));
        const coordinator = await node("coordinator", false);
        await Promise.all(["n1", "n2"].map((id) => node(id, true)));
        await eventually("both worker nodes seen", () => coordinator.nodes().filter((n) => n.kinds.includes(worker.kind!)).length === 2);
        state = openStateStore("memory:");
        const reducer = coordinator.spawn(sumReducer, { name: "sum", props: { store: state, key: "jobs/cached", flushEveryMs: 20 } });
        const tasks = (): JobTask<SumTask>[] => Array.from({ length: 100 }, (_, i) => ({ id: `t${i + 1}`, payload: SumTask.create({ n: 7 }) }));
        const result = await runJob(coordinator, { id: "same-task", tasks, total: 100, taskType: SumTask, worker, reducer, workers: 100, maxInFlightPerWorker: 1 });
        expect(result).to.include({ done: 100, failed: 0 });
        expect(computations).to.equal(1);
        expect(result.cache).to.include({ misses: 1, bypassed: 0 });
        expect(result.cache!.hits + result.cache!.waits).to.equal(99);
        // Each node had requests: the one that did not compute was answered through the store.
        const [a, b] = ["n1", "n2"].map((id) => caches.get(id)!.counters);
        expect(a!.misses + b!.misses).to.equal(1);
        expect(Math.min(a!.hits + a!.waits, b!.hits + b!.waits)).to.be.at.least(1);
      } finally {
        for (const system of nodes.reverse()) await system.shutdown();
        await state?.close();
      }
    });
  });
}
