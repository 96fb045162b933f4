import type { ActorRef } from "./actor-ref.js";
import { approximateBytes } from "./approximate-bytes.js";

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
  /**
   * Most bytes queued at once, by estimate: `approximateBytes` of each message (the length of its
   * strings and byte arrays, 8 bytes per other field, 16 per object), not the bytes it came in on
   * the wire nor the memory V8 gives it. A mailbox holding this much or more takes no more: the next
   * message is refused or the oldest evicted, by `overflow`, as when it is full by count; so it holds
   * at most this plus one message. Default `Infinity`: bounded by `capacity` only, and no estimate made.
   */
  readonly maxBytes?: number;
}

export const DEFAULT_MAILBOX_CAPACITY = 100_000;

/**
 * A FIFO ring buffer of messages with their sender and headers. Senders and headers sit in rings of
 * their own, each created with the first message that has one, so a tell without either (the common
 * local tell) costs one slot, and one with a sender (every reply, every ask) or headers (tracing)
 * allocates no wrapper. Nothing is allocated until the first message, so idle actors stay small, and the
 * first ring holds two messages, since most actors never have more waiting. Ring lengths are powers
 * of two, so wrapping is a mask; capacity is enforced by the caller through `isFull`.
 */
export class Mailbox {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  readonly maxBytes: number;
  private ring: (object | undefined)[] = EMPTY;
  /** Parallel to `ring` when `maxBytes` is finite: the estimate of each queued message. */
  private sizes: number[] | undefined;
  private queuedBytes = 0;
  /** Parallel to `ring` once any message came with a sender; a shifted slot is cleared in both. */
  private senders: (ActorRef<any> | undefined)[] | undefined;
  /** Parallel to `ring` once any message came with headers; as `senders`. */
  private headers: (Readonly<Record<string, string>> | undefined)[] | undefined;
  private head = 0;
  private count = 0;
  /** Sender of the message last returned by `shift`. */
  lastSender: ActorRef<any> | undefined;
  /** Headers of the message last returned by `shift`. */
  lastHeaders: Readonly<Record<string, string>> | undefined;
  /** Messages its actor has taken to process (counted by the cell's loop; `troupe top` makes rates of it). */
  processed = 0;

  constructor(options: MailboxOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_MAILBOX_CAPACITY;
    if (!(capacity >= 1)) throw new RangeError(`mailbox capacity must be at least 1 (or Infinity); got ${capacity}`);
    const overflow = options.overflow ?? "drop-newest";
    if (overflow !== "drop-newest" && overflow !== "drop-oldest") {
      throw new RangeError(`mailbox overflow must be "drop-newest" or "drop-oldest"; got ${JSON.stringify(overflow)}`);
    }
    const maxBytes = options.maxBytes ?? Infinity;
    if (!(maxBytes >= 1)) throw new RangeError(`mailbox maxBytes must be at least 1 (or Infinity); got ${maxBytes}`);
    this.capacity = capacity;
    this.overflow = overflow;
    this.maxBytes = maxBytes;
  }

  get size(): number {
    return this.count;
  }

  /** The estimate of the queued messages' bytes; 0 unless `maxBytes` is finite. */
  get bytes(): number {
    return this.queuedBytes;
  }

  get isFull(): boolean {
    return this.count >= this.capacity || this.queuedBytes >= this.maxBytes;
  }

  push(message: object, sender: ActorRef<any> | undefined, headers: Readonly<Record<string, string>> | undefined): void {
    if (this.count === this.ring.length) this.grow();
    const slot = (this.head + this.count) & (this.ring.length - 1);
    this.ring[slot] = message;
    // Free slots are always empty in `senders` and `headers`, so a message without one writes nothing there.
    if (sender !== undefined) (this.senders ??= new Array<ActorRef<any> | undefined>(this.ring.length))[slot] = sender;
    if (headers !== undefined) (this.headers ??= new Array<Readonly<Record<string, string>> | undefined>(this.ring.length))[slot] = headers;
    if (this.sizes !== undefined) {
      const bytes = approximateBytes(message);
      this.sizes[slot] = bytes;
      this.queuedBytes += bytes;
    }
    this.count++;
  }

  /**
   * Removes and returns the oldest message (undefined when empty), and sets `lastSender` and
   * `lastHeaders` to the ones it came with.
   */
  shift(): object | undefined {
    if (this.count === 0) return undefined;
    const head = this.head;
    const message = this.ring[head]!;
    this.ring[head] = undefined;
    const senders = this.senders;
    if (senders === undefined) this.lastSender = undefined;
    else {
      this.lastSender = senders[head];
      senders[head] = undefined;
    }
    const headers = this.headers;
    if (headers === undefined) this.lastHeaders = undefined;
    else {
      this.lastHeaders = headers[head];
      headers[head] = undefined;
    }
    if (this.sizes !== undefined) this.queuedBytes -= this.sizes[head]!;
    this.head = (head + 1) & (this.ring.length - 1);
    this.count--;
    return message;
  }

  private grow(): void {
    const size = this.ring.length;
    const next = size === 0 ? INITIAL_SLOTS : size * 2;
    this.ring = unwrap(this.ring, this.head, this.count, next);
    if (this.senders !== undefined) this.senders = unwrap(this.senders, this.head, this.count, next);
    if (this.headers !== undefined) this.headers = unwrap(this.headers, this.head, this.count, next);
    if (this.maxBytes !== Infinity) this.sizes = unwrap(this.sizes ?? [], this.head, this.count, next);
    this.head = 0;
  }
}

/** The `count` entries of `ring` from `head` on, in order, at the start of a new ring of `length`. */
function unwrap<T>(ring: T[], head: number, count: number, length: number): T[] {
  const next = new Array<T>(length);
  const mask = ring.length - 1;
  for (let i = 0; i < count; i++) next[i] = ring[(head + i) & mask]!;
  return next;
}

const EMPTY: (object | undefined)[] = [];
/** Most actors never have more than one or two messages waiting. */
const INITIAL_SLOTS = 2;
