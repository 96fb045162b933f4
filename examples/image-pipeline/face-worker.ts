import { readFile } from "node:fs/promises";
import { defineWorker, openStateStore, type StateStore } from "../../runtime/index.js";
import { ImageFaces, ImageTask } from "./face-reducer.js";
import { FaceThread } from "./face-thread.js";
import { FACE_ANALYSIS_VERSION, nodeCache } from "./face-cache.js";

/** This node's face analysis thread: one per process, started on first use. */
export const faceThread = new FaceThread();

/** Photos read for a task's cache key, kept for its computation (the same decoded task object). */
const photos = new WeakMap<ImageTask, Uint8Array>();

/**
 * Map: reads one image (from a bucket or the worker's disk), finds its faces and estimates each one's
 * gender, age and descriptor, in the node's face thread. The models load once per worker node, on the
 * first task (or earlier, when the topology warms them up). With a cache (`--cache URL`), a photo whose
 * bytes were analysed before, under any name, is answered from it.
 */
export const faceDetector = defineWorker({
  kind: "image-pipeline.face-detector",
  task: ImageTask,
  result: ImageFaces,
  cache: {
    use: (ctx) => nodeCache(ctx.nodeId),
    version: FACE_ANALYSIS_VERSION,
    // The photo's content, not the task (which names where it is): the same photo elsewhere is a hit,
    // and a photo replaced under the same name is not.
    key: async (task) => {
      const bytes = await readImage(task);
      photos.set(task, bytes);
      return bytes;
    },
  },
  run: async (task, ctx) => {
    const bytes = photos.get(task) ?? (await readImage(task));
    await faceThread.warmUp();
    const started = performance.now();
    const { width, height, faces } = await faceThread.detect(bytes);
    return ImageFaces.create({
      name: task.name,
      width,
      height,
      faces: faces.map((f) => ({ box: f.box, score: f.score, gender: f.gender, genderProbability: f.genderProbability, age: f.age, descriptor: Array.from(f.descriptor) })),
      node: ctx.nodeId,
      durationMs: Math.round(performance.now() - started),
    });
  },
});

/** Stores this worker node has opened, by URL and endpoint: one client each, for the node's lifetime. */
const stores = new Map<string, StateStore>();

async function readImage(task: ImageTask): Promise<Uint8Array> {
  if (task.source === "path" && task.path) return readFile(task.path);
  if (task.source !== "ref" || !task.ref?.store || !task.ref.key) throw new Error(`task ${task.name} names no image`);
  const { store: url, endpoint, key } = task.ref;
  const cacheKey = `${url} ${endpoint ?? ""}`;
  let store = stores.get(cacheKey);
  if (!store) {
    store = openStateStore(url, endpoint ? { gcs: { apiEndpoint: endpoint } } : {});
    stores.set(cacheKey, store);
  }
  const object = await store.read(key);
  if (!object) throw new Error(`${key} is not in ${store.description}`);
  return object.bytes;
}
