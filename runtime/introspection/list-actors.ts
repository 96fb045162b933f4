import { randomBytes } from "node:crypto";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import type { Transport } from "../transport/transport.js";
import { troupe } from "../../proto/gen/troupe.js";
import type { NodeTotals } from "./actor-list-pages.js";

/** An actor as one node reports it. */
export interface ActorReport {
  readonly node: string;
  readonly path: string;
  readonly kind: string | undefined;
  readonly restarts: number;
  readonly mailboxSize: number;
  /** Messages processed since it was spawned (0 from nodes that predate the counter). */
  readonly processed?: number;
}

/** A node whose answer did not arrive whole: `listed` of its `total` actors are in the list. */
export interface ActorListShortfall {
  readonly node: string;
  readonly listed: number;
  readonly total: number;
}

export interface ListActorsOptions {
  /** How long to wait for answers. Default 500 ms; a node whose pages are still arriving then gets up to as long again. */
  readonly waitMs?: number;
  readonly clock?: Clock;
  readonly inboxPrefix?: string;
  /** Told about each answer that cannot be used. */
  readonly onInvalid?: (detail: string) => void;
  /** Told, at the end, about each node that answered but whose actors did not all arrive. */
  readonly onIncomplete?: (shortfall: ActorListShortfall) => void;
  /** Told each answering node's counters (once per node; all zero from nodes that predate them). */
  readonly onTotals?: (node: string, totals: NodeTotals) => void;
}

/** What one node has sent so far. */
interface NodeAnswer {
  readonly pages: number;
  readonly total: number;
  readonly seen: Set<number>;
  listed: number;
}

/**
 * Asks every node of a system for its actors (one request on the system's actors subject, every node
 * answers, in one or more `ActorList` pages) and gathers the answers that arrive within `waitMs`.
 * Without joining the system. Nodes whose pages have not all arrived by then are waited for a while
 * longer, and those still short at the end are reported to `onIncomplete` with how many are missing.
 */
export async function listActors(transport: Transport, subject: string, options: ListActorsOptions = {}): Promise<ActorReport[]> {
  const clock = options.clock ?? systemClock;
  const waitMs = options.waitMs ?? 500;
  const inbox = `${options.inboxPrefix ?? "_INBOX"}.troupe-actors-${randomBytes(8).toString("hex")}`;
  const reports: ActorReport[] = [];
  const answers = new Map<string, NodeAnswer>();
  const complete = (): boolean => [...answers.values()].every((a) => a.seen.size === a.pages);
  let whenComplete: (() => void) | undefined;
  const unsubscribe = transport.subscribe(inbox, (message) => {
    let list: troupe.system.ActorList;
    try {
      list = troupe.system.ActorList.decode(message.data);
    } catch (error) {
      options.onInvalid?.(`not a troupe.system.ActorList: ${(error as Error).message}`);
      return;
    }
    const invalid = accept(answers, list);
    if (invalid !== undefined) return options.onInvalid?.(invalid);
    if (answers.get(list.node)!.seen.size === 1) options.onTotals?.(list.node, { deadLetters: list.deadLetters ?? 0, restarts: list.restarts ?? 0, processed: list.processed ?? 0 });
    for (const a of list.actors) reports.push({ node: list.node, path: a.path ?? "", kind: a.kind || undefined, restarts: a.restarts ?? 0, mailboxSize: a.mailboxSize ?? 0, processed: a.processed ?? 0 });
    if (whenComplete !== undefined && complete()) whenComplete();
  });
  try {
    await transport.flush();
    transport.publish(subject, troupe.system.ActorListRequest.encode({}).finish(), inbox);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, waitMs));
    if (!complete()) {
      let timer: TimerHandle | undefined;
      await new Promise<void>((resolve) => {
        whenComplete = resolve;
        timer = clock.setTimeout(resolve, waitMs);
      });
      clock.clearTimeout(timer!);
    }
  } finally {
    unsubscribe();
  }
  for (const [node, answer] of answers) {
    if (answer.listed < answer.total) options.onIncomplete?.({ node, listed: answer.listed, total: answer.total });
  }
  return reports;
}

/** Records one page of a node's answer; says why when it cannot be used. */
function accept(answers: Map<string, NodeAnswer>, list: troupe.system.ActorList): string | undefined {
  // A node that predates paging answers with one message: all it has.
  const pages = list.pages || 1;
  const page = list.pages === 0 ? 1 : list.page;
  const total = list.pages === 0 ? list.actors.length : list.total;
  let answer = answers.get(list.node);
  if (answer === undefined) answers.set(list.node, (answer = { pages, total, seen: new Set(), listed: 0 }));
  if (page < 1 || page > answer.pages || pages !== answer.pages || total !== answer.total) {
    return `page ${page} of ${pages} (total ${total}) from node ${JSON.stringify(list.node)} does not match its other pages (${answer.pages} pages, total ${answer.total})`;
  }
  if (answer.seen.has(page)) return `page ${page} of ${pages} from node ${JSON.stringify(list.node)} arrived twice`;
  answer.seen.add(page);
  answer.listed += list.actors.length;
  return undefined;
}
