/** Strings longer than this are decoded every time: paths and names are shorter. */
const MAX_INTERNED_BYTES = 128;
/** Slots of the cache, a power of two; a colliding string replaces the one there. */
const SLOTS = 1024;

/**
 * Up to this length, ASCII is decoded without TextDecoder (whose set-up costs more than it saves): a
 * W3C traceparent header (55 bytes) through TextDecoder cost more than the rest of reading its envelope.
 */
const SHORT_BYTES = 512;
/** Up to this length, ASCII is decoded character by character; longer, by Node's latin1 slice. */
const TINY_BYTES = 12;

/**
 * Node's native latin1 decoding of a byte range, which takes any Uint8Array: for ASCII the same text as
 * UTF-8, about 6x faster than building it a character at a time at 38 bytes. Undefined outside Node.
 */
const latin1Slice = (globalThis.Buffer?.prototype as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string } | undefined)?.latin1Slice;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes UTF-8 strings that recur (type names, actor paths, node ids) once: the bytes are compared
 * with the last string seen in their slot, and on a match the same string object is returned. That
 * saves the decoding, and since V8 keeps a string's hash in the string, every Map lookup keyed by it
 * after the first costs no hashing. A direct-mapped cache: bounded, no eviction bookkeeping.
 */
export class InternedStrings {
  private readonly keys: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(SLOTS);
  private readonly values: string[] = new Array<string>(SLOTS);

  /** The string encoded in `bytes[start, end)`; throws on invalid UTF-8. */
  read(bytes: Uint8Array, start: number, end: number): string {
    const length = end - start;
    if (length === 0) return "";
    if (length > MAX_INTERNED_BYTES) return InternedStrings.decode(bytes, start, end);
    // A few sampled bytes are enough to spread names and paths over the slots (they differ in length,
    // or at the end: "/user/sink-1", "worker-2"); the full comparison below decides.
    const hash = Math.imul(length, 0x9e3779b1) ^ Math.imul(bytes[start]!, 31) ^ Math.imul(bytes[end - 1]!, 1_000_003) ^ Math.imul(length > 1 ? bytes[end - 2]! : 0, 8191) ^ Math.imul(bytes[start + (length >> 1)]!, 131);
    const slot = (hash ^ (hash >>> 16)) & (SLOTS - 1);
    const key = this.keys[slot];
    if (key !== undefined && key.length === length && sameBytes(key, bytes, start)) return this.values[slot]!;
    const value = InternedStrings.decode(bytes, start, end);
    this.keys[slot] = Uint8Array.prototype.slice.call(bytes, start, end);
    this.values[slot] = value;
    return value;
  }

  /** Decodes without caching; throws on invalid UTF-8. */
  static decode(bytes: Uint8Array, start: number, end: number): string {
    const length = end - start;
    if (length > SHORT_BYTES) return utf8.decode(bytes.subarray(start, end));
    if (length > TINY_BYTES && latin1Slice !== undefined) {
      // ASCII of an ask's /temp/<32 hex> path and the like: one native call, no decoder set-up.
      for (let i = start; i < end; i++) if (bytes[i]! & 0x80) return utf8.decode(bytes.subarray(start, end));
      return latin1Slice.call(bytes, start, end);
    }
    // Tiny ASCII (ids, short names) without a call into native code, as protobufjs does.
    let text = "";
    for (let i = start; i < end; i++) {
      const byte = bytes[i]!;
      if (byte & 0x80) return text + utf8.decode(bytes.subarray(i, end));
      text += String.fromCharCode(byte);
    }
    return text;
  }
}

function sameBytes(key: Uint8Array, bytes: Uint8Array, start: number): boolean {
  for (let i = 0; i < key.length; i++) if (key[i] !== bytes[start + i]) return false;
  return true;
}
