import type { Cancel } from "../actor-context.js";
import { errorText } from "../actor-cell.js";
import type { TimerHandle } from "../clock.js";
import { GenerationConflictError, type Expected } from "../state/state-store.js";
import { troupe } from "../../proto/gen/troupe.js";
import type { ActivationHost, Mail, Refusal } from "./activation-host.js";
import { ActivationReminders } from "./activation-reminders.js";
import { AppliedKeys, idempotencyKeyOf } from "./applied-keys.js";
import type { EntityDefinition, EntityHandler } from "./entity-definition.js";
import { decodeEntityObject, encodeEntityObject } from "./entity-record.js";
import { HandlerContext } from "./handler-context.js";
import { HeldMailBounds } from "./held-mail-bounds.js";

const { ReminderFired, ReminderWake } = troupe.entity;

/** Messages processed since the last write began, and what their handlers sent, held until it lands. */
interface Batch {
  readonly mail: Mail[];
  readonly outputs: (() => void)[];
}

/** What one write commits: the state, applied keys and reminders as they were when it began. */
interface Snapshot {
  readonly state: Uint8Array;
  readonly applied: troupe.entity.IAppliedKey[];
  readonly reminders: troupe.entity.IReminder[];
  readonly earliest: number | undefined;
}

/** How long after a write failed for another reason than its precondition its outcome is looked up (and again, while the store fails). */
const WRITE_RETRY_MS = 1_000;

/**
 * One live copy of an entity on this node: loads the state with its generation, processes messages one
 * at a time, writes each changed state with the generation it read as the precondition and only then
 * lets the handlers' replies and tells out. Messages processed while a write is in flight go out
 * together in the next write. A write that fails its precondition means another copy wrote: this one
 * stops at once, sends nothing it held, and forwards its mail.
 */
export class EntityActivation {
  private state: any;
  private expected: Expected = "absent";
  private loaded = false;
  private running = false;
  private readonly inbox: Mail[] = [];
  private pending: Batch = { mail: [], outputs: [] };
  private changed = false;
  private inFlight: Batch | undefined;
  private idleTimer: TimerHandle | undefined;
  private lastTouchMs = 0;
  /** A write waiting for its turn (`writeEveryMs`) or for a retry. */
  private writeTimer: Cancel | undefined;
  /** The next look at a write in doubt. */
  private doubtTimer: TimerHandle | undefined;
  /** Counts and bounds the messages held (inbox, pending and in-flight batches) until they leave. */
  private readonly bounds: HeldMailBounds;
  private lastWriteAtMs = Number.NEGATIVE_INFINITY;
  private moving = false;
  private stopped = false;
  /** A handler is running (it may await): no write starts, and the pending batch is not swapped, until it returns. */
  private handling = false;
  private readonly quietWaiters: (() => void)[] = [];
  private applied!: AppliedKeys;
  private reminders!: ActivationReminders;
  /** What the reminder timer enqueues: fires what is due, like a scanner's wake, but never doubts the index. */
  private readonly timerWake: Mail = { message: ReminderWake.create(), sender: undefined, headers: undefined };
  /** Writes that landed, for tests and stats. */
  writes = 0;

