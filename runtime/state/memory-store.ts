import {
  GenerationConflictError,
  validateExpected,
  validateKey,
  validatePrefix,
  type Expected,
  type StateStore,
  type StoredObject,
} from "./state-store.js";

/**
 * A `StateStore` in this process's memory, for unit tests: the same semantics as the durable stores
 * (generations, preconditions, conflicts, key rules) and nothing survives `close()`. Bytes are copied in
 * and out, so a caller cannot change a stored object by mutating its buffer.
 */
export class MemoryStore implements StateStore {
  readonly description = "memory:";
  private readonly objects = new Map<string, StoredObject>();
  /** One counter for the whole store, so a generation is never reused, not even across keys. */
  private lastGeneration = 0n;
  private closed = false;

  async read(key: string): Promise<StoredObject | undefined> {
    this.checkOpen();
    validateKey(key);
    const object = this.objects.get(key);
    return object && { bytes: object.bytes.slice(), generation: object.generation };
  }

  async write(key: string, bytes: Uint8Array, expected: Expected): Promise<string> {
    this.checkOpen();
    validateKey(key);
    validateExpected(expected);
    const current = this.objects.get(key);
    const holds = expected === "absent" ? current === undefined : current?.generation === expected.generation;
    if (!holds) throw new GenerationConflictError(key, expected);
    const generation = String(++this.lastGeneration);
    this.objects.set(key, { bytes: bytes.slice(), generation });
    return generation;
  }

  async list(prefix = ""): Promise<string[]> {
    this.checkOpen();
    validatePrefix(prefix);
    return [...this.objects.keys()].filter((key) => key.startsWith(prefix)).sort();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.objects.clear();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error("memory: state store is closed");
  }
}
