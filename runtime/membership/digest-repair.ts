import type { Clock } from "../clock.js";
import type { Subjects } from "../subjects.js";
import type { Transport } from "../transport/transport.js";
import type { HeartbeatRefusal } from "./heartbeat-refusal.js";
import type { ProbeResult } from "./loss-detector.js";
import { sameKinds, type MembershipEvent, type NodeInfo } from "./node-table.js";
import { decodeDigest, encodeDigest, xorHex } from "./ring-messages.js";
import type { RingView, ViewChange } from "./ring-view.js";
import { fetchRoster } from "./roster.js";

/** Nodes a digest repair probes at most (those one roster has and the other has not, or with another incarnation or other kinds). */
export const MAX_REPAIR_PROBES = 32;

const EMPTY = new Uint8Array(0);

/** What a repair needs of the ring membership it repairs. */
export interface DigestRepairOptions {
  readonly transport: Transport;
  readonly subjects: Subjects;
  readonly nodeId: string;
  readonly incarnation: string;
  readonly clock: Clock;
  readonly view: RingView;
  /** At most one repair per half of it. */
  readonly repairIntervalMs: number;
  readonly rosterTimeoutMs: number;
  readonly maxNodes: number;
  readonly maxKindsPerNode: number;
  readonly running: () => boolean;
  /** The kinds this node announced last (its share of its own digest). */
  readonly announcedKinds: () => readonly string[];
  /** Probes `node`: its answer is the node's own heartbeat (read by the membership, it also corrects this view's kinds of it). */
  readonly probe: (node: string) => Promise<ProbeResult>;
  readonly apply: (change: ViewChange) => void;
  readonly emit: (events: readonly MembershipEvent[]) => void;
  readonly refuse: (reason: HeartbeatRefusal, detail: string, bytes: Uint8Array) => void;
  readonly send: (subject: string, bytes: Uint8Array) => void;
}

/**
 * The ring membership's repair of notices missed (docs/scale.md): sends this node's digest (member
 * count and XOR of member hashes) to a member, and when a digest received differs from its own, reads
 * the sender's roster and settles each difference by asking the node concerned.
 */