  constructor(
    readonly key: string,
    readonly definition: EntityDefinition,
    private readonly host: ActivationHost,
  ) {
    this.bounds = new HeldMailBounds(host.maxQueued, host.maxQueuedBytes);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Takes a message, or refuses it (returning why) when this copy already holds `maxQueued` messages
   * or `maxQueuedBytes` of them, counting those processed but not yet written: a store that is slow
   * or down makes the entity refuse new work instead of holding it without bound.
   */
  enqueue(mail: Mail): Refusal | undefined {
    if (this.stopped) {
      this.host.forward([mail]);
      return undefined;
    }
    if (mail !== this.timerWake) {
      const held = this.held;
      const limit = this.bounds.admit(mail, held);
      if (limit !== undefined) {
        const detail = `entity ${this.definition.kind}/${this.key} on node ${this.host.nodeId} holds ${held} message(s), ${this.bounds.bytes} bytes by estimate, not yet processed or written (${limit} ${this.bounds.limitValue(limit)})${this.inFlight === undefined ? "" : ": its store has not confirmed a write yet"}`;
        return { limit, detail };
      }
    }
    this.inbox.push(mail);
    this.touch();
    void this.run();
    return undefined;
  }

  /** Messages held: received and not yet processed, or processed and not yet written. */
  get held(): number {
    return this.inbox.length + this.pending.mail.length + (this.inFlight?.mail.length ?? 0);
  }

  /** Nothing to process, write or send, and not on its way out: can be passivated at once. */
  get idle(): boolean {
    return this.quiet && !this.moving && !this.stopped;
  }

  /**
   * Gives up on the work in hand (shutdown's `drainTimeoutMs` passed, the store still failing): what
   * was processed and not written becomes `unwritten` dead letters, with a Failure to each asker still
   * waiting (the write in flight, if any, may or may not have landed); what was not processed yet
   * moves on to the owner; then this copy leaves memory.
   */
  abandon(why: string): void {
    if (this.stopped) return;
    const inFlight = this.inFlight?.mail ?? [];
    const pending = [...this.pending.mail];
    const unprocessed = this.inbox.splice(0);
    this.stop();
    const where = `the copy of ${this.definition.kind}/${this.key} on node ${this.host.nodeId}`;
    const report = (mail: Mail, what: string): void => {
      if (mail === this.timerWake) return;
      const detail = `${where} ${why}: ${what}`;
      if (this.host.writeBehind) this.host.lost(mail, "unwritten", `${detail} (write-behind: answered already)`);
      else this.host.failAsk(mail, "unwritten", detail);
    };
    for (const mail of inFlight) report(mail, "the write of its effect failed and was not confirmed: it may or may not be durable");
    for (const mail of pending) report(mail, "its effect was not written");
    this.host.forward(unprocessed);
  }

  /** Leaves memory as soon as the work in hand is durable (its key now belongs to another node). */
  moveAway(): void {
    this.moving = true;
    this.afterWork();
  }

  /** Resolves once nothing is left to write or send; then leaves memory. */
  passivate(): Promise<void> {
    this.moving = true;
    const quiet = new Promise<void>((resolve) => this.quietWaiters.push(resolve));
    this.afterWork();
    return quiet;
  }

  private get quiet(): boolean {
    return !this.running && this.inbox.length === 0 && this.inFlight === undefined && !this.changed && this.pending.outputs.length === 0;
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if (!this.loaded && !(await this.load())) return;
      while (this.inbox.length > 0 && !this.stopped) {
        await this.process(this.inbox.shift()!);
        if (this.host.writeBehind) this.release(this.pending);
        this.maybeWrite();
      }
    } finally {
      this.running = false;
    }
    this.afterWork();
  }

  private async load(): Promise<boolean> {
    try {
      const stored = await this.host.store.read(this.host.storeKey);
      // Abandoned while the read was slow: its mail has moved on already.
      if (this.stopped) return false;
      const object = stored === undefined ? undefined : decodeEntityObject(stored.bytes);
      this.state = object === undefined ? this.definition.initial(this.key) : this.definition.stateType.decode(object.state);
      this.applied = new AppliedKeys(this.host.idempotency, object?.applied ?? []);
      this.expected = stored === undefined ? "absent" : { generation: stored.generation };
      this.loaded = true;
      this.reminders = new ActivationReminders(
        {
          key: this.key,
          clock: this.host.clock,
          index: this.host.reminderIndex,
          maxPerEntity: this.host.maxRemindersPerEntity,
          retry: this.host.reminderRetry,
          due: () => this.enqueue(this.timerWake),
          claimNeeded: () => {
            this.changed = true;
            this.maybeWrite();
          },
        },
        object?.reminders ?? [],
        object?.indexToken ?? "",
      );
      return true;
    } catch (error) {
      // Nothing was processed: every asker learns why, and the next message tries again with a new copy.
      this.stop();
      const detail = `could not load ${this.host.storeKey}: ${(error as Error).message}`;
      for (const mail of this.inbox.splice(0)) this.host.failAsk(mail, "activation-failed", detail);
      return false;
    }
  }

  private async process(mail: Mail): Promise<void> {
    this.handling = true;
    try {
      await this.processNow(mail);
    } finally {
      this.handling = false;
    }
  }

