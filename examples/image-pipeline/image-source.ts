/**
 * Where the pipeline's images come from, as a list of tasks that name them:
 *
 * - by default, the six sample photos shipped in `@vladmandic/face-api`, kept in the state store under
 *   `images/` and uploaded there first when missing (a bucket, with `--state gs://...`);
 * - `TROUPE_IMAGES=gs://bucket/prefix`: every `.jpg`/`.jpeg` object under that prefix, read in place;
 * - `TROUPE_IMAGES=/some/dir` (or `file:///some/dir`): every `.jpg`/`.jpeg` file in that folder, read
 *   by the workers from disk (so they must run on the machine that has it).
 */
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GenerationConflictError, MemoryStore, openStateStore, type StateStore } from "../../runtime/index.js";
import { ImageTask } from "./face-reducer.js";
import { GcsStore } from "../../runtime/gcs/index.js";

export const IMAGES_ENV = "TROUPE_IMAGES";

const JPEG = /\.jpe?g$/i;
const SAMPLE_NAMES = ["sample1.jpg", "sample2.jpg", "sample3.jpg", "sample4.jpg", "sample5.jpg", "sample6.jpg"];

export interface ImageSet {
  /** Where the images are, for people. */
  readonly description: string;
  /** True for face-api's sample photos, whose expected results are known. */
  readonly samples: boolean;
  /** One task payload per image, sorted by name. */
  readonly images: readonly ImageTask[];
}

/** The folder of face-api's sample photos inside `node_modules`. */
export function samplesDirectory(): string {
  return join(dirname(createRequire(import.meta.url).resolve("@vladmandic/face-api/package.json")), "demo");
}

/**
 * The images `setting` (the value of `TROUPE_IMAGES`) names, or the samples in `store` (opened from
 * `storeUrl`) when it is empty.
 */
export async function findImages(setting: string | undefined, store: StateStore, storeUrl: string, log: (line: string) => void): Promise<ImageSet> {
  const value = setting?.trim() ?? "";
  if (value === "") return sampleImages(store, storeUrl, log);
  if (value.startsWith("gs://")) return bucketImages(value);
  if (value.startsWith("file:") || isAbsolute(value) || !/^[a-z][a-z0-9+.-]*:/i.test(value)) {
    return folderImages(value.startsWith("file:") ? fileURLToPath(value) : resolve(value));
  }
  throw new Error(`${IMAGES_ENV}=${value}: expected gs://bucket/prefix, a folder path or a file:// URL`);
}

async function sampleImages(store: StateStore, storeUrl: string, log: (line: string) => void): Promise<ImageSet> {
  const folder = samplesDirectory();
  if (store instanceof MemoryStore) {
    // Worker nodes cannot see this process's memory: they read the photos from their own node_modules.
    const images = SAMPLE_NAMES.map((name) => ImageTask.create({ name, path: join(folder, name) }));
    return { description: `the sample photos of @vladmandic/face-api, from ${folder}`, samples: true, images };
  }
  const present = new Set(await store.list("images/"));
  const missing = SAMPLE_NAMES.filter((name) => !present.has(`images/${name}`));
  for (const name of missing) {
    try {
      await store.write(`images/${name}`, await readFile(join(folder, name)), "absent");
    } catch (error) {
      if (!(error instanceof GenerationConflictError)) throw error; // another run uploaded it first
    }
  }
  if (missing.length > 0) log(`uploaded ${missing.length} sample photo${missing.length === 1 ? "" : "s"} of @vladmandic/face-api to ${store.description} images/`);
  const endpoint = store instanceof GcsStore ? (store.endpoint ?? "") : "";
  const images = SAMPLE_NAMES.map((name) => ImageTask.create({ name, ref: { store: storeUrl, endpoint, key: `images/${name}` } }));
  return { description: `the sample photos of @vladmandic/face-api in ${store.description} images/`, samples: true, images };
}

async function bucketImages(url: string): Promise<ImageSet> {
  const store = openStateStore(url);
  try {
    const keys = (await store.list()).filter((key) => JPEG.test(key));
    if (keys.length === 0) throw new Error(`${IMAGES_ENV}: no .jpg or .jpeg objects under ${store.description}`);
    const endpoint = store instanceof GcsStore ? (store.endpoint ?? "") : "";
    const images = keys.map((key) => ImageTask.create({ name: key, ref: { store: url, endpoint, key } }));
    return { description: `${keys.length} images in ${store.description}`, samples: false, images };
  } finally {
    await store.close();
  }
}

async function folderImages(folder: string): Promise<ImageSet> {
  const entries = await readdir(folder, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`${IMAGES_ENV}: cannot read the folder ${folder}: ${error.code ?? error.message}`);
  });
  const names = entries.filter((e) => e.isFile() && JPEG.test(e.name)).map((e) => e.name).sort();
  if (names.length === 0) throw new Error(`${IMAGES_ENV}: no .jpg or .jpeg files in ${folder}`);
  const images = names.map((name) => ImageTask.create({ name, path: join(folder, name) }));
  return { description: `${names.length} images in the folder ${folder} (read by the workers from this machine's disk)`, samples: false, images };
}
