import { GenerationConflictError, type Expected, type StateStore } from "./state-store.js";

export interface UpdateOptions {
  /** Reads and writes at most this many times before giving up with a conflict; default 10. */
  readonly maxAttempts?: number;
}

export interface UpdateResult {
  /** The bytes written. */
  readonly bytes: Uint8Array;
  readonly generation: string;
  /** How many read-apply-write rounds it took, 1 when no other writer interfered. */
  readonly attempts: number;
}

export const DEFAULT_UPDATE_ATTEMPTS = 10;

/**
 * Read-modify-write under optimistic concurrency: reads the object, applies `fn` to its bytes
 * (undefined when it does not exist yet) and writes the result with the generation it read as the
 * precondition. On a `GenerationConflictError` it reads again and applies `fn` again to the newer bytes,
 * so `fn` must be a pure function of its input (it may run several times). Each conflict means that
 * another writer succeeded, so the writers as a whole always make progress.
 */
export async function updateObject(
  store: StateStore,
  key: string,
  fn: (current: Uint8Array | undefined) => Uint8Array,
  options: UpdateOptions = {},
): Promise<UpdateResult> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_UPDATE_ATTEMPTS);
  let lastExpected: Expected = "absent";
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const current = await store.read(key);
    lastExpected = current ? { generation: current.generation } : "absent";
    const bytes = fn(current?.bytes);
    try {
      const generation = await store.write(key, bytes, lastExpected);
      return { bytes, generation, attempts: attempt };
    } catch (error) {
      if (!(error instanceof GenerationConflictError)) throw error;
    }
  }
  throw new GenerationConflictError(key, lastExpected, `gave up after ${maxAttempts} attempts of updateObject`);
}
