/**
 * Where a child is started:
 * - undefined or "local": on the parent's node (the default).
 * - `{ node }`: on that node, which must host the child's kind.
 * - "round-robin": in turn over the live nodes hosting the kind (the parent's node included).
 * - "least-loaded": on the live node hosting the kind with the fewest actors (as of its last heartbeat).
 */
export type Placement = "local" | "round-robin" | "least-loaded" | { readonly node: string };

/** A live node as placement sees it. */
export interface PlacementCandidate {
  readonly node: string;
  readonly kinds: readonly string[];
  readonly actorCount: number;
}

export class NoNodeForKindError extends Error {
  override readonly name = "NoNodeForKindError";
  constructor(
    readonly kind: string,
    readonly placement: Placement,
  ) {
    super(`no live node hosts actor kind ${JSON.stringify(kind)} (placement ${typeof placement === "string" ? placement : `node ${placement.node}`}); start a node that registers it`);
  }
}

/** Chooses a node per the policy; `counter` carries round-robin's position between calls. */
export function chooseNode(kind: string, placement: Placement, candidates: readonly PlacementCandidate[], counter: { next: number }, exclude?: ReadonlySet<string>): string {
  const hosts = candidates.filter((c) => c.kinds.includes(kind) && !exclude?.has(c.node)).sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  if (typeof placement === "object") {
    if (!hosts.some((c) => c.node === placement.node)) throw new NoNodeForKindError(kind, placement);
    return placement.node;
  }
  if (hosts.length === 0) throw new NoNodeForKindError(kind, placement);
  if (placement === "least-loaded") return hosts.reduce((best, c) => (c.actorCount < best.actorCount ? c : best)).node;
  return hosts[counter.next++ % hosts.length]!.node;
}
