// The image pipeline: a work supervisor splits a batch of photos into one task per image across the
// worker nodes, each worker finds the faces (with gender, age and a descriptor), and a reducer merges
// everything into state in a bucket: faces per image, counts by gender and identities matched across
// images. The run reads the state back from the store and checks it (see verify.ts).
import { resolve } from "node:path";
import { defineTopology, openStateStore, runJob, type StateStore, type TopologyRunContext } from "../../runtime/index.js";
import { troupe } from "../../proto/gen/troupe.js";
import { startEmbeddedGcs, type EmbeddedGcs } from "./embedded-gcs.js";
import { facesReducer, ImageFaces, ImageTask, PipelineState } from "./face-reducer.js";
import { faceDetector, faceThread } from "./face-worker.js";
import { findImages, IMAGES_ENV } from "./image-source.js";
import { cachedAnalysisMs, summaryTable, summaryTotals } from "./summary.js";
import { submissionsOf, verify } from "./verify.js";
import { findTool } from "../../runtime/nats/tool-paths.js";
import { requireFacePackages } from "./requirements.js";
import { CACHE_ENV, cacheUrl, openNodeCache, printableCacheUrl } from "./face-cache.js";

/** Every image is submitted this many times (default 1): each repeat must match its original. */
const REPEAT_ENV = "TROUPE_IMAGE_REPEAT";
/** `0`: on embedded defaults, keep state in the local directory even when fake-gcs-server is installed. */
const FAKE_GCS_ENV = "TROUPE_FAKE_GCS";
/** The bucket (and prefix) of the embedded fake-gcs-server. */
const EMBEDDED_BUCKET = "troupe-demo";
const EMBEDDED_PREFIX = "image-pipeline";

// Before anything starts: without them, loading this topology fails with what to install.
requireFacePackages();

