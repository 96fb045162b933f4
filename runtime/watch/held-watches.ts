import type { ActorCell } from "../actor-cell.js";

/**
 * The watches of this node's actors held for the actors of other nodes, by watching node: what makes
 * a per-node cap possible, and lets every watch of a node that is gone be dropped at once (otherwise
 * each would cost a Terminated to a dead inbox when its actor stops).
 */
export class HeldWatches {
  private readonly byNode = new Map<string, { count: number; readonly cells: Map<ActorCell, Set<string>> }>();

  count(node: string): number {
    return this.byNode.get(node)?.count ?? 0;
  }

  add(node: string, cell: ActorCell, watcherKey: string): void {
    let held = this.byNode.get(node);
    if (held === undefined) this.byNode.set(node, (held = { count: 0, cells: new Map() }));
    let keys = held.cells.get(cell);
    if (keys === undefined) held.cells.set(cell, (keys = new Set()));
    if (keys.has(watcherKey)) return;
    keys.add(watcherKey);
    held.count++;
  }

  remove(node: string, cell: ActorCell, watcherKey: string): void {
    const held = this.byNode.get(node);
    const keys = held?.cells.get(cell);
    if (held === undefined || keys === undefined || !keys.delete(watcherKey)) return;
    held.count--;
    if (keys.size === 0) held.cells.delete(cell);
    if (held.count === 0) this.byNode.delete(node);
  }

  /** Forgets the watches of `node` and returns them, by cell, for the caller to drop from the cells. */
  takeNode(node: string): ReadonlyMap<ActorCell, ReadonlySet<string>> {
    const held = this.byNode.get(node);
    this.byNode.delete(node);
    return held?.cells ?? new Map();
  }
}
