import type { CellDirectory } from "../cell-directory.js";
import type { ActorListEntry, NodeTotals } from "./actor-list-pages.js";

/**
 * What a node answers to an `ActorListRequest`: its live actors with their counters, and its totals
 * (those of the actors that stopped included), read in one walk over the cells.
 */
export function actorListAnswer(cells: CellDirectory, deadLetters: number): { actors: ActorListEntry[]; totals: NodeTotals } {
  let restarts = cells.retired.restarts;
  let processed = cells.retired.processed;
  const actors = cells.all().map((c): ActorListEntry => {
    restarts += c.restartCount;
    processed += c.processed;
    return { path: c.path, kind: c.kind ?? "", restarts: c.restartCount, mailboxSize: c.mailboxSize, processed: c.processed };
  });
  return { actors, totals: { deadLetters, restarts, processed } };
}