  private async processNow(mail: Mail): Promise<void> {
    const batch = this.pending;
    batch.mail.push(mail);
    if (mail.message instanceof ReminderWake) return this.fireDue(mail, batch);
    let key: string | undefined;
    try {
      key = idempotencyKeyOf(mail.headers);
    } catch (error) {
      batch.outputs.push(() => this.host.failAsk(mail, "invalid-idempotency-key", `entity ${this.definition.kind}/${this.key}: ${(error as Error).message}`));
      return;
    }
    const first = key === undefined ? undefined : this.applied.get(key, this.host.clock.now());
    if (first !== undefined) return this.replay(mail, batch, first);
    const handler = this.definition.handlers.get(mail.message.constructor);
    if (handler === undefined) {
      batch.outputs.push(() => this.host.failAsk(mail, "unhandled", `entity kind ${this.definition.kind} has no handler for ${mail.message.constructor.name}`));
      return;
    }
    await this.handle(handler, mail.message, mail, batch, key);
  }

  /**
   * Runs a handler. Its new state, the reminders it set and (with an idempotency key) the key and its
   * first reply all go into the next write together; a handler that throws changes none of them, and
   * its error is returned (reported to the asker and dead letters unless `report` is false).
   */
  private async handle(handler: EntityHandler<any, any, any>, message: object, mail: Mail, batch: Batch, key: string | undefined, report = true): Promise<Error | undefined> {
    const ctx = new HandlerContext(this.definition, this.key, this.host, this.reminders, mail, key);
    try {
      const next = await handler(this.state, message, ctx);
      if (this.stopped) return undefined;
      if (next !== undefined && next !== this.state) {
        this.state = next;
        this.changed = true;
      }
      if (ctx.remindersBefore !== undefined) this.changed = true;
      if (key !== undefined) {
        const now = this.host.clock.now();
        const reply = ctx.firstReply === undefined ? undefined : this.host.encodeReply(ctx.firstReply);
        this.applied.add({ key, appliedAtMs: now, replyType: reply?.type ?? "", reply: reply?.bytes ?? new Uint8Array(0) }, now);
        this.changed = true;
      }
      // What the handler sent joins the batch only now that it returned: a handler that throws sends nothing.
      for (const send of ctx.outputs) batch.outputs.push(send);
    } catch (error) {
      if (ctx.remindersBefore !== undefined) this.reminders.restore(ctx.remindersBefore);
      if (report) batch.outputs.push(() => this.host.failAsk(mail, "handler-failed", `entity ${this.definition.kind}/${this.key}: ${(error as Error).message}`));
      if (ctx.remindersBefore !== undefined) this.reminders.schedule();
      return error instanceof Error ? error : new Error(String(error));
    }
    if (ctx.remindersBefore !== undefined) this.reminders.schedule();
    return undefined;
  }

  /**
   * A message whose idempotency key was applied already: its first reply again, once what it saw is
   * durable; no handler runs. An ask whose key was first applied without a reply (sent as a tell, or
   * its handler did not reply) gets a Failure `already-applied` rather than waiting for its timeout.
   */
  private replay(mail: Mail, batch: Batch, first: troupe.entity.IAppliedKey): void {
    const to = mail.sender;
    if (to === undefined) return;
    if (!first.replyType) {
      const detail = `idempotency key ${first.key} was applied to ${this.definition.kind}/${this.key} at ${first.appliedAtMs} ms by a message whose handler sent no reply (a tell, or no ctx.reply): its effect happened once; there is no reply to repeat`;
      if (this.host.isAsk(mail)) batch.outputs.push(() => this.host.failAsk(mail, "already-applied", detail));
      return;
    }
    let reply: object | undefined;
    try {
      reply = this.host.decodeReply(first.replyType, first.reply ?? new Uint8Array(0));
    } catch (error) {
      // Stored bytes that no longer decode (a corrupt record, a type changed since): the ask is told,
      // the inbox goes on.
      const detail = `the first reply to idempotency key ${first.key}, a ${first.replyType}, no longer decodes: ${errorText(error)}`;
      batch.outputs.push(() => this.host.failAsk(mail, "unknown-type", detail));
      return;
    }
    if (reply !== undefined) batch.outputs.push(() => to.tell(reply, this.host.replyAs(mail)));
    else {
      const detail = `the first reply to idempotency key ${first.key} was a ${first.replyType}, which node ${this.host.nodeId} does not know: list it in the definition's replies`;
      batch.outputs.push(() => this.host.failAsk(mail, "unknown-type", detail));
    }
  }

