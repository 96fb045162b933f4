import type { ActorContext } from "../actor-context.js";
import { GenerationConflictError, type Expected, type StateStore, type StoredObject } from "../state/state-store.js";
import type { NodeStats } from "./node-stats.js";

/**
 * Counts a store's writes into a node's stats by outcome (written, conflict: a 412, failed); the
 * reducer wraps its store in one when metrics are on. Everything else passes straight through.
 */
export class MeteredStore implements StateStore {
  constructor(
    readonly inner: StateStore,
    private readonly stats: NodeStats,
  ) {}

  get description(): string {
    return this.inner.description;
  }

  read(key: string): Promise<StoredObject | undefined> {
    return this.inner.read(key);
  }

  async write(key: string, bytes: Uint8Array, expected: Expected): Promise<string> {
    try {
      const generation = await this.inner.write(key, bytes, expected);
      this.stats.storeWrite("written");
      return generation;
    } catch (error) {
      this.stats.storeWrite(error instanceof GenerationConflictError ? "conflict" : "failed");
      throw error;
    }
  }

  list(prefix?: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The stats of the node an actor runs on, when metrics are on there (actors of the runtime's own use this). */
export function nodeStatsOf(ctx: ActorContext): NodeStats | undefined {
  return (ctx as { readonly nodeStats?: NodeStats }).nodeStats;
}
