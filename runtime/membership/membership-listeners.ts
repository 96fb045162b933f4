import type { Clock } from "../clock.js";
import type { Unsubscribe } from "../transport/transport.js";
import type { MembershipEvent, NodeInfo } from "./node-table.js";

/** Who listens to a membership's events, and waiting for a node: the same for both protocols. */
export class MembershipListeners {
  private readonly listeners = new Set<(event: MembershipEvent) => void>();

  constructor(
    private readonly clock: Clock,
    private readonly nodeId: string,
  ) {}

  add(listener: (event: MembershipEvent) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: MembershipEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // Listeners observe; a faulty one must not stop membership messages from being processed.
      }
    }
  }

  /** Resolves with the node once `nodes` lists it or it joins; rejects if it is not seen within `timeoutMs`. */
  waitForNode(nodes: readonly NodeInfo[], node: string, timeoutMs: number): Promise<NodeInfo> {
    const alive = nodes.find((n) => n.node === node);
    if (alive) return Promise.resolve(alive);
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        off();
        reject(new Error(`node ${node} was not seen by node ${this.nodeId} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.add((event) => {
        if ((event.type === "joined" || event.type === "restarted") && event.node.node === node) {
          this.clock.clearTimeout(timer);
          off();
          resolve(event.node);
        }
      });
    });
  }
}
