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

/** A queued message that came with a sender or headers; bare messages are queued as themselves. */
class Delivery {
  constructor(
    readonly message: object,
    readonly sender: ActorRef<any> | undefined,
    readonly headers: Readonly<Record<string, string>> | undefined,
  ) {}
}

/**
 * A FIFO ring buffer of messages with their sender and headers. A message with neither (the common
 * local tell) takes one slot and no allocation; others are wrapped. Nothing is allocated until the
 * first message, so idle actors stay small. The ring's length is a power of two, so wrapping is a
 * mask; capacity is enforced by the caller through `isFull`.
 */
export class Mailbox {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  private ring: (object | undefined)[] = EMPTY;
  private head = 0;
  private count = 0;
  /** Sender of the message last returned by `shift`. */
  lastSender: ActorRef<any> | undefined;
  /** Headers of the message last returned by `shift`. */
  lastHeaders: Readonly<Record<string, string>> | undefined;

  constructor(options: MailboxOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_MAILBOX_CAPACITY;
    if (!(capacity >= 1)) throw new RangeError(`mailbox capacity must be at least 1 (or Infinity); got ${capacity}`);
    const overflow = options.overflow ?? "drop-newest";
    if (overflow !== "drop-newest" && overflow !== "drop-oldest") {
      throw new RangeError(`mailbox overflow must be "drop-newest" or "drop-oldest"; got ${JSON.stringify(overflow)}`);
    }
    this.capacity = capacity;
    this.overflow = overflow;
  }

  get size(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.capacity;
  }

  push(message: object, sender: ActorRef<any> | undefined, headers: Readonly<Record<string, string>> | undefined): void {
    if (this.count === this.ring.length) this.grow();
    const entry = sender === undefined && headers === undefined && message.constructor !== Delivery ? message : new Delivery(message, sender, headers);
    this.ring[(this.head + this.count) & (this.ring.length - 1)] = entry;
    this.count++;
  }

  /**
   * Removes and returns the oldest message (undefined when empty), and sets `lastSender` and
   * `lastHeaders` to the ones it came with.
   */
  shift(): object | undefined {
    if (this.count === 0) return undefined;
    const entry = this.ring[this.head]!;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) & (this.ring.length - 1);
    this.count--;
    if (entry.constructor === Delivery) {
      this.lastSender = (entry as Delivery).sender;
      this.lastHeaders = (entry as Delivery).headers;
      return (entry as Delivery).message;
    }
    this.lastSender = undefined;
    this.lastHeaders = undefined;
    return entry;
  }

  private grow(): void {
    const old = this.ring;
    const size = old.length;
    const next = new Array<object | undefined>(size === 0 ? INITIAL_SLOTS : size * 2);
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & (size - 1)];
    this.ring = next;
    this.head = 0;
  }
}

const EMPTY: (object | undefined)[] = [];
const INITIAL_SLOTS = 8;
