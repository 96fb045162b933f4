/**
 * Where a child is started:
 * - undefined or "local": on the parent's node (the default).
 * - `{ node }`: on that node, which must host the child's kind.
 * - "round-robin": in turn over the live nodes hosting the kind (the parent's node included).
 * - "least-loaded": on the lighter of two random live nodes hosting the kind, by their answers to a
 *   load question (runtime/remote/least-loaded.ts; without one, by membership's actor counts).
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

/**
 * Chooses a node per the policy; `counter` carries round-robin's position between calls, `lighter` picks
 * among the hosts for least-loaded (default: the fewest actors by `candidates`' counts).
 */
export function chooseNode(
  kind: string,
  placement: Placement,
  candidates: readonly PlacementCandidate[],
  counter: { next: number },
  exclude?: ReadonlySet<string>,
  lighter: (hosts: readonly PlacementCandidate[]) => string = fewestActors,
): string {
  const hosts = candidates.filter((c) => c.kinds.includes(kind) && !exclude?.has(c.node)).sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  if (typeof placement === "object") {
    if (!hosts.some((c) => c.node === placement.node)) throw new NoNodeForKindError(kind, placement);
    return placement.node;
  }
  if (hosts.length === 0) throw new NoNodeForKindError(kind, placement);
  if (placement === "least-loaded") return lighter(hosts);
  return hosts[counter.next++ % hosts.length]!.node;
}

/** As `chooseNode`, with a least-loaded choice that may wait (for candidates' answers); rejects as it throws. */
export async function chooseNodeAsked(
  kind: string,
  placement: Placement,
  candidates: readonly PlacementCandidate[],
  counter: { next: number },
  exclude: ReadonlySet<string> | undefined,
  lighter: (hosts: readonly PlacementCandidate[]) => Promise<string>,
): Promise<string> {
  let hosts: readonly PlacementCandidate[] = [];
  const node = chooseNode(kind, placement, candidates, counter, exclude, (found) => ((hosts = found), ""));
  return placement === "least-loaded" ? lighter(hosts) : node;
}

function fewestActors(hosts: readonly PlacementCandidate[]): string {
  return hosts.reduce((best, c) => (c.actorCount < best.actorCount ? c : best)).node;
}
