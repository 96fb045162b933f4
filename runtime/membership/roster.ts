import { randomBytes } from "node:crypto";
import protobuf from "protobufjs/minimal.js";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import { RosterRequest } from "../codec/wire-types.js";
import type { InboundMessage, Transport, Unsubscribe } from "../transport/transport.js";
import { decodeHeartbeat, DEFAULT_MAX_KINDS_PER_NODE, encodeHeartbeat, isNodeId } from "./heartbeat.js";
import { heartbeatOf, infoOf } from "./node-info.js";
import { byNode, type NodeInfo } from "./node-table.js";
import { RateWindow } from "./rate-window.js";

/** Most nodes one `RosterPage` carries, by default (docs/scale.md: 10 requests at 10,000 members). */
export const DEFAULT_ROSTER_PAGE = 1_000;

/** The queue group of the roster subject: one member answers each request. */
export const ROSTER_QUEUE = "roster";

/** A roster request is three short fields; anything much longer is not one. */
const MAX_REQUEST_BYTES = 1_024;
/** Room kept in a page for its other fields (total, more, answerer, system) and framing. */
const PAGE_OVERHEAD_BYTES = 256;

/** Why a node did not answer a roster request. */
export type RosterRefusal = "malformed" | "foreign-system" | "forbidden-reply-subject" | "no-reply-subject" | "send-failed" | "over-rate";

/** Requests one node answers per second at most, by default: a page costs a sort and up to 1,000 encodes. */
export const DEFAULT_ROSTER_ANSWERS_PER_SECOND = 20;

export interface ServeRosterOptions {
  readonly transport: Transport;
  /** The system's roster subject (`Subjects.membershipRoster`). Follow-up pages come on `<subject>.<nodeId>`. */
  readonly subject: string;
  readonly system: string;
  readonly nodeId: string;
  /** This node's view of the members, itself included. */
  readonly nodes: () => readonly NodeInfo[];
  /** Most nodes per page, whatever a request asks for. Default `DEFAULT_ROSTER_PAGE` (1,000). */
  readonly maxPage?: number;
  /** Whether the node may publish an answer to this reply subject (`Subjects.answersTo`); default: any. */
  readonly answersTo?: (reply: string) => boolean;
  /**
   * Requests answered per second at most; the rest are refused `over-rate` (the reader asks another
   * member). Default `DEFAULT_ROSTER_ANSWERS_PER_SECOND` (20): joins read ~10 pages at 10,000 nodes,
   * spread over the members by the queue group.
   */
  readonly maxAnswersPerSecond?: number;
  /** Told about every request not answered, and why: the caller counts them. */
  readonly onRefused?: (reason: RosterRefusal, detail: string, message: InboundMessage) => void;
  /** Times the answer rate. Default: the system clock. */
  readonly clock?: Clock;
}

/**
 * Answers `RosterRequest`s with pages of this node's roster, in node id order after `after`: on the
 * roster subject in a queue group (one member answers each request), and on `<subject>.<nodeId>` so
 * that a reader can take its follow-up pages from the same member. Requests of another system,
 * malformed ones and ones without a usable reply subject are refused (`onRefused`); the callback never
 * throws, and a request costs at most one page.
 */
