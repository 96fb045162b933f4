import type { troupe } from "../../proto/gen/troupe.js";

/** Header: the idempotency key of a message to an entity (docs/entities.md, "Idempotency keys"). */
export const IDEMPOTENCY_KEY_HEADER = "troupe-entity-idempotency-key";
/** Longest idempotency key accepted, in UTF-8 bytes. */
export const MAX_IDEMPOTENCY_KEY_BYTES = 256;

/** How many applied idempotency keys an entity remembers, with their replies, in its stored object. */
export interface IdempotencyWindow {
  /** Keys kept per entity; the oldest go first. Default 1,000. */
  readonly maxKeys?: number;
  /** A key is forgotten this long after it was applied. Default 86,400,000 (24 hours). */
  readonly maxAgeMs?: number;
  /** Bytes of keys and stored replies kept per entity; the oldest go first (the newest key stays). Default 262,144 (256 KiB). */
  readonly maxBytes?: number;
}

export const DEFAULT_IDEMPOTENCY_WINDOW: Required<IdempotencyWindow> = Object.freeze({ maxKeys: 1_000, maxAgeMs: 86_400_000, maxBytes: 262_144 });

export function idempotencyWindow(options: IdempotencyWindow | undefined): Required<IdempotencyWindow> {
  const window = { ...DEFAULT_IDEMPOTENCY_WINDOW, ...options };
  for (const [name, value] of Object.entries(window)) {
    if (!(value > 0)) throw new RangeError(`idempotency.${name} must be a positive number; got ${value}`);
  }
  return window;
}

/** A message's idempotency key: undefined when it has none; throws when the header is not a usable key. */
export function idempotencyKeyOf(headers: Readonly<Record<string, string>> | undefined): string | undefined {
  const key = headers?.[IDEMPOTENCY_KEY_HEADER];
  if (key === undefined) return undefined;
  if (key.length === 0 || Buffer.byteLength(key, "utf8") > MAX_IDEMPOTENCY_KEY_BYTES) {
    throw new RangeError(`the ${IDEMPOTENCY_KEY_HEADER} header must be 1-${MAX_IDEMPOTENCY_KEY_BYTES} bytes; got ${Buffer.byteLength(key, "utf8")}`);
  }
  return key;
}

type Applied = troupe.entity.IAppliedKey & { readonly key: string; readonly appliedAtMs: number };

/**
 * The idempotency keys an entity has applied, oldest first, with the reply each one's handler sent,
 * bounded by count, age and bytes. Kept in the entity's stored object, so a key and its effect are
 * committed by the same write.
 */
export class AppliedKeys {
  private readonly entries = new Map<string, Applied>();
  private bytes = 0;

  constructor(
    private readonly window: Required<IdempotencyWindow>,
    loaded: readonly troupe.entity.IAppliedKey[],
  ) {
    for (const entry of loaded) if (entry.key) this.put({ ...entry, key: entry.key, appliedAtMs: entry.appliedAtMs ?? 0 });
  }

  get size(): number {
    return this.entries.size;
  }

  /** The key's first outcome, if it was applied within the window. */
  get(key: string, nowMs: number): troupe.entity.IAppliedKey | undefined {
    this.prune(nowMs);
    return this.entries.get(key);
  }

  add(entry: Applied, nowMs: number): void {
    this.put(entry);
    this.prune(nowMs);
  }

  /** What goes into the stored object, oldest first. */
  toRecord(): troupe.entity.IAppliedKey[] {
    return [...this.entries.values()];
  }

  private put(entry: Applied): void {
    this.remove(entry.key);
    this.entries.set(entry.key, entry);
    this.bytes += sizeOf(entry);
  }

  private remove(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.entries.delete(key);
    this.bytes -= sizeOf(old);
  }

  private prune(nowMs: number): void {
    const { maxKeys, maxAgeMs, maxBytes } = this.window;
    for (const [key, entry] of this.entries) {
      const over = this.entries.size > maxKeys || (this.bytes > maxBytes && this.entries.size > 1) || nowMs - entry.appliedAtMs >= maxAgeMs;
      if (!over) break;
      this.remove(key);
    }
  }
}

/** Bytes an entry costs in the stored object, roughly: its key, reply and reply type, and field overhead. */
function sizeOf(entry: Applied): number {
  return Buffer.byteLength(entry.key, "utf8") + (entry.reply?.length ?? 0) + (entry.replyType?.length ?? 0) + 16;
}
