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

/** How many nodes are asked at a time, by default. */
export const DEFAULT_LIST_CONCURRENCY = 16;

export interface ListActorsOptions {
  /** How long each node has to answer. Default 500 ms; a node whose pages are still arriving then gets up to as long again. */
  readonly waitMs?: number;
  /** Nodes asked at a time: each further one is asked as soon as one before it has answered or timed out. Default 16. */
  readonly concurrency?: number;
  readonly clock?: Clock;
  readonly inboxPrefix?: string;
  /** Told about each answer that cannot be used. */
  readonly onInvalid?: (detail: string) => void;
  /** Told, at the end, about each node that answered but whose actors did not all arrive. */
  readonly onIncomplete?: (shortfall: ActorListShortfall) => void;
  /** Told each answering node's counters (once per node; all zero from nodes that predate them). */
  readonly onTotals?: (node: string, totals: NodeTotals) => void;
}

/** What the nodes asked said. */
export interface ActorListing {
  readonly actors: ActorReport[];
  /** The nodes asked that answered at all, in the order asked. */
  readonly answered: string[];
  /** The nodes asked that did not answer within the wait. */
  readonly silent: string[];
}

/** What one node has sent so far. */
interface NodeAnswer {
  readonly pages: number;
  readonly total: number;
  readonly seen: Set<number>;
  listed: number;
}

/**
 * Asks each of `nodes` for its actors on its own subject (`subjectOf(node)`, `Subjects.actorsOf`), at
 * most `concurrency` at a time, and gathers their `ActorList` pages on one inbox. Without joining the
 * system, and never one request to every node: the caller picks the nodes (a page of the roster). An
 * answer counts only from a node that was asked; a node is done once all its pages are in, or after
 * `waitMs` (once more while its pages are still arriving); those still short are reported to
 * `onIncomplete` with how many are missing.
 */
export async function listActors(transport: Transport, subjectOf: (node: string) => string, nodes: readonly string[], options: ListActorsOptions = {}): Promise<ActorListing> {
  const clock = options.clock ?? systemClock;
  const waitMs = options.waitMs ?? 500;
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_LIST_CONCURRENCY));
  const inbox = `${options.inboxPrefix ?? "_INBOX"}.troupe-actors-${randomBytes(8).toString("hex")}`;
  const queue = [...new Set(nodes)].reverse();
  const asked = new Set<string>();
  const waiting = new Map<string, { timer: TimerHandle; extended: boolean }>();
  const actors: ActorReport[] = [];
  const answers = new Map<string, NodeAnswer>();
  const request = troupe.system.ActorListRequest.encode({}).finish();
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));

  const finish = (node: string): void => {
    const entry = waiting.get(node);
    if (entry === undefined) return;
    clock.clearTimeout(entry.timer);
    waiting.delete(node);
    askMore();
  };
  const expire = (node: string): void => {
    const entry = waiting.get(node);
    if (entry === undefined) return;
    const answer = answers.get(node);
    // Pages still arriving: as long again, once.
    if (answer !== undefined && answer.seen.size < answer.pages && !entry.extended) {
      waiting.set(node, { timer: clock.setTimeout(() => expire(node), waitMs), extended: true });
      return;
    }
    finish(node);
  };
  function askMore(): void {
    while (waiting.size < concurrency && queue.length > 0) {
      const node = queue.pop()!;
      asked.add(node);
      waiting.set(node, { timer: clock.setTimeout(() => expire(node), waitMs), extended: false });
      try {
        transport.publish(subjectOf(node), request, inbox);
      } catch (error) {
        options.onInvalid?.(`could not ask node ${JSON.stringify(node)}: ${(error as Error).message}`);
        finish(node);
        return;
      }
    }
    if (waiting.size === 0 && queue.length === 0) allDone();
  }

  const unsubscribe = transport.subscribe(inbox, (message) => {
    let list: troupe.system.ActorList;
    try {
      list = troupe.system.ActorList.decode(message.data);
    } catch (error) {
      options.onInvalid?.(`not a troupe.system.ActorList: ${(error as Error).message}`);
      return;
    }
    if (!asked.has(list.node)) return options.onInvalid?.(`an answer from node ${JSON.stringify(list.node.slice(0, 80))}, which was not asked`);
    const invalid = accept(answers, list);
    if (invalid !== undefined) return options.onInvalid?.(invalid);
    const answer = answers.get(list.node)!;
    if (answer.seen.size === 1) options.onTotals?.(list.node, { deadLetters: list.deadLetters ?? 0, restarts: list.restarts ?? 0, processed: list.processed ?? 0 });
    for (const a of list.actors) actors.push({ node: list.node, path: a.path ?? "", kind: a.kind || undefined, restarts: a.restarts ?? 0, mailboxSize: a.mailboxSize ?? 0, processed: a.processed ?? 0 });
    if (answer.seen.size === answer.pages) finish(list.node);
  });
  try {
    await transport.flush();
    askMore();
    await done;
  } finally {
    unsubscribe();
    for (const { timer } of waiting.values()) clock.clearTimeout(timer);
  }
  for (const [node, answer] of answers) {
    if (answer.listed < answer.total) options.onIncomplete?.({ node, listed: answer.listed, total: answer.total });
  }
  const order = [...asked];
  return { actors, answered: order.filter((n) => answers.has(n)), silent: order.filter((n) => !answers.has(n)) };
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