export class DigestRepair {
  private repairing = false;
  private lastRepairMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: DigestRepairOptions) {}

  /** Sends this node's digest to `to`, or to a member picked at random. */
  sendDigest(to?: string): void {
    const { view, subjects, nodeId, incarnation } = this.options;
    const ids = view.ids();
    const peer = to ?? ids[Math.floor(Math.random() * ids.length)];
    if (peer === undefined) return;
    const { count, high, low } = view.digest(incarnation, this.options.announcedKinds());
    this.options.send(subjects.membershipTo(peer), encodeDigest({ node: nodeId, count, xor: xorHex(high, low) }, subjects.system));
  }

  onDigest(bytes: Uint8Array): void {
    const { subjects, nodeId, clock, view, refuse } = this.options;
    const decoded = decodeDigest(bytes, subjects.system);
    if (!decoded.ok) return refuse(decoded.reason, decoded.detail, bytes);
    const theirs = decoded.value;
    if (theirs.node === nodeId) return;
    const mine = view.digest(this.options.incarnation, this.options.announcedKinds());
    if (theirs.count === mine.count && theirs.xor === xorHex(mine.high, mine.low)) return;
    const now = clock.now();
    if (this.repairing || now - this.lastRepairMs < this.options.repairIntervalMs / 2) {
      return refuse("over-rate", `digest from ${theirs.node} differs, but a repair ran ${now - this.lastRepairMs} ms ago`, EMPTY);
    }
    this.repair(theirs.node).catch((error: unknown) => refuse("malformed", `repair after the digest of ${theirs.node} failed: ${(error as Error).message}`, EMPTY));
  }

  /**
   * Reads `peer`'s roster and settles each difference by probing the node concerned, and believes
   * only what the node answers, never the roster (another member's word, maybe forged): one the peer
   * has and this view lacks joins as it answers (its incarnation, start, kinds and server); one the
   * peer lists with another incarnation restarts only if its answer says so (as a `joined` of the node
   * would); one this view has and the peer lacks is dropped if it does not answer (locally: this node
   * need not be its monitor); one of the same incarnation with other kinds takes the kinds its answer
   * carries. Then tells the peer of its own digest when the peer lacked something or was wrong, so
   * that it repairs in turn.
   */
  private async repair(peer: string): Promise<void> {
    const { transport, subjects, clock, nodeId, view } = this.options;
    this.repairing = true;
    const lastRepairMs = this.lastRepairMs;
    this.lastRepairMs = clock.now();
    try {
      const roster = await fetchRoster(transport, subjects.membershipRoster, {
        member: peer,
        system: subjects.system,
        timeoutMs: this.options.rosterTimeoutMs,
        maxNodes: this.options.maxNodes + 1,
        maxKindsPerNode: this.options.maxKindsPerNode,
        onInvalid: (detail) => this.options.refuse("malformed", detail, EMPTY),
        clock,
      });
      // No roster read (the peer did not answer, perhaps a digest naming no one): the slot is not used up,
      // or one forged digest every few seconds would hold off every real repair.
      if (roster === undefined) this.lastRepairMs = lastRepairMs;
      if (roster === undefined || !this.options.running()) return;
      const now = clock.now();
      const theirs = new Set(roster.nodes.map((n) => n.node));
      const toAdd: NodeInfo[] = [];
      const toReplace: NodeInfo[] = [];
      const toRefresh: NodeInfo[] = [];
      let peerLacks = false;
      for (const info of roster.nodes) {
        if (info.node === nodeId) {
          peerLacks ||= info.incarnation !== this.options.incarnation || !sameKinds(info.kinds, this.options.announcedKinds());
          continue;
        }
        const known = view.get(info.node);
        if (known === undefined) {
          if (!view.removedLately(info.node, info.incarnation, now)) toAdd.push(info);
        } else if (known.incarnation !== info.incarnation) toReplace.push(info);
        else if (!sameKinds(known.kinds, info.kinds)) toRefresh.push(info);
      }
      const toCheck = roster.complete ? view.ids().filter((node) => !theirs.has(node)) : [];
      const probed = [...toAdd, ...toReplace].map((info) => info.node).concat(toCheck, toRefresh.map((info) => info.node)).slice(0, MAX_REPAIR_PROBES);
      const results = new Map(await Promise.all(probed.map(async (node) => [node, await this.options.probe(node)] as const)));
      if (!this.options.running()) return;
      const later = clock.now();
      const answer = (node: string) => {
        const result = results.get(node);
        return result?.outcome === "answered" ? result.heartbeat : undefined;
      };
      for (const info of toAdd) {
        const beat = answer(info.node);
        if (beat !== undefined && !view.has(info.node)) this.options.apply(view.joined(beat, later));
      }
      for (const info of toReplace) {
        const beat = answer(info.node);
        const known = view.get(info.node);
        if (beat === undefined || known === undefined) continue;
        // The node itself names another incarnation than this view's: a restart, claimed by the node.
        if (beat.incarnation !== known.incarnation) this.options.apply(view.joined(beat, later));
        else peerLacks = true; // the peer's incarnation is not the one that answers
      }
      // Still other kinds than the peer's after the node answered: the peer's are the old ones.
      for (const info of toRefresh) {
        const known = view.get(info.node);
        if (answer(info.node) !== undefined && known?.incarnation === info.incarnation && !sameKinds(known.kinds, info.kinds)) peerLacks = true;
      }
      peerLacks ||= !theirs.has(nodeId);
      for (const node of toCheck) {
        const known = view.get(node);
        const outcome = results.get(node)?.outcome;
        if (outcome === "silent" && known) this.options.emit(view.remove(node, known.incarnation, "lost", later));
        else if (outcome === "answered") peerLacks = true;
      }
      if (peerLacks) this.sendDigest(peer);
    } finally {
      this.repairing = false;
    }
  }
}
