import type { Expected, StateStore, StoredObject } from "../../runtime/index.js";

/**
 * Wraps a store so a test decides when writes reach it: while closed, each write waits (before the
 * inner store sees it, so its precondition is checked only when the gate opens). Counts writes asked
 * for and remembers the bytes of the last one that landed.
 */
export class GatedStore implements StateStore {
  writesAsked = 0;
  lastLanded: Uint8Array | undefined;
  private open = true;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly inner: StateStore) {}

  get description(): string {
    return this.inner.description;
  }

  /** Writes from now on wait until `release`. */
  hold(): void {
    this.open = false;
  }

  /** Lets every waiting write through, and the ones after it. */
  release(): void {
    this.open = true;
    for (const go of this.waiting.splice(0)) go();
  }

  get heldWrites(): number {
    return this.waiting.length;
  }

  read(key: string): Promise<StoredObject | undefined> {
    return this.inner.read(key);
  }

  async write(key: string, bytes: Uint8Array, expected: Expected): Promise<string> {
    this.writesAsked++;
    if (!this.open) await new Promise<void>((resolve) => this.waiting.push(resolve));
    const generation = await this.inner.write(key, bytes, expected);
    this.lastLanded = bytes.slice();
    return generation;
  }

  list(prefix?: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