export default defineTopology({
  name: "image-pipeline",
  description: "face detection, gender and age estimation and face matching over a batch of photos, state in a bucket",
  types: [ImageTask, ImageFaces, PipelineState],
  kinds: [faceDetector],

  worker(system) {
    // Warm up while the coordinator prepares the images; a failure here surfaces again on the first task.
    faceThread.warmUp().catch(() => undefined);
    openNodeCache(system);
  },

  async main(ctx) {
    const { system, workers, log, progress } = ctx;
    const repeat = Number(process.env[REPEAT_ENV] ?? "1");
    if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`${REPEAT_ENV} must be a whole number >= 1; got ${process.env[REPEAT_ENV]}`);
    const gcs = await embeddedGcs(ctx);
    // Also stop the emulator when the run is cut short (Ctrl-C stops the node while the job is running).
    void system.closed().then(() => gcs?.stop());
    const stateUrl = gcs ? `gs://${gcs.bucket}/${EMBEDDED_PREFIX}` : ctx.state;
    let store: StateStore | undefined;
    try {
      store = openStateStore(stateUrl, gcs ? { gcs: { apiEndpoint: gcs.endpoint } } : {});
      const images = await findImages(process.env[IMAGES_ENV], store, stateUrl, log);
      const submitted = submissionsOf(images.images, repeat, images.samples);
      log(`images: ${images.description}; ${submitted.length} tasks`);
      const cacheSetting = cacheUrl();
      const cache = cacheSetting && printableCacheUrl(cacheSetting);
      log(cache ? `result cache: ${cache} (face analyses by photo content; each worker node reports if it cannot use it)` : `result cache: none (--cache memory:, nats-kv: or redis://host:port; or ${CACHE_ENV})`);

      const key = `results/${system.name}`;
      const reducer = system.spawn(facesReducer, { name: "faces", props: { store, key } });
      const result = await runJob(system, {
        id: system.name,
        tasks: () => submitted.map((s) => ({ id: s.id, payload: s.task })),
        total: submitted.length,
        taskType: ImageTask,
        worker: faceDetector,
        reducer,
        workers: workers.length,
        // One image at a time per worker: tasks take about a second, so this balances the nodes best.
        maxInFlightPerWorker: 1,
        // A large photo on a busy core can take a while; a timeout would only compute it twice.
        taskTimeoutMs: 120_000,
        onProgress: progress,
      });
      await system.stop(reducer);

      // Read the state back from the store (a fresh reducer loads the last checkpoint) and check it.
      const reader = system.spawn(facesReducer, { name: "reader", props: { store, key } });
      const stored = PipelineState.decode((await reader.ask(troupe.work.ReducerStateRequest.create(), troupe.work.ReducerState)).state);
      await system.stop(reader);
      const { failures, repeatsMatched } = verify(stored, submitted, images.samples);
      for (const t of result.setAside) failures.push(`${t.taskId} failed ${t.attempts} times: ${t.errors.at(-1) ?? ""}`);
      for (const failure of failures.slice(0, 20)) log(`check failed: ${failure}`);

      const where = `${store.description} ${key}`;
      const summary = [...summaryTable(stored, submitted, result.cached), "", ...summaryTotals(stored, submitted, result.cached), `state: ${where}`];
      if (gcs) summary.push(`  (the embedded fake-gcs-server keeps its objects in ${gcs.directory})`);
      const facesPerImage = Object.fromEntries(submitted.map((s) => [s.id, stored.images[s.id]?.faces?.length ?? null]));
      const durations = Object.entries(stored.images).flatMap(([id, image]) => (result.cached[id] ? [] : [image.durationMs ?? 0]));
      return {
        tasks: result.done,
        state: where,
        verified: failures.length === 0,
        summary,
        details: {
          images: submitted.length,
          faces: Object.values(facesPerImage).reduce<number>((n, f) => n + (f ?? 0), 0),
          facesPerImage,
          facesByGender: stored.facesByGender,
          identities: stored.identities.length,
          repeatsMatched,
          msPerImage: Math.round(durations.reduce((a, b) => a + b, 0) / Math.max(1, durations.length)),
          imagesPerNode: countBy(Object.entries(stored.images).flatMap(([id, image]) => (result.cached[id] ? [] : [image.node ?? ""]))),
          retried: result.retried,
          ...(cache ? { cache: { store: cache, ...(result.cache ?? { hits: 0, misses: 0, waits: 0, bypassed: 0 }), savedMs: cachedAnalysisMs(stored, result.cached), cached: Object.keys(result.cached).sort() } } : {}),
          jobMs: result.durationMs,
          failures: failures.slice(0, 20),
        },
      };
    } finally {
      await store?.close();
      await gcs?.stop();
    }
  },
});

/**
 * On embedded defaults (no `--state`), a private fake-gcs-server when one is installed, so that images
 * and state live in a bucket; otherwise undefined, and the state stays in the local directory.
 */
async function embeddedGcs(ctx: TopologyRunContext): Promise<EmbeddedGcs | undefined> {
  if (!ctx.stateIsDefault || process.env[FAKE_GCS_ENV] === "0") return undefined;
  const binary = findTool("fake-gcs-server");
  if (!binary) {
    ctx.log(`fake-gcs-server is not installed (\`go install github.com/fsouza/fake-gcs-server@v1.55.1\`, then PATH or FAKE_GCS_SERVER_BIN): images and state go to the local directory ${ctx.state}`);
    return undefined;
  }
  try {
    const gcs = await startEmbeddedGcs(binary, resolve(".troupe", "fake-gcs"), EMBEDDED_BUCKET);
    ctx.log(`state: a private fake-gcs-server at ${gcs.endpoint}, bucket ${gcs.bucket} (objects kept in ${gcs.directory})`);
    return gcs;
  } catch (error) {
    ctx.log(`fake-gcs-server did not start (${(error as Error).message.split("\n")[0]}): images and state go to the local directory ${ctx.state}`);
    return undefined;
  }
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of [...values].sort()) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
