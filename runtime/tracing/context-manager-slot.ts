import type { Context } from "@opentelemetry/api";

/** What the message path uses of the context manager `startTracing` installs (troupe-context-manager.ts). */
export interface FastContextManager {
  active(): Context;
  runSync<A, B, C, R>(context: Context, fn: (a: A, b: B, c: C) => R, a: A, b: B, c: C): R;
}

const SLOT = Symbol.for("troupe.tracing.context-manager");
type Slotted = { [SLOT]?: FastContextManager };

/**
 * The manager `startTracing` registered as the global one, if it did: shared through a global slot,
 * as the API shares its own, so that a system learns of it without loading the SDK.
 */
export function fastContextManager(): FastContextManager | undefined {
  return (globalThis as Slotted)[SLOT];
}

export function setFastContextManager(manager: FastContextManager | undefined): void {
  (globalThis as Slotted)[SLOT] = manager;
}
