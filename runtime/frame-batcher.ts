import protobuf from "protobufjs/minimal.js";
import { writeEnvelope, type OutgoingEnvelope } from "./codec/frame-codec.js";
import { MessageTooLargeError } from "./errors.js";

/** The frame being built for one subject. */
interface Batch {
  readonly writer: protobuf.Writer;
  envelopes: number;
}

/** Writers kept for reuse once their batch is published (their buffers have grown to batch size). */
const SPARE_WRITERS = 4;

/**
 * Coalesces the messages sent to one subject during one turn of the event loop into a single NATS
 * message. A frame is `repeated Envelope`, so envelopes appended one after another form a valid frame
 * holding all of them, in order. Each envelope is encoded straight into its subject's frame: a message
 * costs no writer and no buffer of its own, and a burst (a loop, an actor draining its mailbox) costs
 * one publish, one server delivery and one receive callback per batch, not per message.
 */
export class FrameBatcher {
  private readonly pending = new Map<string, Batch>();
  private readonly spare: protobuf.Writer[] = [];
  private scheduled = false;
  private readonly flushBound: () => void;

  constructor(
    private readonly publish: (subject: string, data: Uint8Array) => void,
    private readonly onPublishError: (subject: string, envelopes: number, error: unknown) => void,
    /** Largest frame published; a batch that would grow past it is published first. */
    private readonly maxBatchBytes: number,
    /** Largest single envelope; a larger one is refused with MessageTooLargeError. */
    private readonly maxEnvelopeBytes = maxBatchBytes,
  ) {
    this.flushBound = () => this.flush();
  }

  /**
   * Encodes `envelope` into the frame for `subject`, published at the end of the current turn (or
   * sooner when the frame is full). Throws, leaving the frame as it was, when the message cannot be
   * encoded or its envelope exceeds `maxEnvelopeBytes`: the sender learns at once. Anything queued
   * for `orderedAfter` is published before it, so the two subjects' frames leave in the order sent.
   * Returns the payload's encoded length.
   */
  add(subject: string, envelope: OutgoingEnvelope, orderedAfter?: string): number {
    // Frames to two subjects of one node (its data and control planes) must not overtake each other:
    // what was queued for the other one goes first.
    if (orderedAfter !== undefined && this.pending.size > 0) this.flushSubject(orderedAfter);
    let batch = this.pending.get(subject);
    if (batch === undefined) {
      batch = { writer: this.spare.pop() ?? protobuf.Writer.create(), envelopes: 0 };
      this.pending.set(subject, batch);
    }
    const writer = batch.writer;
    const start = writer.pos;
    let payloadBytes: number;
    try {
      payloadBytes = writeEnvelope(writer, envelope);
    } catch (error) {
      takeBack(writer, start);
      throw error;
    }
    const size = writer.pos - start;
    if (size > this.maxEnvelopeBytes) {
      takeBack(writer, start);
      throw new MessageTooLargeError(envelope.typeName, size, this.maxEnvelopeBytes);
    }
    if (writer.pos > this.maxBatchBytes && batch.envelopes > 0) {
      // The frame so far goes now; the envelope just written starts the next one.
      this.publishBatch(subject, new Uint8Array(writer.buf.subarray(0, start)), batch.envelopes);
      writer.buf.copyWithin(0, start, writer.pos);
      writer.pos = size;
      batch.envelopes = 0;
    }
    batch.envelopes++;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushBound);
    }
    return payloadBytes;
  }

  /** Publishes everything queued. */
  flush(): void {
    this.scheduled = false;
    for (const subject of this.pending.keys()) this.flushSubject(subject);
  }

  private flushSubject(subject: string): void {
    const batch = this.pending.get(subject);
    if (batch === undefined) return;
    this.pending.delete(subject);
    const writer = batch.writer;
    const data = writer.finish();
    writer.reset();
    if (this.spare.length < SPARE_WRITERS) this.spare.push(writer);
    this.publishBatch(subject, data, batch.envelopes);
  }

  private publishBatch(subject: string, data: Uint8Array, envelopes: number): void {
    try {
      this.publish(subject, data);
    } catch (error) {
      // Runs outside the sender's call stack: report, never throw into the event loop.
      this.onPublishError(subject, envelopes, error);
    }
  }
}

/** Drops what was written after `position`, including any forks left open by a failed encode. */
function takeBack(writer: protobuf.Writer, position: number): void {
  writer.pos = position;
  if (writer.states !== null) writer.states.length = 0;
}
