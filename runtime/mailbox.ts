import type { ActorRef } from "./actor-ref.js";

/**
 * What a full mailbox does with one more message. Either way the message that loses goes to dead
 * letters with reason "mailbox-overflow", so nothing disappears silently.
 * - "drop-newest": refuse the incoming message (the default: existing work keeps its order).
 * - "drop-oldest": evict the oldest queued message to make room (for "latest value wins" actors).
 */
export type OverflowPolicy = "drop-newest" | "drop-oldest";

export interface MailboxOptions {
  /** Most messages queued at once; `Infinity` for unbounded. Default 100,000. */
  readonly capacity?: number;
  /** Default "drop-newest". */
  readonly overflow?: OverflowPolicy;
}

export const DEFAULT_MAILBOX_CAPACITY = 100_000;

/**
 * A FIFO ring buffer of (message, sender, headers) kept in parallel arrays, so queueing a message
 * allocates nothing once the ring has grown to its working size.
 */
export class Mailbox {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  private messages: (object | undefined)[];
  private senders: (ActorRef<any> | undefined)[];
  private headers: (Readonly<Record<string, string>> | undefined)[];
  private head = 0;
  private count = 0;

  constructor(options: MailboxOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_MAILBOX_CAPACITY;
    if (!(capacity >= 1)) throw new RangeError(`mailbox capacity must be at least 1 (or Infinity); got ${capacity}`);
    const overflow = options.overflow ?? "drop-newest";
    if (overflow !== "drop-newest" && overflow !== "drop-oldest") {
      throw new RangeError(`mailbox overflow must be "drop-newest" or "drop-oldest"; got ${JSON.stringify(overflow)}`);
    }
    this.capacity = capacity;
    this.overflow = overflow;
    const initial = 16;
    this.messages = new Array<object | undefined>(initial);
    this.senders = new Array<ActorRef<any> | undefined>(initial);
    this.headers = new Array<Readonly<Record<string, string>> | undefined>(initial);
  }

  get size(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.capacity;
  }

  push(message: object, sender: ActorRef<any> | undefined, headers: Readonly<Record<string, string>> | undefined): void {
    if (this.count === this.messages.length) this.grow();
    const at = (this.head + this.count) & (this.messages.length - 1);
    this.messages[at] = message;
    this.senders[at] = sender;
    this.headers[at] = headers;
    this.count++;
  }

  /** The sender and headers of the message `shift` will return next. Call before `shift`. */
  peekSender(): ActorRef<any> | undefined {
    return this.senders[this.head];
  }

  peekHeaders(): Readonly<Record<string, string>> | undefined {
    return this.headers[this.head];
  }

  /** Removes and returns the oldest message; undefined when empty. */
  shift(): object | undefined {
    if (this.count === 0) return undefined;
    const at = this.head;
    const message = this.messages[at];
    this.messages[at] = undefined;
    this.senders[at] = undefined;
    this.headers[at] = undefined;
    this.head = (at + 1) & (this.messages.length - 1);
    this.count--;
    return message;
  }

  private grow(): void {
    // Lengths stay powers of two so wrapping is a mask; capacity is enforced by the caller via isFull.
    const size = this.messages.length;
    const next = size * 2;
    const reorder = <T>(items: T[]): T[] => {
      const out = new Array<T>(next);
      for (let i = 0; i < this.count; i++) out[i] = items[(this.head + i) & (size - 1)]!;
      return out;
    };
    this.messages = reorder(this.messages);
    this.senders = reorder(this.senders);
    this.headers = reorder(this.headers);
    this.head = 0;
  }
}
