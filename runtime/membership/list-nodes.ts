import type { Transport } from "../transport/transport.js";
import { checkCounts } from "./membership-settings.js";
import type { NodeInfo } from "./node-table.js";
import { fetchRoster } from "./roster.js";

/** How long a listing waits for the roster, all pages together, by default. */
export const DEFAULT_LIST_WAIT_MS = 3_000;

/** Most nodes one listing shows, by default: a screenful of pages at 10,000 nodes is still bounded. */
export const DEFAULT_LIST_LIMIT = 1_000;

export interface ListNodesOptions {
  /** The system whose roster is read: pages and nodes naming another are refused. */
  readonly system: string;
  /** How long to wait for the roster, all pages together. Default `DEFAULT_LIST_WAIT_MS` (3,000 ms). */
  readonly waitMs?: number;
  /** Most nodes listed, a whole number of at least 1 (else a RangeError). Default `DEFAULT_LIST_LIMIT` (1,000). */
  readonly limit?: number;
  /** List the nodes whose ids sort after this one (the next page of a listing). */
  readonly after?: string;
  /** The reader's own request inbox prefix (the monitor role's); default: the transport's. */
  readonly inboxPrefix?: string;
  readonly onInvalid?: (detail: string) => void;
}

/** One page of a system's nodes, as one member's roster has them. */
export interface NodeListing {
  /** Sorted by node id. `lastSeenMs` is when the roster was read. */
  readonly nodes: NodeInfo[];
  /** Members in the answering member's view, whatever the page shows. */
  readonly total: number;
  /** The member whose roster this is; undefined when no member answered. */
  readonly answerer: string | undefined;
  /**
   * The node id to pass as `after` for the next page: set when more nodes follow, and when a listing
   * cut off short listed some nodes (where to go on from); undefined on a last page read whole.
   */
  readonly next: string | undefined;
  /**
   * False when the listing may lack nodes before its limit: the roster stopped coming before its end
   * (the wait ran out, or pages were refused), any node was refused (told to `onInvalid`), or nobody
   * answered.
   */
  readonly complete: boolean;
  /** Nodes refused and pages sent past the limit while reading (told to `onInvalid`): above 0, `complete` is false. */
  readonly refused: number;
}

/**
 * A system's live nodes, without joining it: one member's roster (runtime/membership/roster.ts), read
 * page by page from that member, for tools such as `troupe nodes`. Cost: one request per 1,000 nodes
 * listed, answered by one member, whatever the size of the system; refusals stop the read at 1,000
 * (runtime/membership/roster.ts).
 */
export async function listNodes(transport: Transport, rosterSubject: string, options: ListNodesOptions): Promise<NodeListing> {
  const limit = options.limit ?? DEFAULT_LIST_LIMIT;
  checkCounts({ limit });
  // One more than asked for tells whether a next page exists.
  const roster = await fetchRoster(transport, rosterSubject, {
    system: options.system,
    timeoutMs: options.waitMs ?? DEFAULT_LIST_WAIT_MS,
    maxNodes: limit + 1,
    after: options.after,
    inboxPrefix: options.inboxPrefix,
    onInvalid: options.onInvalid,
  });
  if (roster === undefined) return { nodes: [], total: 0, answerer: undefined, next: undefined, complete: false, refused: 0 };
  const nodes = roster.nodes.slice(0, limit);
  const { total, answerer, refused } = roster;
  // Whole when no node was refused, and the roster ended or went on past the limit.
  const complete = refused === 0 && (roster.complete || roster.nodes.length > limit);
  // More than the limit read: the next page goes on after the last node listed. So does one after a read
  // stopped short; with none listed there is no next page (it would be this one again).
  const next = roster.nodes.length > limit || !roster.complete ? nodes.at(-1)?.node : undefined;
  return { nodes, total, answerer, next, complete, refused };
}
