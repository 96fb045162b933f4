import type { Cancel } from "../actor-context.js";
import type { Clock, TimerHandle } from "../clock.js";
import { GenerationConflictError, type Expected, type StateStore } from "../state/state-store.js";
import type { troupe } from "../../proto/gen/troupe.js";
import type { Mail } from "./activation-host.js";
import type { ActivationReminders } from "./activation-reminders.js";
import { encodeEntityObject } from "./entity-record.js";

/** Messages processed since the last write began, and what their handlers sent, held until it lands. */
export interface Batch {
  readonly mail: Mail[];
  readonly outputs: (() => void)[];
}

/** What one write commits: the state, applied keys and reminders as they were when it began. */
export interface Snapshot {
  readonly state: Uint8Array;
  readonly applied: troupe.entity.IAppliedKey[];
  readonly reminders: troupe.entity.IReminder[];
  readonly earliest: number | undefined;
}

/** How long after a write failed for another reason than its precondition its outcome is looked up (and again, while the store fails). */
const WRITE_RETRY_MS = 1_000;

/** What the writer needs from its activation. */
export interface StateWriterHost {
  readonly clock: Clock;
  readonly store: StateStore;
  /** `<prefix>/<kind>/<key>` */
  readonly storeKey: string;
  /** At most one write per this long; 0 = as soon as the last lands. */
  readonly writeEveryMs: number;
  /** A handler is running (it may await): no write starts, and the pending batch is not swapped, until it returns. */
  handling(): boolean;
  /** The entity's reminders (there once it loaded): a write may claim an index entry first, and tells them when it landed. */
  reminders(): Pick<ActivationReminders, "token" | "claimBefore" | "claimUnused" | "landed">;
  /** What the next write commits, as it is now. */
  snapshot(): Snapshot;
  /** Messages done with (written, or nothing to write, and released): their bytes no longer count as held. */
  forget(mails: readonly Mail[]): void;
  /** A write landed or went back to pending: the activation may have nothing left to do. */
  settled(): void;
  /** Another copy wrote: `rejected` is the write refused, `pending` what was processed since; the writer holds neither any more. */
  conflict(rejected: Batch, pending: Batch, error: GenerationConflictError): void;
}

/**
 * The write pipeline of one entity copy: coalesces what was processed into one write at a time, at
 * most one per `writeEveryMs`, each with the generation it read (or wrote last) as the precondition,
 * and only then releases the outputs the write held. A write whose outcome is unknown (the store
 * failed) stays in flight until a read settles it: landed, not landed (written again), or another
 * copy wrote (a conflict, as a failed precondition is).
 */
export class EntityStateWriter {
  private expected: Expected = "absent";
  private pendingBatch: Batch = { mail: [], outputs: [] };
  private inFlightBatch: Batch | undefined;
  private changed = false;
  /** A write waiting for its turn (`writeEveryMs`) or for a retry. */
  private writeTimer: Cancel | undefined;
  /** The next look at a write in doubt. */
  private doubtTimer: TimerHandle | undefined;
  private lastWriteAtMs = Number.NEGATIVE_INFINITY;
  private stopped = false;
  /** Writes that landed, for tests and stats. */
  writes = 0;

  constructor(private readonly host: StateWriterHost) {}

  /** The generation the state was loaded at ("absent": never written): the first write's precondition. */
  loadedAt(expected: Expected): void {
    this.expected = expected;
  }

  /** What was processed and is not in a write yet; handlers add their mail and outputs to it. */
  get pending(): Batch {
    return this.pendingBatch;
  }

  /** The write under way (or in doubt), if any. */
  get inFlight(): Batch | undefined {
    return this.inFlightBatch;
  }

  /** Messages processed and not yet written. */
  get held(): number {
    return this.pendingBatch.mail.length + (this.inFlightBatch?.mail.length ?? 0);
  }

  /** Nothing to write and nothing held to send. */
  get idle(): boolean {
    return this.inFlightBatch === undefined && !this.changed && this.pendingBatch.outputs.length === 0;
  }

  /** Something in the entity's record changed: the next `maybeWrite` writes it. */
  markChanged(): void {
    this.changed = true;
  }

  /** Sends what the pending batch holds now, before its write (write-behind). */
  releasePending(): void {
    this.release(this.pendingBatch);
  }

  /** Starts the next write if one is due; releases held output at once when nothing it saw is unwritten. */
  maybeWrite(): void {
    if (this.stopped || this.inFlightBatch !== undefined || this.host.handling()) return;
    if (!this.changed) {
      // Nothing to write: what the batch holds goes out now, and the batch is emptied for the next message.
      this.release(this.pendingBatch);
      this.host.forget(this.pendingBatch.mail);
      this.pendingBatch.mail.length = 0;
      return;
    }
    if (this.writeTimer !== undefined) return;
    const waitMs = this.lastWriteAtMs + this.host.writeEveryMs - this.host.clock.now();
    if (waitMs > 0) return this.writeLater(waitMs);
    this.lastWriteAtMs = this.host.clock.now();
    const batch = this.pendingBatch;
    this.pendingBatch = { mail: [], outputs: [] };
    this.changed = false;
    this.inFlightBatch = batch;
    const snapshot = this.host.snapshot();
    // A reminder earlier than the index promises goes into the index before the object: claim, then write.
    const reminders = this.host.reminders();
    const claim = reminders.claimBefore(snapshot.earliest);
    if (claim === undefined) return this.write(batch, snapshot, reminders.token, false);
    claim.then(
      (token) => {
        if (!this.stopped) this.write(batch, snapshot, token, true);
      },
      () => {
        if (this.stopped) return;
        // The index could not be written: nothing was; everything waits and is tried again.
        this.inFlightBatch = undefined;
        this.requeue(batch);
        this.writeLater(WRITE_RETRY_MS);
      },
    );
  }