  /**
   * A reminder timer or a scanner's wake: each due reminder goes to `onReminder`, one at a time. One
   * whose handler throws keeps its tick and fires again after a backoff (`reminders.retryMinBackoffMs`,
   * doubling to `retryMaxBackoffMs`), persisted with it, so a handler that always throws costs one
   * call, one write and one dead letter per backoff, never a loop.
   */
  private async fireDue(mail: Mail, batch: Batch): Promise<void> {
    const onReminder = this.definition.onReminder;
    if (onReminder === undefined) return;
    const due = this.reminders.takeDue();
    if (due.length > 0) this.changed = true;
    for (const taken of due) {
      if (this.stopped) return;
      const error = await this.handle(onReminder, ReminderFired.create({ name: taken.name, missed: taken.missed }), mail, batch, undefined, false);
      if (error === undefined || this.stopped) continue;
      const delayMs = this.reminders.retry(taken);
      const then = delayMs === undefined ? "it was changed meanwhile and is left as it is" : `it fires again in ${delayMs} ms`;
      const detail = `entity ${this.definition.kind}/${this.key}: onReminder threw for reminder ${taken.name} (${error.message}); ${then}`;
      batch.outputs.push(() => this.host.failAsk(mail, "handler-failed", detail));
    }
    if (due.length === 0 && mail !== this.timerWake) this.reminders.confirmIndex();
    this.reminders.schedule();
  }

  /** Starts the next write if one is due; releases held output at once when nothing it saw is unwritten. */
  private maybeWrite(): void {
    if (this.stopped || this.inFlight !== undefined || this.handling) return;
    if (!this.changed) {
      // Nothing to write: what the batch holds goes out now, and the batch is emptied for the next message.
      this.release(this.pending);
      this.forget(this.pending.mail);
      this.pending.mail.length = 0;
      return;
    }
    if (this.writeTimer !== undefined) return;
    const waitMs = this.lastWriteAtMs + this.host.writeEveryMs - this.host.clock.now();
    if (waitMs > 0) return this.writeLater(waitMs);
    this.lastWriteAtMs = this.host.clock.now();
    const batch = this.pending;
    this.pending = { mail: [], outputs: [] };
    this.changed = false;
    this.inFlight = batch;
    const snapshot: Snapshot = {
      state: this.definition.stateType.encode(this.state).finish(),
      applied: this.applied.toRecord(),
      reminders: this.reminders.toRecord(),
      earliest: this.reminders.earliestDueMs,
    };
    // A reminder earlier than the index promises goes into the index before the object: claim, then write.
    const claim = this.reminders.claimBefore(snapshot.earliest);
    if (claim === undefined) return this.write(batch, snapshot, this.reminders.token, false);
    claim.then(
      (token) => {
        if (!this.stopped) this.write(batch, snapshot, token, true);
      },
      () => {
        if (this.stopped) return;
        // The index could not be written: nothing was; everything waits and is tried again.
        this.inFlight = undefined;
        this.requeue(batch);
        this.writeLater(WRITE_RETRY_MS);
      },
    );
  }

