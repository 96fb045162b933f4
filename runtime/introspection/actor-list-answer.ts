import type { CellDirectory } from "../cell-directory.js";
import type { ActorListEntry, NodeTotals } from "./actor-list-pages.js";

/** A live entity copy on the node, as `troupe actors` lists it. */
export interface EntityActivationEntry {
  readonly kind: string;
  readonly key: string;
}

/**
 * What a node answers to an `ActorListRequest`: its live actors with their counters, and its totals
 * (those of the actors that stopped included), read in one walk over the cells. Live entity copies
 * are listed too, at `/entity/<kind>/<key>` with kind `entity.<kind>` (as the node's heartbeat names it).
 */
export function actorListAnswer(cells: CellDirectory, deadLetters: number, entities: readonly EntityActivationEntry[] = []): { actors: ActorListEntry[]; totals: NodeTotals } {
  let restarts = cells.retired.restarts;
  let processed = cells.retired.processed;
  const actors = cells.all().map((c): ActorListEntry => {
    restarts += c.restartCount;
    processed += c.processed;
    return { path: c.path, kind: c.kind ?? "", restarts: c.restartCount, mailboxSize: c.mailboxSize, processed: c.processed };
  });
  for (const { kind, key } of entities) actors.push({ path: `/entity/${kind}/${key}`, kind: `entity.${kind}`, restarts: 0, mailboxSize: 0 });
  return { actors, totals: { deadLetters, restarts, processed } };
}
