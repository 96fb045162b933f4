import type { Address } from "./address.js";
import { approximateBytes } from "./approximate-bytes.js";
import { positiveInteger } from "./positive-integer.js";

/** Why a message could not be delivered. */
export type DeadLetterReason =
  /** No actor at the target path (never existed, or a stale ref). */
  | "unknown-target"
  /** The target stopped before it could process the message. */
  | "stopped-target"
  /** The bytes on the wire are not a valid troupe.wire.Frame. */
  | "malformed-frame"
  /** The envelope names a protobuf type this node has not registered. */
  | "unknown-type"
  /** The payload does not decode as the type it claims to be. */
  | "malformed-payload"
  /** The frame is larger than this node's `maxMessageBytes`. */
  | "oversized"
  /** The rest of a frame holding more than `maxFrameEnvelopes` envelopes, not read: one letter per frame. */
  | "too-many-envelopes"
  /** An envelope with more headers than `maxHeaders` or `maxHeaderBytes` allow; not delivered. */
  | "headers-over-limit"
  /** The target's mailbox was full (see its overflow policy). */
  | "mailbox-overflow"
  /** The target has no handler for this message type. */
  | "unhandled"
  /** The target's handler threw while processing this message. */
  | "handler-failed"
  /** A reply arrived for an ask that had already timed out or been answered. */
  | "late-reply"
  /** A reply not from the asked actor, a lookup answer not from a live member, or a reply to a path no ask had. */
  | "forged-reply"
  /** `ctx.reply` was called while processing a message that has no sender. */
  | "no-sender"
  /** A control message on a node's data inbox, or an actor message on its control inbox. */
  | "wrong-plane"
  /** A control message this node refused: not from whom it must come, or over a cap (see its detail). */
  | "refused-control"
  /** A request whose reply subject is inside the subject prefix but not a request inbox of the system. */
  | "forbidden-reply-subject"
  /** The transport refused the publish (e.g. the connection closed); the batch was not sent. */
  | "send-failed"
  /** An entity's copy lost its generation (another copy wrote): it stopped, sent nothing it held, forwarded its mail. */
  | "fenced"
  /** No live node hosts the entity's kind, or its message kept being forwarded between nodes that disagree. */
  | "no-owner"
  /** An entity could not load its state; its messages were not processed. */
  | "activation-failed"
  /** A node held `maxActivations` of the entity's kind, none idle: the entity was not activated for this message. */
  | "too-many-activations"
  /** An entity's copy gave up at shutdown (`drainTimeoutMs`) on writing this message's effect: it may not be durable. */
  | "unwritten"
  /** A message to an entity whose idempotency key header is empty or too long; not processed. */
  | "invalid-idempotency-key";

export interface DeadLetter {
  readonly reason: DeadLetterReason;
  /** Human-readable detail: what was wrong, in words an operator can act on. */
  readonly detail: string;
  readonly at: number;
  readonly target?: Address | undefined;
  readonly sender?: Address | undefined;
  /** Protobuf type name, when known. */
  readonly type?: string | undefined;
  /** The decoded message, when it could be decoded. */
  readonly message?: object | undefined;
  /** Context that travelled with it (trace context), when known. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /**
   * The raw bytes, when the message could not be decoded: at most `maxDeadLetterKeptBytes` of them
   * (the first), a copy of their own.
   */
  readonly bytes?: Uint8Array | undefined;
  /** How many raw bytes there were, when `bytes` keeps fewer (cut to `maxDeadLetterKeptBytes`). */
  readonly size?: number | undefined;
  /** The NATS subject it arrived on, for frames from the wire. */
  readonly subject?: string | undefined;
}

export type DeadLetterListener = (letter: DeadLetter) => void;