export function serveRoster(options: ServeRosterOptions): Unsubscribe {
  const maxPage = Math.max(1, Math.floor(options.maxPage ?? DEFAULT_ROSTER_PAGE));
  const refuse = (reason: RosterRefusal, detail: string, message: InboundMessage): void => {
    try {
      options.onRefused?.(reason, `roster request on ${message.subject}: ${detail}`, message);
    } catch {
      // The counter is the caller's; it cannot break the subscription.
    }
  };
  const rate = new RateWindow(options.maxAnswersPerSecond ?? DEFAULT_ROSTER_ANSWERS_PER_SECOND, 1_000);
  const clock = options.clock ?? systemClock;
  const answer = (message: InboundMessage): void => {
    try {
      if (!message.reply) return refuse("no-reply-subject", "no reply subject", message);
      if (!rate.take(clock.now())) return refuse("over-rate", `over ${options.maxAnswersPerSecond ?? DEFAULT_ROSTER_ANSWERS_PER_SECOND} answers a second`, message);
      if (options.answersTo && !options.answersTo(message.reply)) return refuse("forbidden-reply-subject", `asks for answers on ${message.reply}`, message);
      if (message.data.length > MAX_REQUEST_BYTES) return refuse("malformed", `${message.data.length} bytes, over ${MAX_REQUEST_BYTES}`, message);
      let request: ReturnType<typeof RosterRequest.decode>;
      try {
        request = RosterRequest.decode(message.data);
      } catch (error) {
        return refuse("malformed", `not a troupe.membership.RosterRequest: ${(error as Error).message}`, message);
      }
      if (request.system !== "" && request.system !== options.system) return refuse("foreign-system", `of system ${JSON.stringify(request.system.slice(0, 80))}, not ${options.system}`, message);
      const limit = request.limit === 0 ? maxPage : Math.min(request.limit, maxPage);
      const page = rosterPage(options, request.after, limit, options.transport.maxPayload);
      options.transport.publish(message.reply, page);
    } catch (error) {
      refuse("send-failed", `answer not sent: ${(error as Error).message}`, message);
    }
  };
  const group = options.transport.queueSubscribe(options.subject, ROSTER_QUEUE, answer);
  const direct = options.transport.subscribe(`${options.subject}.${options.nodeId}`, answer);
  return () => {
    group.unsubscribe();
    direct();
  };
}

/** One encoded page: the nodes after `after`, at most `limit` of them and at most `maxBytes` in all. */
function rosterPage(options: ServeRosterOptions, after: string, limit: number, maxBytes: number): Uint8Array {
  const nodes = sortedByNode(options.nodes());
  let start = firstAfter(nodes, after);
  const writer = protobuf.Writer.create();
  let used = PAGE_OVERHEAD_BYTES + Buffer.byteLength(options.nodeId) + Buffer.byteLength(options.system);
  let count = 0;
  for (; start < nodes.length && count < limit; start++) {
    const bytes = encodeHeartbeat(heartbeatOf(nodes[start]!, options.system));
    const size = bytes.length + 6;
    // A page holds at least one node; further ones only while they fit under the payload limit.
    if (count > 0 && used + size > maxBytes) break;
    writer.uint32((1 << 3) | 2).bytes(bytes);
    used += size;
    count++;
  }
  const more = start < nodes.length;
  // Fields 2-5 of RosterPage after the nodes (field order does not matter to a protobuf reader).
  writer.uint32((2 << 3) | 0).uint32(Math.min(nodes.length, 0xffffffff));
  if (more) writer.uint32((3 << 3) | 0).bool(true);
  writer.uint32((4 << 3) | 2).string(options.nodeId);
  writer.uint32((5 << 3) | 2).string(options.system);
  return writer.finish();
}

function sortedByNode(nodes: readonly NodeInfo[]): readonly NodeInfo[] {
  for (let i = 1; i < nodes.length; i++) {
    if (nodes[i - 1]!.node >= nodes[i]!.node) return [...nodes].sort(byNode);
  }
  return nodes;
}

/** Index of the first node whose id sorts after `after` (all of them when `after` is empty). */
function firstAfter(nodes: readonly NodeInfo[], after: string): number {
  let low = 0;
  let high = nodes.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (nodes[mid]!.node <= after) low = mid + 1;
    else high = mid;
  }
  return low;
}

// ---- reading ----

export interface FetchRosterOptions {
  readonly system: string;
  /** For all pages together. */
  readonly timeoutMs: number;
  /** Most nodes read; paging stops there. */
  readonly maxNodes: number;
  /** Nodes asked for per page. Default `DEFAULT_ROSTER_PAGE` (1,000); the answerer may send fewer. */
  readonly pageSize?: number;
  /**
   * Read this member's roster, every page from it (`<subject>.<member>`), and no other's: a digest
   * repair compares views. Default: whichever member the queue group picks.
   */
  readonly member?: string;
  /** Start after this node id (a listing's next page); default: from the first. */
  readonly after?: string;
  /** Replies come to an inbox under this prefix; default: the transport's own request inboxes. */
  readonly inboxPrefix?: string;
  /** Most kinds per node. Default `DEFAULT_MAX_KINDS_PER_NODE` (256). */
  readonly maxKindsPerNode?: number;
  /**
   * Nodes refused (failing the checks, out of order) and pages sent past the limit asked, for the whole
   * read: at this many, reading stops, incomplete. Default: the page size (1,000 by default).
   */
  readonly maxRefusals?: number;
  /** Told about every page or node refused, and why, and about a read stopped by `maxRefusals`, once. */
  readonly onInvalid?: (detail: string) => void;
  /** Decides the timeout and stamps `lastSeenMs`, so that tests with a manual clock drive it. Default: the system clock. */
  readonly clock?: Clock;
}

