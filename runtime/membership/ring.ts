import { hash32 } from "../hash32.js";

/** How many members monitor each node (docs/scale.md): a node's next members on the ring. */
export const RING_MONITORS = 3;
/** Most monitors of one node once they are picked across NATS servers (one per server first). */
export const RING_MAX_MONITORS = 5;
/** With this many members or fewer, every member monitors every other (today's all-to-all). */
export const RING_ALL_TO_ALL_UP_TO = 4;
/**
 * How far along the ring the monitor choice looks: a server none of a node's next 64 members is
 * connected to gets no monitor of that node, which bounds the walk at any size.
 */
export const RING_LOOKAHEAD = 64;

const RING_SEED = 0x52494e47;

interface Place {
  readonly hash: number;
  readonly node: string;
}

/**
 * The members of a system on a hash ring (by `hash32` of the node id), and who monitors whom: a
 * node's monitors are the members after it, picked across the NATS servers they are connected to
 * (walking the ring, the first member on each server, its own included, at most RING_MAX_MONITORS;
 * then the next members up to RING_MONITORS). Every node computes this from its own view; views that
 * agree agree on the monitors. Results are cached until the ring changes (`version`).
 */
export class Ring {
  private readonly places: Place[] = [];
  private readonly servers = new Map<string, string>();
  private readonly cache = new Map<string, readonly string[]>();
  private cacheVersion = 0;
  /** Changes on every change of members or of a member's server. */
  version = 0;

  /** Adds `node`, or records its new server; `server` is "" when unknown (all such count as one server). */
  set(node: string, server: string): void {
    const known = this.servers.get(node);
    if (known === server) return;
    if (known === undefined) {
      const place = { hash: hash32(node, RING_SEED), node };
      this.places.splice(this.positionOf(place), 0, place);
    }
    this.servers.set(node, server);
    this.version++;
  }

  remove(node: string): void {
    if (!this.servers.delete(node)) return;
    this.places.splice(this.positionOf({ hash: hash32(node, RING_SEED), node }), 1);
    this.version++;
  }

  /** The monitors of member `node`, nearest first (its rank as a monitor is its index here). */
  monitorsOf(node: string): readonly string[] {
    if (this.cacheVersion !== this.version) {
      this.cache.clear();
      this.cacheVersion = this.version;
    }
    let monitors = this.cache.get(node);
    if (monitors === undefined) this.cache.set(node, (monitors = this.choose(node)));
    return monitors;
  }

  /** The members that `node` monitors: those whose monitors include it (only its predecessors can). */
  monitoredBy(node: string): string[] {
    const at = this.indexOf(node);
    if (at < 0) return [];
    const n = this.places.length;
    const out: string[] = [];
    for (let step = 1; step < n && step <= RING_LOOKAHEAD; step++) {
      const other = this.places[(at - step + n) % n]!.node;
      if (this.monitorsOf(other).includes(node)) out.push(other);
    }
    return out;
  }

  private choose(node: string): readonly string[] {
    const at = this.indexOf(node);
    if (at < 0) return [];
    const n = this.places.length;
    const ahead: string[] = [];
    for (let step = 1; step < n && step <= RING_LOOKAHEAD; step++) ahead.push(this.places[(at + step) % n]!.node);
    if (n <= RING_ALL_TO_ALL_UP_TO) return ahead;
    const picked = new Set<number>();
    const serversSeen = new Set<string>();
    for (let i = 0; i < ahead.length && picked.size < RING_MAX_MONITORS; i++) {
      const server = this.servers.get(ahead[i]!)!;
      if (serversSeen.has(server)) continue;
      serversSeen.add(server);
      picked.add(i);
    }
    for (let i = 0; i < ahead.length && picked.size < RING_MONITORS; i++) picked.add(i);
    return [...picked].sort((a, b) => a - b).map((i) => ahead[i]!);
  }

  private indexOf(node: string): number {
    if (!this.servers.has(node)) return -1;
    return this.positionOf({ hash: hash32(node, RING_SEED), node });
  }

  /** Where `place` is or would be: the first place not before it (binary search). */
  private positionOf(place: Place): number {
    let lo = 0;
    let hi = this.places.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = this.places[mid]!;
      if (p.hash < place.hash || (p.hash === place.hash && p.node < place.node)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
