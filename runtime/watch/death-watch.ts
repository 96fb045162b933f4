import { formatAddress, type Address } from "../address.js";
import type { ActorCell } from "../actor-cell.js";
import type { ActorRef } from "../actor-ref.js";
import { troupe } from "../../proto/gen/troupe.js";
import { Terminated, type TerminationReason } from "./termination.js";
import { watchKey } from "./watch-state.js";
import { HeldWatches } from "./held-watches.js";
import type { MemberGate } from "../control/member-gate.js";

const Watch = troupe.system.Watch;
const Unwatch = troupe.system.Unwatch;

/** What death watch needs from its node. */
export interface DeathWatchHost {
  readonly nodeId: string;
  readonly gate: MemberGate;
  /** Most watches held for the actors of one other node. */
  readonly maxWatchesPerNode: number;
  cellAt(path: string): ActorCell | undefined;
  refFor(address: Address): ActorRef<any>;
  /** A control message refused: a `refused-control` dead letter (and `limit` counted, when one was hit). */
  refused(detail: string, path: string, sender: Address | undefined, type: string, limit?: "maxWatchesPerNode"): void;
}

/**
 * Death watch for one node (Erlang's monitors, Akka's watch). Local watches are bookkeeping on the two
 * cells. A remote watch sends `Watch` to the watched actor's node, which answers with `Terminated`
 * when the actor stops; if that node disappears from the membership, this node tells its watchers
 * itself ("node-lost"). Each watcher hears about each watched actor at most once. Watches arrive only
 * from live members (each node's within a cap), and a Terminated only from the watched actor's node.
 */
export class DeathWatch {
  /** Local cells watching actors on each remote node, for "node-lost". */
  private readonly remoteWatchers = new Map<string, Set<ActorCell>>();
  /** Watches of local cells held for other nodes' actors. */
  private readonly held = new HeldWatches();

  constructor(private readonly host: DeathWatchHost) {}

  watch(watcher: ActorCell, target: ActorRef<any>): void {
    if (watcher.isStopping) return;
    const key = watchKey(target.address);
    const watching = watcher.watchState.watching;
    if (watching.has(key)) return;
    watching.set(key, target);
    if (this.isLocal(target.address)) {
      const cell = this.host.cellAt(target.address.path);
      if (cell === undefined || cell.isTerminated) return this.deliver(watcher, target.address, "not-found", `no actor at ${target.address.path} on node ${this.host.nodeId}`);
      cell.watchState.watchedBy.set(watchKey(watcher.address), watcher.self);
      return;
    }
    let cells = this.remoteWatchers.get(target.address.node);
    if (cells === undefined) this.remoteWatchers.set(target.address.node, (cells = new Set()));
    cells.add(watcher);
    target.tell(Watch.create(), watcher.self);
  }

  unwatch(watcher: ActorCell, target: ActorRef<any>): void {
    const key = watchKey(target.address);
    if (!watcher.watchStateIfAny?.watching.delete(key)) return;
    if (this.isLocal(target.address)) {
      this.host.cellAt(target.address.path)?.watchStateIfAny?.watchedBy.delete(watchKey(watcher.address));
      return;
    }
    this.forgetRemote(watcher, target.address.node);
    target.tell(Unwatch.create(), watcher.self);
  }

  /** `cell` stopped: tell everyone who watches it, and stop watching others. */
  terminated(cell: ActorCell, reason: TerminationReason, detail: string): void {
    const state = cell.watchStateIfAny;
    if (state === undefined) return;
    for (const watcher of state.watchedBy.values()) {
      if (this.isLocal(watcher.address)) {
        const watcherCell = this.host.cellAt(watcher.address.path);
        if (watcherCell !== undefined) this.deliver(watcherCell, cell.address, reason, detail);
      } else {
        this.held.remove(watcher.address.node, cell, watchKey(watcher.address));
        watcher.tell(Terminated.create({ actor: cell.address, reason, detail }), cell.self);
      }
    }
    state.watchedBy.clear();
    for (const target of [...state.watching.values()]) this.unwatch(cell, target);
  }

  /** A `Watch` arrived from another node for the actor at `path`. */
  watchArrived(path: string, watcher: ActorRef<any> | undefined): void {
    if (watcher !== undefined && this.host.gate.isMember(watcher.address)) return this.watchAdmitted(path, watcher);
    this.host.gate.admit(watcher?.address, "watch", () => this.watchAdmitted(path, watcher!), (detail) => this.host.refused(detail, path, watcher?.address, "troupe.system.Watch"));
  }

