import { createHash } from "node:crypto";

/** What identifies one computation. */
export interface CacheKeyParts {
  /** The worker's kind (or any name for the function computed). */
  readonly kind: string;
  /** Bumped by the user when the function changes what it computes: old entries are then never read. */
  readonly version: string | number;
  /** The request's protobuf type name. */
  readonly type: string;
  /** The request's encoded bytes. */
  readonly bytes: Uint8Array;
}

/**
 * The key of a computation: the sha256 (hex) of its parts, each length-prefixed so that no two
 * different sets of parts hash the same bytes ("ab" + "c" is not "a" + "bc").
 */
export function resultCacheKey(parts: CacheKeyParts): string {
  const hash = createHash("sha256");
  for (const part of [Buffer.from(parts.kind, "utf8"), Buffer.from(String(parts.version), "utf8"), Buffer.from(parts.type, "utf8"), parts.bytes]) {
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(part.length, 0);
    hash.update(length);
    hash.update(part);
  }
  return hash.digest("hex");
}