export interface Roster {
  /** In node id order. `lastSeenMs` is when the page arrived, `self` always false. */
  readonly nodes: NodeInfo[];
  /** Members in the answerer's view (the last page's count). */
  readonly total: number;
  /** The member that answered the first page. */
  readonly answerer: string;
  /**
   * Every page was read and no node refused (false when stopped by `maxNodes`, the timeout, an unusable
   * page or `maxRefusals`, and when any node was left out, whichever page it was on).
   */
  readonly complete: boolean;
  /** Nodes refused and pages sent past the limit, over the whole read: above 0, nodes may be missing. */
  readonly refused: number;
}

/** Unusable pages from the queue subject tolerated before giving up (a forger may answer first). */
const MAX_BAD_PAGES = 3;

/**
 * Reads a member's roster page by page: the first page from whichever member the roster subject's
 * queue group picks, the rest from that same member (`<subject>.<answerer>`). Should it stop answering,
 * paging goes on from another member after the last node read: pages are in node id order, so the
 * merge stays sorted and without duplicates. Each node is checked as a heartbeat is (node id,
 * incarnation, system, kinds valid and capped); refused nodes are left out and reported. Stops at
 * `maxNodes` and at `timeoutMs`; undefined when no member answered with a usable page. With `member`,
 * every page comes from that member, and paging ends when it stops answering.
 *
 * Cost, whatever the members send: every node decoded is either kept (at most `maxNodes`) or refused,
 * and the refusals of the whole read are capped at `maxRefusals` (a refused node does not move paging
 * on, so a member could otherwise send it again on every page); unusable pages at `MAX_BAD_PAGES`. So
 * a read decodes at most `maxNodes` + `maxRefusals` nodes plus `MAX_BAD_PAGES` + 1 pages' worth (the
 * bad pages and the rest of the page that ends it), and reports at most `maxRefusals` + `MAX_BAD_PAGES` + 2.
 */
export async function fetchRoster(transport: Transport, subject: string, options: FetchRosterOptions): Promise<Roster | undefined> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + options.timeoutMs;
  const pageSize = Math.max(1, Math.floor(options.pageSize ?? DEFAULT_ROSTER_PAGE));
  const maxRefusals = Math.max(1, Math.floor(options.maxRefusals ?? pageSize));
  const checks = { system: options.system, maxKinds: options.maxKindsPerNode ?? DEFAULT_MAX_KINDS_PER_NODE };
  const invalid = (detail: string): void => options.onInvalid?.(`roster: ${detail}`);
  const nodes: NodeInfo[] = [];
  let first: string | undefined;
  // Whose pages are read: unset until the queue group picks one, unless a member was named.
  let answerer: string | undefined = options.member;
  let total = 0;
  let after = options.after ?? "";
  let complete = false;
  let badPages = 0;
  let refused = 0;
  /** Reports a refused node or page; false once the refusals reach the budget (reported once): stop. */
  const refuse = (detail: string): boolean => {
    invalid(detail);
    if (++refused < maxRefusals) return true;
    invalid(`${refused} nodes or pages refused, the most one reading tolerates: reading stopped`);
    return false;
  };
  reading: while (nodes.length < options.maxNodes) {
    const remainingMs = deadline - clock.now();
    if (remainingMs <= 0) break;
    const target = answerer === undefined ? subject : `${subject}.${answerer}`;
    const limit = Math.min(pageSize, options.maxNodes - nodes.length);
    const reply = await ask(transport, clock, target, RosterRequest.encode({ system: options.system, after, limit }).finish(), remainingMs, options.inboxPrefix);
    const page = reply === undefined ? undefined : readPage(reply, checks, limit);
    if (page === undefined || !page.ok || (answerer !== undefined && page.answerer !== answerer)) {
      if (page !== undefined) invalid(page.ok ? `page from ${page.answerer} asked of ${answerer}` : page.detail);
      if (reply === undefined && (answerer === undefined || options.member !== undefined)) break; // nobody (or not the member named) answers
      if (options.member === undefined) answerer = undefined; // go on from any member
      if (++badPages >= MAX_BAD_PAGES) break;
      continue;
    }
    first ??= page.answerer;
    answerer = page.answerer;
    total = page.total;
    const receivedMs = clock.now();
    let progressed = false;
    for (const node of page.nodes) {
      if (!node.ok) {
        if (!refuse(`from ${page.answerer}: ${node.detail}`)) break reading;
        continue;
      }
      const beat = node.heartbeat;
      if (beat.node <= after) {
        if (!refuse(`from ${page.answerer}: node ${beat.node} out of order (after ${after})`)) break reading;
        continue;
      }
      nodes.push(infoOf(beat, receivedMs, beat.server));
      after = beat.node;
      progressed = true;
    }
    if (page.beyondLimit > 0 && !refuse(`page from ${page.answerer} holds ${page.beyondLimit} nodes more than the ${limit} asked for: not read`)) break;
    if (!page.more) {
      complete = refused === 0;
      break;
    }
    if (!progressed) {
      invalid(`page from ${page.answerer} says more follow but brought no usable node`);
      break;
    }
  }
  if (first === undefined) return undefined;
  return { nodes, total: Math.max(total, nodes.length), answerer: first, complete, refused };
}

