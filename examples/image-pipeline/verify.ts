/**
 * What the pipeline should have found, computed without actors, workers or the store, and the
 * comparison with the state read back from the store.
 */
import { descriptorsOf, identitiesOf, type ImageFaces, type ImageTask, type PipelineState } from "./face-reducer.js";
import { allLinks } from "./identities.js";

/**
 * Faces that face-api (SSD MobileNet v1, confidence >= 0.5) finds in each of its sample photos, checked by
 * eye: all of them, and nothing else. The weakest detection scores 0.61 and no other candidate reaches
 * 0.2, so these counts do not hinge on rounding.
 */
export const SAMPLE_FACES: Readonly<Record<string, number>> = {
  "sample1.jpg": 3,
  "sample2.jpg": 3,
  "sample3.jpg": 3,
  "sample4.jpg": 4,
  "sample5.jpg": 5,
  "sample6.jpg": 4,
};

/** One task of the job: its id (the key in the state), its payload and, for a repeat, the original's id. */
export interface Submission {
  readonly id: string;
  readonly task: ImageTask;
  readonly copyOf?: string;
}

/** Every image once, then (`repeat` >= 2) every image again as `name#2`, `name#3`, ...; or just `first#2`. */
export function submissionsOf(images: readonly ImageTask[], repeat: number, copyFirst: boolean): Submission[] {
  const originals = images.map((task) => ({ id: task.name, task }));
  const copies: Submission[] = [];
  for (let k = 2; k <= repeat; k++) for (const o of originals) copies.push({ id: `${o.id}#${k}`, task: o.task, copyOf: o.id });
  if (repeat < 2 && copyFirst && originals[0]) copies.push({ id: `${originals[0].id}#2`, task: originals[0].task, copyOf: originals[0].id });
  return [...originals, ...copies];
}

export interface Verification {
  /** What went wrong: empty when the stored state is what was expected. */
  readonly failures: string[];
  /** Whether every repeated photo matched its original, face for face; null when nothing was repeated. */
  readonly repeatsMatched: boolean | null;
}

export function verify(state: PipelineState, submitted: readonly Submission[], samples: boolean): Verification {
  const failures: string[] = [];
  const images = state.images;
  const ids = new Set(submitted.map((s) => s.id));
  const missing = [...ids].filter((id) => images[id] === undefined);
  const extra = Object.keys(images).filter((id) => !ids.has(id));
  if (missing.length > 0) failures.push(`not in the state: ${missing.join(", ")}`);
  if (extra.length > 0) failures.push(`in the state but never submitted: ${extra.join(", ")}`);

  if (samples) {
    for (const s of submitted) {
      const expected = SAMPLE_FACES[s.task.name];
      const found = images[s.id]?.faces?.length;
      if (found !== undefined && found !== expected) failures.push(`${s.id}: ${found} faces, expected ${expected ?? "(not a sample photo)"}`);
    }
  }

  const genders: Record<string, number> = {};
  for (const image of Object.values(images)) for (const face of image.faces ?? []) genders[face.gender || "unknown"] = (genders[face.gender || "unknown"] ?? 0) + 1;
  if (!sameCounts(genders, state.facesByGender)) failures.push(`faces by gender ${JSON.stringify(state.facesByGender)}, recounted ${JSON.stringify(genders)}`);

  // The identities the reducer built up merge by merge, against those computed afresh from the descriptors.
  const stored = identityKeys(state.identities);
  const recomputed = identityKeys(identitiesOf(images, allLinks(descriptorsOf(images))));
  if (JSON.stringify(stored) !== JSON.stringify(recomputed)) failures.push("the stored identities differ from those recomputed from the stored descriptors");

  // A photo submitted again is the same people: each face joins its original's identity, and no new identity appears.
  const identityOf = faceIdentities(state);
  const before = failures.length;
  for (const s of submitted) {
    if (s.copyOf === undefined || images[s.id] === undefined || images[s.copyOf] === undefined) continue;
    const faces = images[s.id]!.faces?.length ?? 0;
    if (faces !== (images[s.copyOf]!.faces?.length ?? 0)) failures.push(`${s.id}: ${faces} faces, but ${s.copyOf} has ${images[s.copyOf]!.faces?.length ?? 0}`);
    for (let i = 0; i < faces; i++) {
      const mine = identityOf.get(`${i}:${s.id}`);
      const theirs = identityOf.get(`${i}:${s.copyOf}`);
      if (mine === undefined || mine !== theirs) failures.push(`${s.id} face ${i + 1} is ${mine ?? "no one"}, but the same face in ${s.copyOf} is ${theirs ?? "no one"}`);
    }
  }
  const originals: Record<string, ImageFaces> = {};
  for (const s of submitted) if (s.copyOf === undefined && images[s.id]) originals[s.id] = images[s.id]!;
  const withoutCopies = identitiesOf(originals, allLinks(descriptorsOf(originals))).length;
  if (state.identities.length !== withoutCopies) failures.push(`${state.identities.length} identities, but ${withoutCopies} without the repeated photos`);
  const repeated = submitted.some((s) => s.copyOf !== undefined);
  return { failures, repeatsMatched: repeated ? failures.length === before : null };
}

/** Face (`index:image`) to identity id. */
export function faceIdentities(state: PipelineState): Map<string, string> {
  const map = new Map<string, string>();
  for (const identity of state.identities) for (const face of identity.faces ?? []) map.set(`${face.face ?? 0}:${face.image ?? ""}`, identity.id ?? "");
  return map;
}

function identityKeys(identities: readonly { id?: string | null; faces?: readonly { image?: string | null; face?: number | null }[] | null }[]): string[] {
  return identities.map((i) => `${i.id ?? ""}=${(i.faces ?? []).map((f) => `${f.image ?? ""}#${f.face ?? 0}`).join(",")}`);
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}
