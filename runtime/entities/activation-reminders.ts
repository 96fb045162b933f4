import type { troupe } from "../../proto/gen/troupe.js";
import type { Clock, TimerHandle } from "../clock.js";
import { EntityReminders, type DueReminder, type ReminderRetry, type ReminderSchedule } from "./entity-reminders.js";
import type { ReminderIndex } from "./reminder-index.js";

export interface ActivationRemindersHost {
  readonly key: string;
  readonly clock: Clock;
  /** The kind's reminder index; undefined when the kind has no `onReminder` (its reminders never fire). */
  readonly index: ReminderIndex | undefined;
  readonly maxPerEntity: number;
  /** Backoff for a reminder whose `onReminder` threw. */
  readonly retry: ReminderRetry;
  /** The earliest reminder fell due on this copy's timer. */
  due(): void;
  /** The index needs a fresh claim, which a write carries: write. */
  claimNeeded(): void;
}

/**
 * One copy's reminders: the set its handlers change, a timer for the earliest one, and its part in
 * the kind's reminder index (see ReminderIndex): a write whose earliest reminder is earlier than the
 * index promises claims first; a write that made it later raises the entry once it has landed.
 */
export class ActivationReminders {
  private set: EntityReminders;
  /** The index claim the committed record carries ("" for none). */
  private committedToken: string;
  /** The index entry is at or before this (the committed record's earliest reminder); undefined: no such promise. */
  private indexedAtMost: number | undefined;
  /** The next write claims anew (a raise found another copy's token). */
  private reclaim = false;
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly host: ActivationRemindersHost,
    loaded: readonly troupe.entity.IReminder[],
    indexToken: string,
  ) {
    this.set = new EntityReminders(host.maxPerEntity, loaded);
    this.committedToken = indexToken;
    this.indexedAtMost = this.set.earliestDueMs;
    this.schedule();
  }

  get token(): string {
    return this.committedToken;
  }

  get earliestDueMs(): number | undefined {
    return this.set.earliestDueMs;
  }

  remind(name: string, schedule: ReminderSchedule): void {
    this.set.set(name, schedule, this.host.clock.now());
  }

  cancel(name: string): boolean {
    return this.set.cancel(name);
  }

  dueAtMs(name: string): number | undefined {
    return this.set.dueAtMs(name);
  }

  takeDue(): DueReminder[] {
    return this.set.takeDue(this.host.clock.now());
  }

  /** `onReminder` threw for `due`: it fires again after a backoff; returns the delay (undefined: it was changed meanwhile, left alone). */
  retry(due: DueReminder): number | undefined {
    return this.set.retry(due, this.host.clock.now(), this.host.retry);
  }

  toRecord(): troupe.entity.IReminder[] {
    return this.set.toRecord();
  }

  /** Puts back the reminders as they were before a handler that threw. */
  restore(record: readonly troupe.entity.IReminder[]): void {
    this.set = new EntityReminders(this.host.maxPerEntity, record);
  }

  /** Keeps one timer, for the earliest reminder. */
  schedule(): void {
    if (this.timer !== undefined) this.host.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const due = this.set.earliestDueMs;
    if (due === undefined || this.stopped || this.host.index === undefined) return;
    this.timer = this.host.clock.setTimeout(() => {
      this.timer = undefined;
      this.host.due();
    }, Math.max(0, due - this.host.clock.now()));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.host.clock.clearTimeout(this.timer);
  }

  /**
   * Before writing reminders whose earliest is `earliest`: the claim to take in the index first, or
   * undefined when the index already covers them. A crash between the two writes then leaves the
   * index early (a harmless wake), never late.
   */
  claimBefore(earliest: number | undefined): Promise<string> | undefined {
    const { index } = this.host;
    const earlier = earliest !== undefined && (this.indexedAtMost === undefined || earliest < this.indexedAtMost);
    if (index === undefined || !(this.reclaim || earlier)) return undefined;
    this.reclaim = false;
    return index.lower(this.host.key, earliest ?? Infinity).catch((error: unknown) => {
      this.reclaim = true;
      throw error;
    });
  }

  /** A write that took a claim did not land (it is written again): the next one claims again. */
  claimUnused(): void {
    this.reclaim = true;
  }

  /** A write landed with these reminders under `token`; if it moved the earliest later (or claimed), the entry follows. */
  landed(earliest: number | undefined, token: string, claimed: boolean): void {
    const before = this.indexedAtMost;
    this.committedToken = token;
    this.indexedAtMost = earliest;
    const later = claimed || (before !== undefined && (earliest === undefined || earliest > before));
    if (later && token !== "") this.host.index?.raise(this.host.key, earliest, token).catch(() => undefined);
  }

  /**
   * A scanner woke this copy and nothing was due: the index entry is early. It moves to the committed
   * earliest reminder if it still carries the committed claim; else (another copy claimed and never
   * wrote) the next write claims anew.
   */
  confirmIndex(): void {
    const { index } = this.host;
    if (index === undefined) return;
    const claimAgain = (): void => {
      this.reclaim = true;
      this.host.claimNeeded();
    };
    // No claim and no reminders: only an entry left by another copy's claim needs one (the raise finds it).
    if (this.committedToken === "" && this.indexedAtMost !== undefined) return claimAgain();
    index.raise(this.host.key, this.indexedAtMost, this.committedToken).then(
      (raised) => {
        if (!raised && !this.stopped) claimAgain();
      },
      () => undefined, // The store failed: the entry stays early, and the next scan wakes this copy again.
    );
  }
}
