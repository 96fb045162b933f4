import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ImageFaces } from "../examples/image-pipeline/face-reducer.js";
import { FaceThread } from "../examples/image-pipeline/face-thread.js";
import { samplesDirectory } from "../examples/image-pipeline/image-source.js";
import { MemoryCacheStore, NatsKvCacheStore, RedisCacheStore, ResultCache, resultCacheKey, type CacheStore } from "../runtime/cache/index.js";
import { startEmbeddedNats } from "../runtime/index.js";
import { startRedisServer } from "../test/helpers/redis.js";
import { rotate, type Benchmark, type Figure } from "./benchmark.js";
import { median, nowMs } from "./stats.js";

/**
 * Issue 15: what a worker's cache hit costs on each store, against computing the image analysis of one
 * photo (sample1.jpg: decode and detect in the face thread, models loaded) in the same run. A hit is
 * what the face detector does for a photo seen before: the sha256 key of the photo's bytes, the store
 * lookup, the entry's checks and the result's decode (`getOrCompute` with `ImageFaces.decode`). Stores
 * on loopback servers started here (nats-server with JetStream, redis-server).
 */
export const resultCacheHit: Benchmark = {
  name: "cache-hit",
  async run(ctx) {
    const photo = await readFile(join(samplesDirectory(), "sample1.jpg"));
    const thread = new FaceThread();
    const nats = await startEmbeddedNats();
    const redis = await startRedisServer();
    const stores: Record<"memory" | "nats-kv" | "redis", CacheStore> = {
      memory: new MemoryCacheStore(),
      "nats-kv": new NatsKvCacheStore({ connection: { servers: nats.url }, bucket: "bench-cache" }),
      redis: new RedisCacheStore(redis.url),
    };
    try {
      await thread.warmUp();
      // The entry every hit reads: the real analysis of the photo.
      const analysed = await thread.detect(photo);
      const result = ImageFaces.encode(ImageFaces.create({ name: "sample1.jpg", width: analysed.width, height: analysed.height, faces: analysed.faces.map((f) => ({ ...f, descriptor: Array.from(f.descriptor) })) })).finish();
      const type = "troupe.examples.imagepipeline.ImageFaces";
      const keyOf = (): string => resultCacheKey({ kind: "image-pipeline.face-detector", version: 1, type: "troupe.examples.imagepipeline.ImageTask", bytes: photo });
      const caches = Object.fromEntries(Object.entries(stores).map(([name, store]) => [name, new ResultCache(store, { log: (line) => ctx.log(`  cache-hit: ${line}`) })])) as Record<keyof typeof stores, ResultCache>;
      for (const cache of Object.values(caches)) await cache.getOrCompute(keyOf(), type, async () => result);
      const hits = ctx.quick ? 100 : 500;
      const hitSide = (cache: ResultCache) => async (): Promise<number> => {
        const started = nowMs();
        for (let i = 0; i < hits; i++) {
          const answer = await cache.getOrCompute(keyOf(), type, () => Promise.reject(new Error("a miss in the hit benchmark")), { validate: (bytes) => ImageFaces.decode(bytes) });
          if (answer.outcome !== "hit") throw new Error(`expected a hit, got ${answer.outcome}`);
        }
        return (nowMs() - started) / hits;
      };
      const compute = async (): Promise<number> => {
        const started = nowMs();
        await thread.detect(photo);
        return nowMs() - started;
      };
      const runs = await rotate(ctx, "cache-hit", { baseline: compute, memory: hitSide(caches.memory), "nats-kv": hitSide(caches["nats-kv"]), redis: hitSide(caches.redis) }, { show: (ms) => `${ms.toFixed(3)} ms` });
      const figure = (name: keyof typeof stores): Figure => ({
        name: `cache-hit-${name}`,
        value: median(runs[name]),
        unit: "ms",
        baseline: "computing the image analysis of sample1.jpg (decode + detect, models loaded)",
        baselineValue: median(runs.baseline),
        target: { op: "record" },
      });
      return [figure("memory"), figure("nats-kv"), figure("redis")];
    } finally {
      await Promise.all(Object.values(stores).map((s) => s.close()));
      await thread.close();
      await nats.stop();
      await redis.stop();
    }
  },
};