/** How much of the dead letters a node keeps for `recent()`; the counters cover all of them. */
export interface DeadLetterLimits {
  /** Most letters kept. Default 1,000. */
  readonly maxDeadLetters?: number;
  /**
   * Most bytes the kept letters hold together, by estimate (`approximateBytes`: strings, byte arrays
   * with the whole buffer they are a view of, decoded messages); the oldest go first. Default 16 MiB.
   */
  readonly maxDeadLetterLogBytes?: number;
  /** Most raw bytes one letter keeps (the first); `size` then states how many there were. Default 4 KiB. */
  readonly maxDeadLetterKeptBytes?: number;
}

export const DEFAULT_MAX_DEAD_LETTERS = 1_000;
export const DEFAULT_MAX_DEAD_LETTER_LOG_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_DEAD_LETTER_KEPT_BYTES = 4 * 1024;

/**
 * A limit that was hit, counted by `limitHits()`. Those that refuse input also make a dead letter
 * (`too-many-envelopes`, `headers-over-limit`); the others lose no message: they keep or send less.
 */
export type LimitName =
  /** A frame held more envelopes than `maxFrameEnvelopes`: counted once per frame. */
  | "maxFrameEnvelopes"
  /** An envelope held more header entries than `maxHeaders`. */
  | "maxHeaders"
  /** An envelope's header entries took more bytes than `maxHeaderBytes`. */
  | "maxHeaderBytes"
  /** A letter's raw bytes were cut to `maxDeadLetterKeptBytes`. */
  | "maxDeadLetterKeptBytes"
  /** A kept letter was dropped from `recent()` to stay within `maxDeadLetterLogBytes`. */
  | "maxDeadLetterLogBytes"
  /** A Failure answer not sent: one went to that reply subject for the same frame already. */
  | "failureAnswersPerFrame"
  /** A SpawnRequest refused: this node hosts `maxHostedChildrenPerNode` children for that node already. */
  | "maxHostedChildrenPerNode"
  /** A Watch refused: this node holds `maxWatchesPerNode` watches for that node already. */
  | "maxWatchesPerNode"
  /** A control message from a node not seen yet refused: `maxControlAwaitingMembership` wait already. */
  | "maxControlAwaitingMembership"
  /** A message to an entity refused: its copy held `maxQueuedPerEntity` messages (a `mailbox-overflow` dead letter). */
  | "maxQueuedPerEntity"
  /** A message to an entity refused: its copy held `maxQueuedBytesPerEntity` bytes of messages (`mailbox-overflow`). */
  | "maxQueuedBytesPerEntity"
  /** A message to an entity refused: its node held `maxActivations` of the kind, none idle (`too-many-activations`). */
  | "maxActivationsPerKind";

/** What a letter costs beyond what `approximateBytes` finds in its fields: the object and its small fields. */
const LETTER_BYTES = 160;

/**
 * Every undeliverable message of a node ends here: counted by reason, kept in a ring of recent
 * letters bounded in count and bytes, and passed to listeners (which may persist or forward them).
 */
export class DeadLetters {
  readonly maxDeadLetters: number;
  readonly maxDeadLetterLogBytes: number;
  readonly maxDeadLetterKeptBytes: number;
  private readonly counts = new Map<DeadLetterReason, number>();
  private readonly hits = new Map<LimitName, number>();
  private readonly listeners = new Set<DeadLetterListener>();
  private readonly retained: DeadLetter[] = [];
  /** What each retained letter costs, in step with `retained`. */
  private readonly retainedCosts: number[] = [];
  private retainedBytes = 0;
  private total = 0;

  constructor(limits: DeadLetterLimits = {}) {
    this.maxDeadLetters = positiveInteger("maxDeadLetters", limits.maxDeadLetters ?? DEFAULT_MAX_DEAD_LETTERS);
    this.maxDeadLetterLogBytes = positiveInteger("maxDeadLetterLogBytes", limits.maxDeadLetterLogBytes ?? DEFAULT_MAX_DEAD_LETTER_LOG_BYTES);
    this.maxDeadLetterKeptBytes = positiveInteger("maxDeadLetterKeptBytes", limits.maxDeadLetterKeptBytes ?? DEFAULT_MAX_DEAD_LETTER_KEPT_BYTES);
  }