  private write(batch: Batch, snapshot: Snapshot, indexToken: string, claimed: boolean): void {
    const bytes = encodeEntityObject({ ...snapshot, indexToken });
    this.host.store.write(this.host.storeKey, bytes, this.expected).then(
      (generation) => {
        if (this.stopped) return;
        this.landed(batch, snapshot, indexToken, claimed, generation);
        this.maybeWrite();
        this.afterWork();
      },
      (error: unknown) => {
        if (this.stopped) return;
        if (error instanceof GenerationConflictError) {
          this.inFlight = undefined;
          return this.fence(batch, error);
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
    this.inFlight = undefined;
    this.writes++;
    this.reminders.landed(snapshot.earliest, indexToken, claimed);
    this.release(batch);
    this.forget(batch.mail);
  }

  /** Messages done with (written and released): their bytes no longer count as held. */
  private forget(mails: readonly Mail[]): void {
    this.bounds.forget(mails);
  }

  /** Puts a batch that was not written back in front of the pending one: it goes out with the next write. */
  private requeue(batch: Batch): void {
    // In place: a handler awaiting now adds to this same batch.
    const mail = [...batch.mail, ...this.pending.mail];
    const outputs = [...batch.outputs, ...this.pending.outputs];
    this.pending.mail.length = 0;
    this.pending.outputs.length = 0;
    for (const m of mail) this.pending.mail.push(m);
    for (const send of outputs) this.pending.outputs.push(send);
    this.changed = true;
  }

  /** After a write whose outcome is unknown: landed (our bytes are there), not landed (retry), or another copy wrote (fence). */
  private settleDoubt(batch: Batch, bytes: Uint8Array, landed: () => void, claimed: boolean): void {
    this.doubtTimer = undefined;
    if (this.stopped) return;
    const expected = this.expected;
    this.host.store.read(this.host.storeKey).then(
      (stored) => {
        if (this.stopped) return;
        this.inFlight = undefined;
        const untouched = expected === "absent" ? stored === undefined : stored?.generation === expected.generation;
        if (untouched) {
          this.requeue(batch);
          if (claimed) this.reminders.claimUnused();
        } else if (stored !== undefined && sameBytes(stored.bytes, bytes)) {
          this.expected = { generation: stored.generation };
          landed();
        } else {
          return this.fence(batch, new GenerationConflictError(this.host.storeKey, expected, "another copy wrote while this copy's write was in doubt"));
        }
        this.maybeWrite();
        this.afterWork();
      },
      () => {
        if (!this.stopped) this.doubtTimer = this.host.clock.setTimeout(() => this.settleDoubt(batch, bytes, landed, claimed), WRITE_RETRY_MS);
      },
    );
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

  /**
   * Another copy wrote: nothing this copy held goes out. Askers whose effect was in the rejected write
   * get a Failure `fenced`; every other message (tells in it, and all mail not yet written) moves on to
   * the owner, where it is processed against the state that did commit.
   */
  private fence(batch: Batch, error: GenerationConflictError): void {
    this.stop();
    const onward: Mail[] = [];
    let failed = 0;
    // Write-behind: what was processed has been answered already; its effects are lost with this copy.
    const lost = this.host.writeBehind ? batch.mail.length + this.pending.mail.length : 0;
    if (!this.host.writeBehind) {
      for (const mail of batch.mail) {
        if (this.host.isAsk(mail)) {
          failed++;
          this.host.failAsk(mail, "fenced", `the copy of ${this.definition.kind}/${this.key} on node ${this.host.nodeId} lost its generation to another copy; this ask's effect was not confirmed (see docs/entities.md, Fencing)`);
        } else onward.push(mail);
      }
      onward.push(...this.pending.mail);
    }
    onward.push(...this.inbox.splice(0));
    this.pending = { mail: [], outputs: [] };
    const lostText = lost > 0 ? `, ${lost} processed message(s) lost (write-behind)` : "";
    this.host.fenced(`${error.message}: the copy of ${this.definition.kind}/${this.key} on node ${this.host.nodeId} stopped; ${failed} ask(s) failed "fenced", ${onward.length} message(s) forwarded to the owner${lostText}`);
    this.host.forward(onward);
  }

  /** Marks activity; the idle timer stays armed and re-arms itself for the rest (no new timer per message). */
  private touch(): void {
    this.lastTouchMs = this.host.clock.now();
    if (this.idleTimer === undefined) this.armIdle(this.definition.idleMs);
  }

  private armIdle(delayMs: number): void {
    this.idleTimer = this.host.clock.setTimeout(() => {
      this.idleTimer = undefined;
      const leftMs = this.lastTouchMs + this.definition.idleMs - this.host.clock.now();
      if (leftMs > 0) this.armIdle(leftMs);
      else if (this.quiet) this.stop();
      else this.touch();
    }, delayMs);
  }

  private afterWork(): void {
    if (!this.quiet) return;
    if (this.moving) this.stop();
    if (this.stopped) for (const resolve of this.quietWaiters.splice(0)) resolve();
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.idleTimer !== undefined) this.host.clock.clearTimeout(this.idleTimer);
    this.reminders?.stop();
    this.writeTimer?.();
    if (this.doubtTimer !== undefined) this.host.clock.clearTimeout(this.doubtTimer);
    this.host.retired(this);
    for (const resolve of this.quietWaiters.splice(0)) resolve();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
