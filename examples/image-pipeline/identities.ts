/**
 * Matching faces across images into identities, by the Euclidean distance between face descriptors.
 *
 * face-api's recognition model puts two faces of one person less than about 0.6 apart (its `FaceMatcher`
 * default). On group photos of similar-looking people, though, plain "closer than 0.6" chains unrelated
 * faces into one huge cluster, and even pairs two faces of the same photo. So an identity here is built
 * by complete linkage with a cannot-link rule:
 *
 * - a link is a pair of faces from different images closer than `MATCH_DISTANCE`;
 * - links are taken in order of distance (ties by face), and two clusters merge when every face of one
 *   is linked to every face of the other and no image has a face in both.
 *
 * The result depends only on the set of faces and links, never on the order in which images arrived, so
 * merging results in any order (or reloading them from a checkpoint) gives the same identities. An image
 * submitted twice lies at distance 0 from itself, so its copy joins each original face first.
 */

/** Descriptors closer than this are taken to be one person (face-api's recommended threshold). */
export const MATCH_DISTANCE = 0.6;

/** A face: the task id of its image and its index in that image. */
export interface FaceKey {
  readonly image: string;
  readonly face: number;
}

export interface Link {
  readonly a: FaceKey;
  readonly b: FaceKey;
  /** Rounded to a 32-bit float, as it is stored, so that a reloaded state sorts links the same way. */
  readonly distance: number;
}

export interface IdentityCluster {
  /** `person-1`, `person-2`, ... in the order of each identity's first face. */
  readonly id: string;
  readonly faces: readonly FaceKey[];
}

/** Per image (task id), the descriptors of its faces in order. */
export type Descriptors = ReadonlyMap<string, readonly (ArrayLike<number> | null | undefined)[]>;

export function descriptorDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`descriptors of different lengths (${a.length} and ${b.length})`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return Math.fround(Math.sqrt(sum));
}

/** Orders faces by image (code points, not locale) and then by index. */
export function compareFaces(a: FaceKey, b: FaceKey): number {
  return a.image < b.image ? -1 : a.image > b.image ? 1 : a.face - b.face;
}

/** The links between the faces of image `image` and the faces of every other image in `others`. */
export function linksTo(image: string, faces: readonly (ArrayLike<number> | null | undefined)[], others: Descriptors): Link[] {
  const links: Link[] = [];
  for (const [other, otherFaces] of others) {
    if (other === image) continue;
    faces.forEach((descriptor, face) => {
      if (!descriptor?.length) return;
      otherFaces.forEach((otherDescriptor, otherFace) => {
        if (!otherDescriptor?.length) return;
        const distance = descriptorDistance(descriptor, otherDescriptor);
        if (distance >= MATCH_DISTANCE) return;
        const here = { image, face };
        const there = { image: other, face: otherFace };
        links.push(compareFaces(here, there) < 0 ? { a: here, b: there, distance } : { a: there, b: here, distance });
      });
    });
  }
  return links;
}

/** Every link among `images`, computed from scratch (what the reducer keeps up incrementally). */
export function allLinks(images: Descriptors): Link[] {
  const links: Link[] = [];
  const seen = new Map<string, readonly (ArrayLike<number> | null | undefined)[]>();
  for (const image of [...images.keys()].sort()) {
    const faces = images.get(image)!;
    links.push(...linksTo(image, faces, seen));
    seen.set(image, faces);
  }
  return links;
}

/** Clusters the faces of `images` into identities, given their links (see the header). */
export function clusterIdentities(images: ReadonlyMap<string, number>, links: readonly Link[]): IdentityCluster[] {
  const faces: FaceKey[] = [];
  for (const image of [...images.keys()].sort()) for (let face = 0; face < images.get(image)!; face++) faces.push({ image, face });
  const index = new Map(faces.map((f, i) => [keyOf(f), i]));
  const linked = new Set<string>();
  const edges: { a: number; b: number; distance: number }[] = [];
  for (const link of links) {
    const a = index.get(keyOf(link.a));
    const b = index.get(keyOf(link.b));
    if (a === undefined || b === undefined || a === b) continue; // a link to a face that is not (or no longer) there
    const [lo, hi] = a < b ? [a, b] : [b, a];
    if (linked.has(`${lo},${hi}`)) continue;
    linked.add(`${lo},${hi}`);
    edges.push({ a: lo, b: hi, distance: link.distance });
  }
  edges.sort((x, y) => x.distance - y.distance || x.a - y.a || x.b - y.b);

  // Each cluster is a sorted list of face indices; clusterOf maps a face to its cluster's first face.
  const members = new Map<number, number[]>(faces.map((_, i) => [i, [i]]));
  const clusterOf = faces.map((_, i) => i);
  for (const { a, b } of edges) {
    const ca = clusterOf[a]!;
    const cb = clusterOf[b]!;
    if (ca === cb) continue;
    const ma = members.get(ca)!;
    const mb = members.get(cb)!;
    const imagesOfA = new Set(ma.map((i) => faces[i]!.image));
    if (mb.some((i) => imagesOfA.has(faces[i]!.image))) continue;
    if (!ma.every((i) => mb.every((j) => linked.has(i < j ? `${i},${j}` : `${j},${i}`)))) continue;
    const [keep, drop] = ca < cb ? [ca, cb] : [cb, ca];
    const merged = [...ma, ...mb].sort((x, y) => x - y);
    members.set(keep, merged);
    members.delete(drop);
    for (const i of merged) clusterOf[i] = keep;
  }
  return [...members.entries()]
    .sort(([x], [y]) => x - y)
    .map(([, list], n) => ({ id: `person-${n + 1}`, faces: list.map((i) => faces[i]!) }));
}

function keyOf(face: FaceKey): string {
  return `${face.face}:${face.image}`;
}