  private watchAdmitted(path: string, watcher: ActorRef<any>): void {
    const cell = this.host.cellAt(path);
    const actor = { system: watcher.address.system, node: this.host.nodeId, path };
    if (cell === undefined || cell.isTerminated) {
      // From the actor's address, as a Terminated must be (see terminatedArrived).
      watcher.tell(Terminated.create({ actor, reason: "not-found", detail: `no actor at ${path} on node ${this.host.nodeId}` }), this.host.refFor(actor));
      return;
    }
    const key = watchKey(watcher.address);
    const watchedBy = cell.watchState.watchedBy;
    if (watchedBy.has(key)) return;
    const node = watcher.address.node;
    if (this.held.count(node) >= this.host.maxWatchesPerNode) {
      const detail = `node ${this.host.nodeId} already holds ${this.host.maxWatchesPerNode} watches for node ${node} (maxWatchesPerNode); ${formatAddress(watcher.address)} does not watch ${path}`;
      return this.host.refused(detail, path, watcher.address, "troupe.system.Watch", "maxWatchesPerNode");
    }
    watchedBy.set(key, watcher);
    this.held.add(node, cell, key);
  }

  unwatchArrived(path: string, watcher: ActorRef<any> | undefined): void {
    if (watcher === undefined) return;
    const cell = this.host.cellAt(path);
    const key = watchKey(watcher.address);
    if (cell?.watchStateIfAny?.watchedBy.delete(key)) this.held.remove(watcher.address.node, cell, key);
  }

  /** A `Terminated` arrived from another node for the local watcher at `path`, from `sender`. */
  terminatedArrived(path: string, message: Terminated, sender: Address | undefined): void {
    const watcher = this.host.cellAt(path);
    const actor = message.actor;
    if (watcher === undefined || !actor?.system || !actor.node || !actor.path) return;
    const address = { system: actor.system, node: actor.node, path: actor.path };
    if (sender?.node !== address.node || sender.system !== address.system) {
      // Only the watched actor's node says it stopped; a node that is lost is noticed by membership.
      const detail = `Terminated for ${formatAddress(address)} from ${sender ? formatAddress(sender) : "no sender"}: only ${address.node} says its actors stopped`;
      return this.host.refused(detail, path, sender, "troupe.system.Terminated");
    }
    this.deliver(watcher, address, message.reason as TerminationReason, message.detail);
    this.forgetRemote(watcher, address.node);
  }

  /** `node` left or was lost: everything watched there is gone, and so are its watches of ours. */
  nodeLost(node: string, detail: string): void {
    for (const [cell, keys] of this.held.takeNode(node)) {
      const watchedBy = cell.watchStateIfAny?.watchedBy;
      for (const key of keys) watchedBy?.delete(key);
    }
    const cells = this.remoteWatchers.get(node);
    if (cells === undefined) return;
    this.remoteWatchers.delete(node);
    for (const watcher of cells) {
      for (const target of [...(watcher.watchStateIfAny?.watching.values() ?? [])]) {
        if (target.address.node === node) this.deliver(watcher, target.address, "node-lost", detail);
      }
    }
  }

  /** Enqueues `Terminated` to the watcher, once: only while it still watches that actor. */
  private deliver(watcher: ActorCell, actor: Address, reason: TerminationReason, detail: string): void {
    const key = watchKey(actor);
    const watched = watcher.watchStateIfAny?.watching.get(key);
    if (watched === undefined) return;
    watcher.watchState.watching.delete(key);
    // A watcher that is stopping (its children stop with it) would only dead-letter the news.
    if (watcher.isStopping) return;
    watcher.enqueue(Terminated.create({ actor, reason, detail }), watched, undefined);
  }

  private forgetRemote(watcher: ActorCell, node: string): void {
    const stillWatchingThere = [...(watcher.watchStateIfAny?.watching.values() ?? [])].some((t) => t.address.node === node);
    if (!stillWatchingThere) this.remoteWatchers.get(node)?.delete(watcher);
  }

  private isLocal(address: Address): boolean {
    return address.node === this.host.nodeId;
  }
}
