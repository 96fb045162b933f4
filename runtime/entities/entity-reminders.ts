import type { troupe } from "../../proto/gen/troupe.js";

/** When a reminder falls due: once at `atMs`, every `everyMs` from now, or every `everyMs` from `atMs`. Times are the node clock's ms. */
export type ReminderSchedule = { readonly atMs: number; readonly everyMs?: number } | { readonly everyMs: number };

/** Longest reminder name, in UTF-8 bytes. */
export const MAX_REMINDER_NAME_BYTES = 100;
/** Reminders one entity may hold at once, unless hosting sets `reminders.maxPerEntity`. */
export const DEFAULT_MAX_REMINDERS_PER_ENTITY = 1_000;

export interface Reminder {
  readonly name: string;
  /** The tick's time (a periodic reminder keeps its phase through retries). */
  readonly dueAtMs: number;
  /** 0 for a one-off reminder. */
  readonly everyMs: number;
  /** Times `onReminder` threw for this tick in a row. */
  readonly failures?: number;
  /** After a throw: not due again before this (backoff). */
  readonly retryAtMs?: number;
}

/** How a reminder whose `onReminder` threw is fired again: after `minMs`, doubling per failure, at most `maxMs`. */
export interface ReminderRetry {
  readonly minMs: number;
  readonly maxMs: number;
}

export const DEFAULT_REMINDER_RETRY: ReminderRetry = Object.freeze({ minMs: 1_000, maxMs: 60_000 });

/** When a reminder is next fired: its tick, or later while it backs off after a throw. */
function firesAtMs(r: Reminder): number {
  return Math.max(r.dueAtMs, r.retryAtMs ?? 0);
}

/** A reminder that fell due: its name, and how many more ticks it stands for (ticks missed while nobody could fire them). */
export interface DueReminder {
  readonly name: string;
  readonly missed: number;
  /** The reminder as it was before it was taken, and as taking left it (undefined: removed). */
  readonly taken: Reminder;
  readonly left?: Reminder | undefined;
}

/** An entity's reminders, by name: what `ctx.remind` sets, kept in its stored object. */
export class EntityReminders {
  private readonly byName = new Map<string, Reminder>();

  constructor(
    private readonly maxPerEntity: number,
    loaded: readonly troupe.entity.IReminder[],
  ) {
    for (const r of loaded) {
      if (!r.name) continue;
      const retry = r.failures ? { failures: r.failures, retryAtMs: r.retryAtMs ?? 0 } : {};
      this.byName.set(r.name, { name: r.name, dueAtMs: r.dueAtMs ?? 0, everyMs: r.everyMs ?? 0, ...retry });
    }
  }

  get size(): number {
    return this.byName.size;
  }

  /** Sets (or replaces) the reminder `name`. Throws on a bad name or schedule, or past the count limit. */
  set(name: string, schedule: ReminderSchedule, nowMs: number): void {
    if (typeof name !== "string" || name.length === 0 || Buffer.byteLength(name, "utf8") > MAX_REMINDER_NAME_BYTES) {
      throw new TypeError(`reminder name must be 1-${MAX_REMINDER_NAME_BYTES} bytes; got ${JSON.stringify(name)}`);
    }
    const everyMs = schedule.everyMs ?? 0;
    if (!(everyMs >= 0) || !Number.isFinite(everyMs) || ("everyMs" in schedule && schedule.everyMs !== undefined && everyMs === 0)) {
      throw new RangeError(`reminder ${name}: everyMs must be a positive number of ms; got ${schedule.everyMs}`);
    }
    const dueAtMs = "atMs" in schedule && schedule.atMs !== undefined ? schedule.atMs : nowMs + everyMs;
    if (!Number.isFinite(dueAtMs)) throw new RangeError(`reminder ${name}: atMs must be a finite number of ms; got ${dueAtMs}`);
    if (!this.byName.has(name) && this.byName.size >= this.maxPerEntity) {
      throw new RangeError(`reminder ${name}: this entity already has ${this.byName.size} reminders (maxPerEntity ${this.maxPerEntity})`);
    }
    this.byName.set(name, { name, dueAtMs, everyMs });
  }

  /** Removes the reminder; false when there was none of that name. */
  cancel(name: string): boolean {
    return this.byName.delete(name);
  }

  /** When the reminder `name` is next due (later than its tick while it backs off after a throw), if there is one. */
  dueAtMs(name: string): number | undefined {
    const r = this.byName.get(name);
    return r === undefined ? undefined : firesAtMs(r);
  }

  /** The earliest due time, or undefined when there are no reminders. */
  get earliestDueMs(): number | undefined {
    let earliest: number | undefined;
    for (const r of this.byName.values()) if (earliest === undefined || firesAtMs(r) < earliest) earliest = firesAtMs(r);
    return earliest;
  }

  /**
   * Takes the reminders due at `nowMs`, earliest first: a one-off one is removed; a periodic one moves
   * to its first tick after `nowMs`, and the ticks it skipped are its `missed` count. Each comes with
   * the reminder as it was, for `retry` should its handler throw.
   */
  takeDue(nowMs: number): DueReminder[] {
    const due = [...this.byName.values()].filter((r) => firesAtMs(r) <= nowMs).sort((a, b) => firesAtMs(a) - firesAtMs(b));
    return due.map((r) => {
      if (r.everyMs === 0) {
        this.byName.delete(r.name);
        return { name: r.name, missed: 0, taken: r, left: undefined };
      }
      const ticks = Math.floor((nowMs - r.dueAtMs) / r.everyMs) + 1;
      const left = { name: r.name, dueAtMs: r.dueAtMs + ticks * r.everyMs, everyMs: r.everyMs };
      this.byName.set(r.name, left);
      return { name: r.name, missed: ticks - 1, taken: r, left };
    });
  }

  /**
   * The handler of a reminder taken by `takeDue` threw: it is put back as it was (its tick not used
   * up), not to fire again before the backoff has passed; the delay doubles with each throw in a row.
   * Left alone if something else changed it meanwhile (another reminder's handler set or cancelled it).
   * Returns the delay, or undefined when it was left alone.
   */
  retry(due: DueReminder, nowMs: number, backoff: ReminderRetry): number | undefined {
    const { taken: before, left } = due;
    const current = this.byName.get(before.name);
    const untouched = left === undefined ? current === undefined : current?.dueAtMs === left.dueAtMs && current.everyMs === left.everyMs && !current.failures;
    if (!untouched) return undefined;
    const failures = (before.failures ?? 0) + 1;
    const delayMs = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.min(failures - 1, 52));
    this.byName.set(before.name, { name: before.name, dueAtMs: before.dueAtMs, everyMs: before.everyMs, failures, retryAtMs: nowMs + delayMs });
    return delayMs;
  }

  toRecord(): troupe.entity.IReminder[] {
    return [...this.byName.values()];
  }
}
