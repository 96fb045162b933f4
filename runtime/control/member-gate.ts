import { formatAddress, type Address } from "../address.js";
import type { NodeMembership } from "../membership/node-membership.js";

/** What the gate needs from its node. */
export interface MemberGateHost {
  readonly nodeId: string;
  readonly system: string;
  /** Undefined when membership is off: then every node of the system is admitted (permissions alone guard). */
  membership(): NodeMembership | undefined;
}

/**
 * Admits control messages only from live members of this node's system. A member's heartbeat reaches
 * this node before any control message it sends (it announces itself on start and when it sees a new
 * node, on the same connection), so a sender not seen yet is most likely a ghost; the rare one that is
 * merely early (a route that reordered) is held until its first heartbeat, within bounds.
 */
export class MemberGate {
  private awaiting = 0;

  constructor(
    private readonly host: MemberGateHost,
    private readonly maxAwaiting: number,
    private readonly onLimitHit: () => void,
  ) {}

  /** Whether `sender` is an actor of a live member of this system (this node included), now. */
  isMember(sender: Address): boolean {
    if (sender.system !== this.host.system || sender.node === "") return false;
    const membership = this.host.membership();
    return membership === undefined || sender.node === this.host.nodeId || membership.isAlive(sender.node);
  }

  /** Calls `admitted` now or once `sender`'s node has joined; `refused` with why otherwise. */
  admit(sender: Address | undefined, what: string, admitted: () => void, refused: (detail: string) => void): void {
    if (sender === undefined || sender.node === "") return refused(`${what} names no sender: control messages come from nodes`);
    if (sender.system !== this.host.system) return refused(`${what} from ${formatAddress(sender)}, outside system ${this.host.system}`);
    if (this.isMember(sender)) return admitted();
    const membership = this.host.membership()!;
    if (this.awaiting >= this.maxAwaiting) {
      this.onLimitHit();
      return refused(`${what} from node ${sender.node}, which is not a live member; ${this.maxAwaiting} control messages already wait for their nodes (maxControlAwaitingMembership)`);
    }
    this.awaiting++;
    membership.waitForNode(sender.node, membership.failureTimeoutMs).then(
      () => {
        this.awaiting--;
        admitted();
      },
      () => {
        this.awaiting--;
        refused(`${what} from node ${sender.node}, which is not a live member of system ${this.host.system} (no heartbeat within ${membership.failureTimeoutMs} ms)`);
      },
    );
  }
}
