import type { Address } from "./address.js";

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
  /** The target's mailbox was full (see its overflow policy). */
  | "mailbox-overflow"
  /** The target has no handler for this message type. */
  | "unhandled"
  /** The target's handler threw while processing this message. */
  | "handler-failed"
  /** A reply arrived for an ask that had already timed out or been answered. */
  | "late-reply"
  /** `ctx.reply` was called while processing a message that has no sender. */
  | "no-sender"
  /** The transport refused the publish (e.g. the connection closed); the batch was not sent. */
  | "send-failed";

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
  /** The raw bytes, when the message could not be decoded: kept so nothing is lost. */
  readonly bytes?: Uint8Array | undefined;
  /** The NATS subject it arrived on, for frames from the wire. */
  readonly subject?: string | undefined;
}

export type DeadLetterListener = (letter: DeadLetter) => void;

/** How many recent dead letters are kept for inspection; the counters cover all of them. */
const DEFAULT_RETAINED = 1_000;

/**
 * Every undeliverable message of a node ends here: counted by reason, kept in a bounded ring of
 * recent letters, and passed to listeners (which may persist or forward them).
 */
export class DeadLetters {
  private readonly counts = new Map<DeadLetterReason, number>();
  private readonly listeners = new Set<DeadLetterListener>();
  private readonly retained: DeadLetter[] = [];
  private total = 0;

  constructor(private readonly retain = DEFAULT_RETAINED) {}

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
    const full: DeadLetter = { ...letter, at: letter.at ?? Date.now() };
    this.total++;
    this.counts.set(full.reason, (this.counts.get(full.reason) ?? 0) + 1);
    this.retained.push(full);
    if (this.retained.length > this.retain) this.retained.shift();
    for (const listener of this.listeners) {
      try {
        listener(full);
      } catch {
        // A faulty listener must not take the node's delivery path down with it.
      }
    }
  }
}
