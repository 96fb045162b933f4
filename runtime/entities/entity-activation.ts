import { errorText } from "../actor-cell.js";
import type { TimerHandle } from "../clock.js";
import type { GenerationConflictError } from "../state/state-store.js";
import { troupe } from "../../proto/gen/troupe.js";
import type { ActivationHost, Mail, Refusal } from "./activation-host.js";
import { ActivationReminders } from "./activation-reminders.js";
import { AppliedKeys, idempotencyKeyOf } from "./applied-keys.js";
import type { EntityDefinition, EntityHandler } from "./entity-definition.js";
import { decodeEntityObject } from "./entity-record.js";
import { EntityStateWriter, type Batch } from "./entity-state-writer.js";
import { HandlerContext } from "./handler-context.js";
import { HeldMailBounds } from "./held-mail-bounds.js";

const { ReminderFired, ReminderWake } = troupe.entity;

/**
 * One live copy of an entity on this node: loads the state with its generation, processes messages one
 * at a time, writes each changed state with the generation it read as the precondition and only then
 * lets the handlers' replies and tells out (the writing is EntityStateWriter's). Messages processed
 * while a write is in flight go out together in the next write. A write that fails its precondition
 * means another copy wrote: this one stops at once, sends nothing it held, and forwards its mail.
 */
export class EntityActivation {
  private state: any;
  private loaded = false;
  private running = false;
  private readonly inbox: Mail[] = [];
  private idleTimer: TimerHandle | undefined;
  private lastTouchMs = 0;
  /** Counts and bounds the messages held (inbox, pending and in-flight batches) until they leave. */
  private readonly bounds: HeldMailBounds;
  private readonly writer: EntityStateWriter;
  private moving = false;
  private stopped = false;
  /** A handler is running (it may await): no write starts, and the pending batch is not swapped, until it returns. */
  private handling = false;
  private readonly quietWaiters: (() => void)[] = [];
  private applied!: AppliedKeys;
  private reminders!: ActivationReminders;
  /** What the reminder timer enqueues: fires what is due, like a scanner's wake, but never doubts the index. */
  private readonly timerWake: Mail = { message: ReminderWake.create(), sender: undefined, headers: undefined };

  constructor(
    readonly key: string,
    readonly definition: EntityDefinition,
    private readonly host: ActivationHost,
  ) {
    this.bounds = new HeldMailBounds(host.maxQueued, host.maxQueuedBytes);
    this.writer = new EntityStateWriter({
      clock: host.clock,
      store: host.store,
      storeKey: host.storeKey,
      writeEveryMs: host.writeEveryMs,
      handling: () => this.handling,
      reminders: () => this.reminders,
      snapshot: () => ({
        state: this.definition.stateType.encode(this.state).finish(),
        applied: this.applied.toRecord(),
        reminders: this.reminders.toRecord(),
        earliest: this.reminders.earliestDueMs,
      }),
      forget: (mails) => this.bounds.forget(mails),
      settled: () => this.afterWork(),
      conflict: (rejected, pending, error) => this.fence(rejected, pending, error),
    });
  }

  /** Writes that landed, for tests and stats. */
  get writes(): number {
    return this.writer.writes;
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
        const detail = `entity ${this.definition.kind}/${this.key} on node ${this.host.nodeId} holds ${held} message(s), ${this.bounds.bytes} bytes by estimate, not yet processed or written (${limit} ${this.bounds.limitValue(limit)})${this.writer.inFlight === undefined ? "" : ": its store has not confirmed a write yet"}`;
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
    return this.inbox.length + this.writer.held;
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
    const inFlight = this.writer.inFlight?.mail ?? [];
    const pending = [...this.writer.pending.mail];
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
    return !this.running && this.inbox.length === 0 && this.writer.idle;
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if (!this.loaded && !(await this.load())) return;
      while (this.inbox.length > 0 && !this.stopped) {
        await this.process(this.inbox.shift()!);
        if (this.host.writeBehind) this.writer.releasePending();
        this.writer.maybeWrite();
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
      this.writer.loadedAt(stored === undefined ? "absent" : { generation: stored.generation });
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
            this.writer.markChanged();
            this.writer.maybeWrite();
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
    const batch = this.writer.pending;
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
        this.writer.markChanged();
      }
      if (ctx.remindersBefore !== undefined) this.writer.markChanged();
      if (key !== undefined) {
        const now = this.host.clock.now();
        const reply = ctx.firstReply === undefined ? undefined : this.host.encodeReply(ctx.firstReply);
        this.applied.add({ key, appliedAtMs: now, replyType: reply?.type ?? "", reply: reply?.bytes ?? new Uint8Array(0) }, now);
        this.writer.markChanged();
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
    if (due.length > 0) this.writer.markChanged();
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

  /**
   * Another copy wrote: nothing this copy held goes out. Askers whose effect was in the rejected write
   * get a Failure `fenced`; every other message (tells in it, and all mail not yet written) moves on to
   * the owner, where it is processed against the state that did commit.
   */
  private fence(rejected: Batch, pending: Batch, error: GenerationConflictError): void {
    this.stop();
    const onward: Mail[] = [];
    let failed = 0;
    // Write-behind: what was processed has been answered already; its effects are lost with this copy.
    const lost = this.host.writeBehind ? rejected.mail.length + pending.mail.length : 0;
    if (!this.host.writeBehind) {
      for (const mail of rejected.mail) {
        if (this.host.isAsk(mail)) {
          failed++;
          this.host.failAsk(mail, "fenced", `the copy of ${this.definition.kind}/${this.key} on node ${this.host.nodeId} lost its generation to another copy; this ask's effect was not confirmed (see docs/entities.md, Fencing)`);
        } else onward.push(mail);
      }
      onward.push(...pending.mail);
    }
    onward.push(...this.inbox.splice(0));
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
    this.writer.stop();
    this.host.retired(this);
    for (const resolve of this.quietWaiters.splice(0)) resolve();
  }
}
