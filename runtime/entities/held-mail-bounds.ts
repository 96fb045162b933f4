import { approximateBytes } from "../approximate-bytes.js";
import type { Mail, Refusal } from "./activation-host.js";

/**
 * The bounds of what one copy of an entity holds: messages received and not yet processed, or
 * processed and not yet written, at most `maxQueued` of them and `maxQueuedBytes` by `approximateBytes`.
 * A store that is slow or down then makes the entity refuse new work instead of holding it without bound.
 */
export class HeldMailBounds {
  /** Estimated bytes of the messages held, each one's remembered until it leaves. */
  bytes = 0;
  private readonly sizes = new WeakMap<Mail, number>();

  constructor(
    private readonly maxQueued: number,
    private readonly maxQueuedBytes: number,
  ) {}

  /** Counts `mail` in, the copy holding `held` messages now; or the limit it is at, leaving `mail` out. */
  admit(mail: Mail, held: number): Refusal["limit"] | undefined {
    if (held >= this.maxQueued || this.bytes >= this.maxQueuedBytes) return held >= this.maxQueued ? "maxQueuedPerEntity" : "maxQueuedBytesPerEntity";
    const bytes = approximateBytes(mail.message);
    this.sizes.set(mail, bytes);
    this.bytes += bytes;
    return undefined;
  }

  /** The value of `limit`, for words about a refusal. */
  limitValue(limit: Refusal["limit"]): number {
    return limit === "maxQueuedPerEntity" ? this.maxQueued : this.maxQueuedBytes;
  }

  /** Messages that left (written and released, or never counted): their bytes are no longer held. */
  forget(mails: readonly Mail[]): void {
    for (const mail of mails) {
      this.bytes -= this.sizes.get(mail) ?? 0;
      this.sizes.delete(mail);
    }
  }
}
