import { formatAddress, type Address } from "./address.js";
import type { Clock, TimerHandle } from "./clock.js";
import type { MessageType } from "./codec/message-type.js";
import { Failure } from "./codec/wire-types.js";
import { AskFailedError, AskTimeoutError, UnexpectedReplyError } from "./errors.js";
import { TempPaths } from "./temp-paths.js";
import type { AskOutcome, NodeStats } from "./stats/node-stats.js";

export { TEMP_PREFIX } from "./temp-paths.js";

interface Pending {
  readonly resolve: (reply: any) => void;
  readonly reject: (error: Error) => void;
  readonly replyType: MessageType;
  readonly replyTypeName: string;
  readonly target: Address;
  readonly timer: TimerHandle;
  /** `performance.now()` when opened, with metrics on (0 otherwise). */
  readonly openedAt: number;
}

/** Why a message to a temporary path settled nothing. */
export interface Refusal {
  readonly reason: "forged-reply" | "late-reply";
  readonly detail: string;
}

/**
 * Asks waiting for their reply. Each ask gets a temporary address `/temp/<32 hex digits>` on this
 * node (unguessable: see TempPaths), used as the sender of the request; a reply is an ordinary
 * message to that address, so it costs no extra subscription.
 *
 * A reply settles an ask only when it comes from the asked actor: its sender is the ask's target
 * address, or it is a `Failure` from the target's node (the node answers so for a missing, stopped or
 * failing actor). Anything else is refused as a forged reply and the ask keeps waiting for the real
 * one. The sender is data an attacker can write too: the path, which only the asker and the asked
 * node see, is what keeps strangers out; the sender check keeps out whoever learnt the path without
 * being the one asked (a third actor it was passed on to, a client that watched the request go by).
 */
export class PendingAsks {
  private readonly pending = new Map<string, Pending>();
  private readonly paths = new TempPaths();

  constructor(
    private readonly clock: Clock,
    /** The protobuf name of a message, for errors about replies of the wrong type. */
    private readonly typeNameOf: (message: object) => string | undefined = () => undefined,
    /** The node's counters, when metrics are on: asks by outcome and their duration. */
    private readonly stats?: NodeStats,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Registers an ask; returns its temp path and the promise of its reply. */
  open<R extends object>(
    target: Address,
    requestTypeName: string,
    replyType: MessageType<R>,
    replyTypeName: string,
    timeoutMs: number,
  ): { path: string; reply: Promise<R> } {
    const path = this.paths.mint();
    let entry!: Pending;
    const stats = this.stats;
    if (stats !== undefined) stats.asks.started++;
    const reply = new Promise<R>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pending.delete(path);
        this.ended(entry, "timed_out");
        reject(new AskTimeoutError(target, requestTypeName, timeoutMs));
      }, timeoutMs);
      entry = { resolve, reject, replyType, replyTypeName, target, timer, openedAt: stats === undefined ? 0 : performance.now() };
    });
    this.pending.set(path, entry);
    return { path, reply };
  }

  /**
   * Settles the ask behind `path` with `message` from `sender`; returns undefined when it did, else
   * why not (the message then settled nothing and belongs to dead letters).
   */
  settle(path: string, message: object, sender: Address | undefined): Refusal | undefined {
    const entry = this.pending.get(path);
    if (entry === undefined) {
      return this.paths.wasIssued(path)
        ? { reason: "late-reply", detail: `no ask is waiting at ${path} (timed out or already answered)` }
        : { reason: "forged-reply", detail: `no ask of this node ever had the path ${path}` };
    }
    const target = entry.target;
    const fromTarget = sender !== undefined && sender.node === target.node && sender.system === target.system && (sender.path === target.path || message instanceof Failure);
    if (!fromTarget) {
      const from = sender === undefined ? "no sender" : formatAddress(sender);
      return { reason: "forged-reply", detail: `reply to ${path} from ${from}, not from ${formatAddress(target)} (nor a Failure from its node); the ask still waits` };
    }
    this.pending.delete(path);
    this.clock.clearTimeout(entry.timer);
    this.ended(entry, message instanceof entry.replyType ? "replied" : "failed");
    if (message instanceof entry.replyType) entry.resolve(message);
    else if (message instanceof Failure) entry.reject(new AskFailedError(target, message.reason, message.message));
    else entry.reject(new UnexpectedReplyError(target, entry.replyTypeName, this.typeNameOf(message) ?? message.constructor.name));
    return undefined;
  }

  /** Fails an ask whose request could not even be sent. */
  abandon(path: string, error: Error): void {
    const entry = this.pending.get(path);
    if (entry === undefined) return;
    this.pending.delete(path);
    this.clock.clearTimeout(entry.timer);
    this.ended(entry, "not_sent");
    entry.reject(error);
  }

  rejectAll(error: Error): void {
    for (const [path, entry] of this.pending) {
      this.clock.clearTimeout(entry.timer);
      this.ended(entry, "stopped");
      entry.reject(error);
      this.pending.delete(path);
    }
  }

  private ended(entry: Pending, outcome: AskOutcome): void {
    this.stats?.askEnded(outcome, performance.now() - entry.openedAt);
  }
}
