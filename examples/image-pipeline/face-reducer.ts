import { defineReducer } from "../../runtime/index.js";
import { troupe } from "./gen/messages.js";
import { clusterIdentities, linksTo, type Descriptors, type Link } from "./identities.js";

export const { ImageTask, ImageRef, ImageFaces, PipelineState } = troupe.examples.imagepipeline;
export type ImageTask = troupe.examples.imagepipeline.ImageTask;
export type ImageFaces = troupe.examples.imagepipeline.ImageFaces.$Properties;
export type PipelineState = troupe.examples.imagepipeline.PipelineState;
type FaceLink = troupe.examples.imagepipeline.FaceLink.$Properties;

/** Reduce: the pipeline's state, merged once per task id by the reducer (so a repeat never counts twice). */
export const facesReducer = defineReducer({
  state: PipelineState,
  result: ImageFaces,
  initial: () => PipelineState.create({ images: {}, facesByGender: {}, links: [], identities: [] }),
  merge: (state, image, taskId) => mergeImage(state, image, taskId),
});

/**
 * Puts one image's faces into the state (by task id), counts them by gender, links them to the faces of
 * every image already there, and recomputes the identities from all faces and links: the result does not
 * depend on the order in which images arrive.
 */
export function mergeImage(state: PipelineState, image: ImageFaces, taskId: string): PipelineState {
  const faces = image.faces ?? [];
  const links = [...state.links, ...linksTo(taskId, faces.map((f) => f.descriptor), descriptorsOf(state.images)).map(toFaceLink)];
  const images = { ...state.images, [taskId]: image };
  const facesByGender = { ...state.facesByGender };
  for (const face of faces) facesByGender[face.gender || "unknown"] = (facesByGender[face.gender || "unknown"] ?? 0) + 1;
  return PipelineState.create({ images, facesByGender, links, identities: identitiesOf(images, links) });
}

/** The identities of `images`, from their links (stored ones, or computed afresh with `allLinks`). */
export function identitiesOf(images: Record<string, ImageFaces>, links: readonly (FaceLink | Link)[]): troupe.examples.imagepipeline.Identity.$Properties[] {
  const counts = new Map(Object.entries(images).map(([id, image]) => [id, image.faces?.length ?? 0]));
  return clusterIdentities(counts, links.map(fromFaceLink)).map((identity) => ({ id: identity.id, faces: identity.faces.map((f) => ({ image: f.image, face: f.face })) }));
}

/** Per image, its faces' descriptors. */
export function descriptorsOf(images: Record<string, ImageFaces>): Descriptors {
  return new Map(Object.entries(images).map(([id, image]) => [id, (image.faces ?? []).map((f) => f.descriptor)]));
}

function toFaceLink(link: Link): FaceLink {
  return { a: { ...link.a }, b: { ...link.b }, distance: link.distance };
}

function fromFaceLink(link: FaceLink | Link): Link {
  return { a: { image: link.a?.image ?? "", face: link.a?.face ?? 0 }, b: { image: link.b?.image ?? "", face: link.b?.face ?? 0 }, distance: link.distance ?? 0 };
}
