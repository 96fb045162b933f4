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

/** A queued message that came with headers (a traced send); others are queued as themselves. */
class WithHeaders {
  constructor(
    readonly message: object,
    readonly headers: Readonly<Record<string, string>>,
  ) {}
}

/**
 * A FIFO ring buffer of messages with their sender and headers. Each message takes two slots, itself
 * and its sender, so a tell with a sender (every reply, every ask) allocates nothing; only headers
 * (tracing) wrap the message. Nothing is allocated until the first message, so idle actors stay small,
 * and the first ring holds two messages, since most actors never have more waiting. The ring's length
 * is a power of two, so wrapping is a mask; capacity is enforced by the caller through `isFull`.
 */
export class Mailbox {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  private ring: (object | undefined)[] = EMPTY;
  /** Slot of the oldest message (even). */
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
    if (this.count * 2 === this.ring.length) this.grow();
    const slot = (this.head + this.count * 2) & (this.ring.length - 1);
    this.ring[slot] = headers === undefined ? message : new WithHeaders(message, headers);
    this.ring[slot + 1] = sender;
    this.count++;
  }

  /**
   * Removes and returns the oldest message (undefined when empty), and sets `lastSender` and
   * `lastHeaders` to the ones it came with.
   */
  shift(): object | undefined {
    if (this.count === 0) return undefined;
    const ring = this.ring;
    const head = this.head;
    const entry = ring[head]!;
    this.lastSender = ring[head + 1] as ActorRef<any> | undefined;
    ring[head] = undefined;
    ring[head + 1] = undefined;
    this.head = (head + 2) & (ring.length - 1);
    this.count--;
    if (entry.constructor === WithHeaders) {
      this.lastHeaders = (entry as WithHeaders).headers;
      return (entry as WithHeaders).message;
    }
    this.lastHeaders = undefined;
    return entry;
  }

  private grow(): void {
    const old = this.ring;
    const size = old.length;
    const next = new Array<object | undefined>(size === 0 ? INITIAL_SLOTS : size * 2);
    for (let i = 0; i < this.count * 2; i++) next[i] = old[(this.head + i) & (size - 1)];
    this.ring = next;
    this.head = 0;
  }
}

const EMPTY: (object | undefined)[] = [];
/** Two messages with their senders. */
const INITIAL_SLOTS = 4;