  /** No write starts or settles any more; timers are cleared. */
  stop(): void {
    this.stopped = true;
    this.writeTimer?.();
    if (this.doubtTimer !== undefined) this.host.clock.clearTimeout(this.doubtTimer);
  }

  private write(batch: Batch, snapshot: Snapshot, indexToken: string, claimed: boolean): void {
    const bytes = encodeEntityObject({ ...snapshot, indexToken });
    // The spacing is kept between writes to the store, not between decisions: a reminder claim may
    // have delayed this one past the moment it was decided.
    this.lastWriteAtMs = this.host.clock.now();
    this.host.store.write(this.host.storeKey, bytes, this.expected).then(
      (generation) => {
        if (this.stopped) return;
        this.landed(batch, snapshot, indexToken, claimed, generation);
        this.maybeWrite();
        this.host.settled();
      },
      (error: unknown) => {
        if (this.stopped) return;
        if (error instanceof GenerationConflictError) {
          this.inFlightBatch = undefined;
          return this.conflict(batch, error);
        }
        // The store failed otherwise (unreachable, timed out): the write may or may not have landed.
        // Keep the batch in flight and find out before anything is sent or written again.
        this.doubtTimer = this.host.clock.setTimeout(() => this.settleDoubt(batch, bytes, () => this.landed(batch, snapshot, indexToken, claimed, undefined), claimed), WRITE_RETRY_MS);
      },
    );
  }

  /**
   * A write landed: what it held goes out. If it moved the earliest reminder later (or claimed), the
   * index entry follows, under this record's token (never over a newer copy's claim).
   */
  private landed(batch: Batch, snapshot: Snapshot, indexToken: string, claimed: boolean, generation: string | undefined): void {
    if (generation !== undefined) this.expected = { generation };
    this.inFlightBatch = undefined;
    this.writes++;
    this.host.reminders().landed(snapshot.earliest, indexToken, claimed);
    this.release(batch);
    this.host.forget(batch.mail);
  }

  /** Puts a batch that was not written back in front of the pending one: it goes out with the next write. */
  private requeue(batch: Batch): void {
    // In place: a handler awaiting now adds to this same batch.
    const pending = this.pendingBatch;
    const mail = [...batch.mail, ...pending.mail];
    const outputs = [...batch.outputs, ...pending.outputs];
    pending.mail.length = 0;
    pending.outputs.length = 0;
    for (const m of mail) pending.mail.push(m);
    for (const send of outputs) pending.outputs.push(send);
    this.changed = true;
  }

  /** After a write whose outcome is unknown: landed (our bytes are there), not landed (retry), or another copy wrote (conflict). */
  private settleDoubt(batch: Batch, bytes: Uint8Array, landed: () => void, claimed: boolean): void {
    this.doubtTimer = undefined;
    if (this.stopped) return;
    const expected = this.expected;
    this.host.store.read(this.host.storeKey).then(
      (stored) => {
        if (this.stopped) return;
        this.inFlightBatch = undefined;
        const untouched = expected === "absent" ? stored === undefined : stored?.generation === expected.generation;
        if (untouched) {
          this.requeue(batch);
          if (claimed) this.host.reminders().claimUnused();
        } else if (stored !== undefined && sameBytes(stored.bytes, bytes)) {
          this.expected = { generation: stored.generation };
          landed();
        } else {
          return this.conflict(batch, new GenerationConflictError(this.host.storeKey, expected, "another copy wrote while this copy's write was in doubt"));
        }
        this.maybeWrite();
        this.host.settled();
      },
      () => {
        if (!this.stopped) this.doubtTimer = this.host.clock.setTimeout(() => this.settleDoubt(batch, bytes, landed, claimed), WRITE_RETRY_MS);
      },
    );
  }

  /** Hands the rejected write and everything pending to the activation, which stops. */
  private conflict(rejected: Batch, error: GenerationConflictError): void {
    const pending = this.pendingBatch;
    this.pendingBatch = { mail: [], outputs: [] };
    this.host.conflict(rejected, pending, error);
  }

  private writeLater(delayMs: number): void {
    const timer = this.host.clock.setTimeout(() => {
      this.writeTimer = undefined;
      this.maybeWrite();
    }, delayMs);
    this.writeTimer = () => this.host.clock.clearTimeout(timer);
  }

  private release(batch: Batch): void {
    for (const send of batch.outputs) {
      try {
        send();
      } catch {
        // A reply or tell that cannot be sent (unregistered type, too large) is the handler's loss, not the entity's.
      }
    }
    batch.outputs.length = 0;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
