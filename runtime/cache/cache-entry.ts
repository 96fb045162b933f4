import { createHash } from "node:crypto";

/**
 * An entry as stored: a header, then the encoded result. The header lets a reader tell a valid entry
 * from anything else under the key (a corrupt write, another program's bytes, an entry of another
 * result type) without trusting the store:
 *
 *   0  "TRC1"                 magic and format version
 *   4  expiresAtMs  float64   wall-clock expiry, checked on read whatever the store's own TTL did
 *  12  computeMs    uint32    what computing the result took: the time a hit saves
 *  16  checksum     8 bytes   sha256 of everything after it, truncated
 *  24  typeLength   uint16    then the result's protobuf type name (UTF-8), then the result's bytes
 */
const MAGIC = Buffer.from("TRC1", "latin1");
const HEADER_BYTES = 26;

export interface CacheEntry {
  readonly expiresAtMs: number;
  readonly computeMs: number;
  readonly type: string;
  readonly result: Uint8Array;
}

export function encodeEntry(entry: CacheEntry): Uint8Array {
  const type = Buffer.from(entry.type, "utf8");
  const out = Buffer.allocUnsafe(HEADER_BYTES + type.length + entry.result.length);
  MAGIC.copy(out, 0);
  out.writeDoubleBE(entry.expiresAtMs, 4);
  out.writeUInt32BE(Math.min(0xffffffff, Math.max(0, Math.round(entry.computeMs))), 12);
  out.writeUInt16BE(type.length, 24);
  type.copy(out, HEADER_BYTES);
  out.set(entry.result, HEADER_BYTES + type.length);
  checksumOf(out).copy(out, 16);
  return out;
}

/** The entry, or a reason why the bytes are not one (they are then a miss, counted as corrupt). */
export function decodeEntry(bytes: Uint8Array): CacheEntry | { readonly corrupt: string } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < HEADER_BYTES || !buffer.subarray(0, 4).equals(MAGIC)) return { corrupt: "not a cache entry (no TRC1 header)" };
  if (!checksumOf(buffer).equals(buffer.subarray(16, 24))) return { corrupt: "checksum mismatch" };
  const typeLength = buffer.readUInt16BE(24);
  if (HEADER_BYTES + typeLength > buffer.length) return { corrupt: "truncated" };
  return {
    expiresAtMs: buffer.readDoubleBE(4),
    computeMs: buffer.readUInt32BE(12),
    type: buffer.toString("utf8", HEADER_BYTES, HEADER_BYTES + typeLength),
    result: buffer.subarray(HEADER_BYTES + typeLength),
  };
}

/** Bytes an entry adds to its result, besides the type name. */
export const ENTRY_OVERHEAD_BYTES = HEADER_BYTES;

function checksumOf(frame: Buffer): Buffer {
  const hash = createHash("sha256");
  hash.update(frame.subarray(4, 16));
  hash.update(frame.subarray(24));
  return hash.digest().subarray(0, 8);
}
