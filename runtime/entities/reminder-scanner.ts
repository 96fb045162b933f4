import type { Clock, TimerHandle } from "../clock.js";
import type { ReminderIndex } from "./reminder-index.js";

export interface ReminderScannerHost {
  readonly clock: Clock;
  readonly index: ReminderIndex;
  /** How often the shards this node scans are read. */
  readonly scanEveryMs: number;
  /** Most keys woken per shard per scan (earliest due first); the rest wait for the next scan. */
  readonly maxWakesPerScan: number;
  /** Whether this node scans shard `shard` now (one node per shard, from membership). */
  scans(shard: number): boolean;
  /** Sends a wake to the entity `key`, which its owner activates to fire what is due. */
  wake(key: string): void;
  /** A shard could not be read; the next scan tries again. */
  failed(error: Error): void;
}

/** A key woken and not yet moved on is woken again after this many scan intervals (its wake may have been lost). */
const REWAKE_SCANS = 5;

/**
 * Reads the reminder index shards this node is responsible for, every `scanEveryMs`, and wakes the
 * entities whose entry has fallen due: their owner activates them and fires their due reminders, which
 * moves the entry on. Costs one read per scanned shard per interval, whatever the number of entities.
 */
export class ReminderScanner {
  private timer: TimerHandle | undefined;
  private stopped = false;
  /** Keys woken recently, and when: bounded by the due entries of the scanned shards. */
  private readonly woken = new Map<string, number>();

  constructor(private readonly host: ReminderScannerHost) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.host.clock.clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.host.clock.setTimeout(() => {
      this.timer = undefined;
      void this.scan().finally(() => this.schedule());
    }, this.host.scanEveryMs);
  }

  /** One pass over the shards this node scans. */
  async scan(): Promise<void> {
    const { index, clock } = this.host;
    const stillDue = new Set<string>();
    for (let shard = 0; shard < index.shards && !this.stopped; shard++) {
      if (!this.host.scans(shard)) continue;
      let entries;
      try {
        entries = await index.read(shard);
      } catch (error) {
        this.host.failed(error as Error);
        continue;
      }
      const now = clock.now();
      const due = entries.filter((e) => e.dueAtMs <= now).sort((a, b) => a.dueAtMs - b.dueAtMs);
      let woken = 0;
      for (const entry of due) {
        if (woken >= this.host.maxWakesPerScan || this.stopped) break;
        stillDue.add(entry.key);
        const last = this.woken.get(entry.key);
        if (last !== undefined && now - last < REWAKE_SCANS * this.host.scanEveryMs) continue;
        this.woken.set(entry.key, now);
        woken++;
        this.host.wake(entry.key);
      }
    }
    for (const key of this.woken.keys()) if (!stillDue.has(key)) this.woken.delete(key);
  }
}