  /** All dead letters seen by this node. */
  get count(): number {
    return this.total;
  }

  countOf(reason: DeadLetterReason): number {
    return this.counts.get(reason) ?? 0;
  }

  byReason(): Partial<Record<DeadLetterReason, number>> {
    return Object.fromEntries(this.counts);
  }

  /** How often each limit was hit on this node (docs/wire.md, "Limits"). */
  limitHits(): Partial<Record<LimitName, number>> {
    return Object.fromEntries(this.hits);
  }

  /** Counts a limit hit. @internal */
  limitHit(limit: LimitName, times = 1): void {
    this.hits.set(limit, (this.hits.get(limit) ?? 0) + times);
  }

  /** Bytes the kept letters hold, by the estimate `maxDeadLetterLogBytes` bounds. */
  get retainedBytesEstimate(): number {
    return this.retainedBytes;
  }

  /** The most recent dead letters, oldest first. */
  recent(): readonly DeadLetter[] {
    return [...this.retained];
  }

  /** Calls `listener` for each dead letter from now on; returns the unsubscribe function. */
  subscribe(listener: DeadLetterListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(letter: Omit<DeadLetter, "at"> & { at?: number }): void {
    const full: DeadLetter = { ...letter, at: letter.at ?? Date.now(), ...this.keptBytes(letter.bytes, letter.size) };
    this.total++;
    this.counts.set(full.reason, (this.counts.get(full.reason) ?? 0) + 1);
    this.retain(full);
    for (const listener of this.listeners) {
      try {
        listener(full);
      } catch {
        // A faulty listener must not take the node's delivery path down with it.
      }
    }
  }

  /** The bytes a letter keeps: at most `maxDeadLetterKeptBytes`, copied so that they hold no larger buffer alive. */
  private keptBytes(bytes: Uint8Array | undefined, size: number | undefined): { bytes?: Uint8Array; size?: number } {
    if (bytes === undefined) return {};
    const max = this.maxDeadLetterKeptBytes;
    if (bytes.length > max) {
      this.limitHit("maxDeadLetterKeptBytes");
      return { bytes: new Uint8Array(bytes.subarray(0, max)), size: size ?? bytes.length };
    }
    // A view of a received frame (or of the connection's read buffer) would keep all of it.
    const owned = bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length;
    return { bytes: owned ? bytes : new Uint8Array(bytes), size };
  }

  /** Keeps `letter` for `recent()`, dropping the oldest past `maxDeadLetters` or `maxDeadLetterLogBytes`. */
  private retain(letter: DeadLetter): void {
    const cost = costOf(letter);
    this.retained.push(letter);
    this.retainedCosts.push(cost);
    this.retainedBytes += cost;
    while (this.retained.length > 0 && (this.retained.length > this.maxDeadLetters || this.retainedBytes > this.maxDeadLetterLogBytes)) {
      if (this.retained.length <= this.maxDeadLetters) this.limitHit("maxDeadLetterLogBytes");
      this.retained.shift();
      this.retainedBytes -= this.retainedCosts.shift()!;
    }
  }
}

/** The estimate `maxDeadLetterLogBytes` bounds: a letter's strings, kept bytes, headers and decoded message. */
function costOf(letter: DeadLetter): number {
  let bytes = LETTER_BYTES + letter.detail.length + (letter.type?.length ?? 0) + (letter.subject?.length ?? 0);
  if (letter.target) bytes += letter.target.path.length;
  if (letter.sender) bytes += letter.sender.system.length + letter.sender.node.length + letter.sender.path.length;
  if (letter.bytes) bytes += letter.bytes.buffer.byteLength;
  if (letter.headers) bytes += approximateBytes(letter.headers);
  if (letter.message !== undefined) bytes += approximateBytes(letter.message, true);
  return bytes;
}
