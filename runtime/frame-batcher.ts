/**
 * Coalesces the frames sent to one subject during one turn of the event loop into a single NATS
 * message. A frame is `repeated Envelope`, so concatenated one-envelope frames are a valid frame
 * holding all of them, in order. Messages told in a burst (a loop, an actor draining its mailbox)
 * then cost one publish, one server delivery and one receive callback per batch, not per message.
 */
export class FrameBatcher {
  private readonly pending = new Map<string, { parts: Uint8Array[]; bytes: number }>();
  private scheduled = false;

  constructor(
    private readonly publish: (subject: string, data: Uint8Array) => void,
    private readonly onPublishError: (subject: string, envelopes: number, error: unknown) => void,
    private readonly maxBatchBytes: number,
  ) {}

  /** Queues a frame; it is published at the end of the current turn, or sooner when the batch is full. */
  add(subject: string, frame: Uint8Array): void {
    let batch = this.pending.get(subject);
    if (batch !== undefined && batch.bytes + frame.length > this.maxBatchBytes) {
      this.publishBatch(subject, batch);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { parts: [], bytes: 0 };
      this.pending.set(subject, batch);
    }
    batch.parts.push(frame);
    batch.bytes += frame.length;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** Publishes everything queued. */
  readonly flush = (): void => {
    this.scheduled = false;
    for (const [subject, batch] of this.pending) this.publishBatch(subject, batch);
  };

  private publishBatch(subject: string, batch: { parts: Uint8Array[]; bytes: number }): void {
    this.pending.delete(subject);
    const data = batch.parts.length === 1 ? batch.parts[0]! : Buffer.concat(batch.parts, batch.bytes);
    try {
      this.publish(subject, data);
    } catch (error) {
      // Runs outside the sender's call stack: report, never throw into the event loop.
      this.onPublishError(subject, batch.parts.length, error);
    }
  }
}
