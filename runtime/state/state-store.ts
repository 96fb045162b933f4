/**
 * Where durable state lives: a small key → bytes store with optimistic concurrency, in the manner of
 * GCS generations (or Orleans's ETags). Every object has a generation, an opaque decimal string that
 * changes on every write; a write names the generation it expects to replace, or `"absent"` to create,
 * and fails with `GenerationConflictError` when the object has moved on. A conflict means: read again,
 * merge again, write again (`updateObject` does exactly that).
 *
 * Adapters: `MemoryStore` (unit tests), `FileStore` (the embedded default), `GcsStore`; `openStateStore`
 * picks one from a URL.
 */
export interface StateStore {
  /** Where the objects live (`gs://bucket/prefix`, `file:///dir`, `memory:`): safe to print, never credentials. */
  readonly description: string;
  /** The object's bytes and generation, or undefined when no object has that key. */
  read(key: string): Promise<StoredObject | undefined>;
  /**
   * Replaces the object if its generation is still `expected.generation`, or creates it if `expected`
   * is `"absent"` and it does not exist. Resolves to the new generation; rejects with
   * `GenerationConflictError` when the precondition does not hold, and nothing is written.
   */
  write(key: string, bytes: Uint8Array, expected: Expected): Promise<string>;
  /** Keys of existing objects that start with `prefix` (default: all), sorted. */
  list(prefix?: string): Promise<string[]>;
  close(): Promise<void>;
}

/** The precondition of a write: the generation the writer read, or `"absent"` for create-if-absent. */
export type Expected = { readonly generation: string } | "absent";

export interface StoredObject {
  readonly bytes: Uint8Array;
  /** A decimal string, as GCS's int64 generations are; compare for equality only. */
  readonly generation: string;
}

/** A write's precondition failed: the object was created or replaced since the writer read it. */
export class GenerationConflictError extends Error {
  override readonly name = "GenerationConflictError";
  constructor(
    readonly key: string,
    readonly expected: Expected,
    detail?: string,
  ) {
    const what =
      expected === "absent"
        ? "expected no object, but one exists"
        : `expected generation ${expected.generation}, but the object has been replaced or does not exist`;
    super(`write to "${key}" conflicted: ${what}${detail ? ` (${detail})` : ""}; read it again and retry`);
  }
}

/** A key that no store accepts; the message says why. */
export class InvalidKeyError extends Error {
  override readonly name = "InvalidKeyError";
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid state key ${JSON.stringify(key)}: ${reason}`);
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** GCS's limit on object names, which every store shares so that keys move between stores. */
export const MAX_KEY_BYTES = 1024;

/**
 * Checks a key: non-empty, at most 1024 UTF-8 bytes, `/`-separated segments that are neither empty,
 * `.` nor `..`, no leading or trailing `/`, no control characters. Keys are the same in every store, so a
 * key that works in tests works on GCS and as a path under the file store's directory.
 */
export function validateKey(key: string): void {
  if (typeof key !== "string" || key.length === 0) throw new InvalidKeyError(String(key), "it is empty");
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) throw new InvalidKeyError(key, `it is longer than ${MAX_KEY_BYTES} bytes`);
  if (/[\u0000-\u001f\u007f-\u009f]/.test(key)) throw new InvalidKeyError(key, "it contains a control character");
  if (key.startsWith("/")) throw new InvalidKeyError(key, "it starts with '/' (keys are relative)");
  if (key.endsWith("/")) throw new InvalidKeyError(key, "it ends with '/'");
  for (const segment of key.split("/")) {
    if (segment === "") throw new InvalidKeyError(key, "it has an empty segment ('//')");
    if (segment === "." || segment === "..") throw new InvalidKeyError(key, `it has a '${segment}' segment`);
  }
  if (LONE_SURROGATE.test(key)) throw new InvalidKeyError(key, "it is not well-formed Unicode (a lone surrogate)");
}

/** Checks a `list` prefix: empty is fine (everything); otherwise the same characters as keys. */
export function validatePrefix(prefix: string): void {
  if (prefix === "") return;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(prefix)) throw new InvalidKeyError(prefix, "the prefix contains a control character");
  if (prefix.startsWith("/")) throw new InvalidKeyError(prefix, "the prefix starts with '/' (keys are relative)");
}

/**
 * Checks the shape of a write's precondition: `"absent"`, or a generation as stores hand them out (a
 * decimal string without sign or leading zeros). A malformed one is a programming error, not a conflict.
 */
export function validateExpected(expected: Expected): void {
  if (expected === "absent") return;
  const generation: unknown = (expected as { generation?: unknown } | null)?.generation;
  if (typeof generation !== "string" || !/^[1-9][0-9]{0,30}$/.test(generation)) {
    throw new TypeError(`expected must be "absent" or { generation } with a decimal generation string, got ${JSON.stringify(expected)}`);
  }
}
