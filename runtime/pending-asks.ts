import type { Address } from "./address.js";
import type { Clock, TimerHandle } from "./clock.js";
import type { MessageType } from "./codec/message-type.js";
import { Failure } from "./codec/wire-types.js";
import { AskFailedError, AskTimeoutError, UnexpectedReplyError } from "./errors.js";

interface Pending {
  readonly resolve: (reply: any) => void;
  readonly reject: (error: Error) => void;
  readonly replyType: MessageType;
  readonly replyTypeName: string;
  readonly target: Address;
  readonly timer: TimerHandle;
}

export const TEMP_PREFIX = "/temp/";

/**
 * Asks waiting for their reply. Each ask gets a temporary address `/temp/<n>` on this node, used as
 * the sender of the request; a reply is an ordinary message to that address, so it is correlated
 * wherever it comes from and costs no extra subscription.
 */
export class PendingAsks {
  private readonly pending = new Map<number, Pending>();
  private seq = 0;

  constructor(private readonly clock: Clock) {}

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
    const id = ++this.seq;
    let entry!: Pending;
    const reply = new Promise<R>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pending.delete(id);
        reject(new AskTimeoutError(target, requestTypeName, timeoutMs));
      }, timeoutMs);
      entry = { resolve, reject, replyType, replyTypeName, target, timer };
    });
    this.pending.set(id, entry);
    return { path: `${TEMP_PREFIX}${id}`, reply };
  }

  /** Settles the ask behind `path` with `message`; false when no such ask is waiting. */
  settle(path: string, message: object, messageTypeName: string | undefined): boolean {
    const id = Number(path.slice(TEMP_PREFIX.length));
    const entry = this.pending.get(id);
    if (entry === undefined) return false;
    this.pending.delete(id);
    this.clock.clearTimeout(entry.timer);
    if (message instanceof entry.replyType) entry.resolve(message);
    else if (message instanceof Failure) entry.reject(new AskFailedError(entry.target, message.reason, message.message));
    else entry.reject(new UnexpectedReplyError(entry.target, entry.replyTypeName, messageTypeName ?? message.constructor.name));
    return true;
  }

  /** Fails an ask whose request could not even be sent. */
  abandon(path: string, error: Error): void {
    const id = Number(path.slice(TEMP_PREFIX.length));
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    this.pending.delete(id);
    this.clock.clearTimeout(entry.timer);
    entry.reject(error);
  }

  rejectAll(error: Error): void {
    for (const [id, entry] of this.pending) {
      this.clock.clearTimeout(entry.timer);
      entry.reject(error);
      this.pending.delete(id);
    }
  }
}
