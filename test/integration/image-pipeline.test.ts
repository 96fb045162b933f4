import { expect } from "chai";
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { GcsStore } from "../../runtime/gcs/index.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { mergeImage, PipelineState, type ImageFaces } from "../../examples/image-pipeline/face-reducer.js";
import { samplesDirectory } from "../../examples/image-pipeline/image-source.js";
import { SAMPLE_FACES } from "../../examples/image-pipeline/verify.js";
import { fakeGcsFor, type FakeGcs } from "../helpers/fake-gcs.js";
import { natsServerFor } from "../helpers/nats.js";

const run = promisify(execFile);

/** Runs `troupe run image-pipeline` and returns its `--json` summary. */
async function runPipeline(args: string[], env: Record<string, string>): Promise<Record<string, any>> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of ["TROUPE_IMAGES", "TROUPE_IMAGE_REPEAT", "TROUPE_FAKE_GCS", "TROUPE_CACHE", "STORAGE_EMULATOR_HOST"]) if (!(name in env)) delete childEnv[name];
  const { stdout } = await run(process.execPath, [`${PROJECT_ROOT}/bin/troupe.mjs`, "run", "image-pipeline", "--nodes", "2", ...args, "--json"], {
    cwd: PROJECT_ROOT,
    env: childEnv,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, any>;
}

describe("image pipeline (integration)", function () {
  // Six photos take about a second each on one core; two worker nodes share the work.
  this.timeout(300_000);
  let gcs: FakeGcs | undefined;

  before(async function () {
    await (await natsServerFor(this)).stop(); // the runs start their own private server
    gcs = await fakeGcsFor(this);
  });

  after(async () => {
    await gcs?.stop();
  });

  it("image-pipeline: on a bucket, uploads the sample photos, finds the faces in each and matches a photo submitted twice to itself", async () => {
    const summary = await runPipeline(["--state", `gs://${gcs!.bucket}/pipeline`], { STORAGE_EMULATOR_HOST: gcs!.endpoint });
    expect(summary, JSON.stringify(summary.failures)).to.include({ ok: true, example: "image-pipeline", nodes: 2, tasks: 7, verified: true, repeatsMatched: true });
    // What face-api gives on its sample photos: every face, all estimated female; the first photo twice.
    expect(summary.facesPerImage).to.deep.equal({ ...SAMPLE_FACES, "sample1.jpg#2": 3 });
    expect(summary.facesByGender).to.deep.equal({ female: 25 });
    // The repeat adds no identity: at most one per face of the six photos.
    expect(summary.identities).to.be.within(1, 22);
    expect(Object.keys(summary.imagesPerNode as object).sort()).to.deep.equal(["worker-1", "worker-2"]);
    expect(summary.state).to.match(new RegExp(`^gs://${gcs!.bucket}/pipeline .*results/image-pipeline-`));

    const bucket = new GcsStore(gcs!.bucket, "pipeline", { apiEndpoint: gcs!.endpoint });
    expect(await bucket.list("images/")).to.deep.equal(Object.keys(SAMPLE_FACES).map((name) => `images/${name}`));
    expect(await bucket.list("results/")).to.have.length(1);
  });

  it("image-pipeline: reads photos from a local folder, each submitted twice, with state in a local directory", async () => {
    const images = mkdtempSync(join(tmpdir(), "troupe-images-"));
    const state = mkdtempSync(join(tmpdir(), "troupe-state-"));
    try {
      copyFileSync(join(samplesDirectory(), "sample2.jpg"), join(images, "b.jpg"));
      copyFileSync(join(samplesDirectory(), "sample5.jpg"), join(images, "a.jpeg"));
      const summary = await runPipeline(["--state", pathToFileURL(state).href], { TROUPE_IMAGES: images, TROUPE_IMAGE_REPEAT: "2" });
      expect(summary, JSON.stringify(summary.failures)).to.include({ ok: true, tasks: 4, verified: true, repeatsMatched: true });
      expect(summary.facesPerImage).to.deep.equal({ "a.jpeg": 5, "b.jpg": 3, "a.jpeg#2": 5, "b.jpg#2": 3 });
    } finally {
      rmSync(images, { recursive: true, force: true });
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("image-pipeline --cache nats-kv: a photo seen again, under another name or as a repeat, is answered from the cache and computed once", async () => {
    const images = mkdtempSync(join(tmpdir(), "troupe-images-"));
    const state = mkdtempSync(join(tmpdir(), "troupe-state-"));
    try {
      // Two names, the same bytes, each submitted twice: four tasks, one analysis.
      copyFileSync(join(samplesDirectory(), "sample2.jpg"), join(images, "b.jpg"));
      copyFileSync(join(samplesDirectory(), "sample2.jpg"), join(images, "c.jpg"));
      const summary = await runPipeline(["--state", pathToFileURL(state).href, "--cache", "nats-kv:"], { TROUPE_IMAGES: images, TROUPE_IMAGE_REPEAT: "2" });
      expect(summary, JSON.stringify(summary.failures)).to.include({ ok: true, tasks: 4, verified: true, repeatsMatched: true });
      expect(summary.facesPerImage).to.deep.equal({ "b.jpg": 3, "c.jpg": 3, "b.jpg#2": 3, "c.jpg#2": 3 });
      expect(summary.cache).to.include({ store: "nats-kv:", misses: 1, bypassed: 0 });
      expect(summary.cache.hits + summary.cache.waits).to.equal(3);
      expect(summary.cache.cached).to.have.length(3);
      expect(summary.cache.savedMs).to.be.above(0);
      // Only the one analysis counts as an image computed on a node.
      expect(Object.values(summary.imagesPerNode as Record<string, number>).reduce((a, b) => a + b, 0)).to.equal(1);
    } finally {
      rmSync(images, { recursive: true, force: true });
      rmSync(state, { recursive: true, force: true });
    }
  });
});

describe("image pipeline: identities", () => {
  /** A deterministic pseudo-random source, so the test is the same every run. */
  function random(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), a | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
  }

  /** Eight images of up to four of six people; faces of one person lie within 0.4 of each other, people 1+ apart. */
  function syntheticImages(): Map<string, ImageFaces> {
    const next = random(7);
    const people = Array.from({ length: 6 }, (_, p) => Array.from({ length: 128 }, (_, i) => (i % 6 === p ? 0.5 : 0) + (next() - 0.5) * 0.02));
    const images = new Map<string, ImageFaces>();
    for (let n = 0; n < 8; n++) {
      const present = people.map((_, p) => p).filter(() => next() < 0.6);
      const faces = present.map((p) => ({ gender: p % 2 ? "male" : "female", descriptor: people[p]!.map((v) => Math.fround(v + (next() - 0.5) * 0.03)) }));
      images.set(`photo-${n}.jpg`, { name: `photo-${n}.jpg`, faces });
    }
    return images;
  }

  function mergeAll(images: Map<string, ImageFaces>, order: string[]): PipelineState {
    let state = PipelineState.create({ images: {}, facesByGender: {}, links: [], identities: [] });
    for (const id of order) state = mergeImage(state, images.get(id)!, id);
    return state;
  }

  it("identities: merging the same images in any order gives the same identities, one per person, never two faces of one image", () => {
    const images = syntheticImages();
    const ids = [...images.keys()];
    const next = random(11);
    const reference = mergeAll(images, ids);
    for (let round = 0; round < 5; round++) {
      const shuffled = [...ids].sort(() => next() - 0.5);
      const state = mergeAll(images, shuffled);
      expect(JSON.stringify(state.identities)).to.equal(JSON.stringify(reference.identities));
      expect(state.facesByGender).to.deep.equal(reference.facesByGender);
    }
    const people = new Set([...images.values()].flatMap((image) => (image.faces ?? []).map((f) => f.gender! + String(f.descriptor!.findIndex((v) => v > 0.25)))));
    expect(reference.identities).to.have.length(people.size);
    for (const identity of reference.identities) {
      const imagesOf = (identity.faces ?? []).map((f) => f.image);
      expect(new Set(imagesOf).size, identity.id ?? "").to.equal(imagesOf.length);
    }
  });
});