type ReadNode = ReturnType<typeof decodeHeartbeat>;

type ReadPage =
  | { readonly ok: true; readonly nodes: ReadNode[]; readonly beyondLimit: number; readonly total: number; readonly more: boolean; readonly answerer: string }
  | { readonly ok: false; readonly detail: string };

/**
 * Walks a `RosterPage`'s fields, handing the bytes of each of its first `limit` nodes to
 * `decodeHeartbeat` (so its checks apply as they are). A member sends at most the nodes asked for:
 * those beyond are only counted, never decoded, so a hostile page costs at most `limit` decodes.
 */
function readPage(bytes: Uint8Array, checks: { readonly system: string; readonly maxKinds: number }, limit: number): ReadPage {
  const nodes: ReadNode[] = [];
  let beyondLimit = 0;
  let total = 0;
  let more = false;
  let answerer = "";
  let system = "";
  try {
    const reader = protobuf.Reader.create(bytes);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1 && wire === 2) {
        if (nodes.length < limit) nodes.push(decodeHeartbeat(reader.bytes(), checks));
        else {
          reader.skipType(wire);
          beyondLimit++;
        }
      } else if (field === 2 && wire === 0) total = reader.uint32();
      else if (field === 3 && wire === 0) more = reader.bool();
      else if (field === 4 && wire === 2) answerer = reader.string();
      else if (field === 5 && wire === 2) system = reader.string();
      else reader.skipType(wire);
    }
  } catch (error) {
    return { ok: false, detail: `not a troupe.membership.RosterPage: ${(error as Error).message}` };
  }
  if (system !== checks.system) return { ok: false, detail: `a page of system ${JSON.stringify(system.slice(0, 80))}, not ${checks.system}` };
  if (!isNodeId(answerer)) return { ok: false, detail: `a page from an invalid node id ${JSON.stringify(answerer.slice(0, 80))}` };
  return { ok: true, nodes, beyondLimit, total, more, answerer };
}

/**
 * The first reply to a request, or undefined when none came in time (or nobody listens). The clock
 * decides the timeout; the transport's own request timer, set to the same, only ends what it started.
 */
async function ask(transport: Transport, clock: Clock, subject: string, data: Uint8Array, timeoutMs: number, inboxPrefix: string | undefined): Promise<Uint8Array | undefined> {
  let unsubscribe: Unsubscribe | undefined;
  let timer: TimerHandle | undefined;
  try {
    return await new Promise<Uint8Array | undefined>((resolve) => {
      timer = clock.setTimeout(() => resolve(undefined), timeoutMs);
      if (inboxPrefix === undefined) {
        transport.request(subject, data, timeoutMs).then(resolve, () => resolve(undefined));
        return;
      }
      const inbox = `${inboxPrefix}.troupe-roster-${randomBytes(8).toString("hex")}`;
      unsubscribe = transport.subscribe(inbox, (message) => resolve(message.data));
      transport.flush().then(
        () => {
          try {
            transport.publish(subject, data, inbox);
          } catch {
            resolve(undefined);
          }
        },
        () => resolve(undefined),
      );
    });
  } catch {
    return undefined;
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
    unsubscribe?.();
  }
}
