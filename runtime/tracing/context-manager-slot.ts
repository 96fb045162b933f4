import type { Context } from "@opentelemetry/api";

/**
 * The brand of a context made only when something asks for the active one (`ContextOnDemand`): a
 * global symbol, as the manager is shared through a global slot (below), maybe with another copy.
 */
export const MAKE_CONTEXT = Symbol.for("troupe.tracing.make-context");

/**
 * What `runSync` may make active in place of a context: a message's unsampled trace whose ids nobody
 * has drawn yet. The manager makes the context (`[MAKE_CONTEXT]()`) the first time the active one is
 * read during the run, and keeps it for the rest of the run, so that one message has one context;
 * a handler that never reads it (most, at a low sampling ratio) costs no object at all.
 */
export interface ContextOnDemand {
  [MAKE_CONTEXT](): Context;
}

/** What the message path uses of the context manager `startTracing` installs (troupe-context-manager.ts). */
export interface FastContextManager {
  active(): Context;
  /** The active context, or the `ContextOnDemand` standing in for it when nobody has read it yet. */
  activeOrOnDemand(): Context | ContextOnDemand;
  runSync<A, B, C, R>(context: Context | ContextOnDemand, fn: (a: A, b: B, c: C) => R, a: A, b: B, c: C): R;
  /** The context the last `runSync` of a `ContextOnDemand` made, if its function read it (for what follows that run: a failure's report). */
  madeInLastRun(): Context | undefined;
}

/** Whether `context` stands in for a context not made yet. */
export function isOnDemand(context: Context | ContextOnDemand): context is ContextOnDemand {
  return (context as Partial<ContextOnDemand>)[MAKE_CONTEXT] !== undefined;
}

/** `context` itself, or the one it stands in for, made now. */
export function contextOf(context: Context | ContextOnDemand): Context {
  return isOnDemand(context) ? context[MAKE_CONTEXT]() : context;
}

/** Versioned: a copy of the runtime from before `ContextOnDemand` registers a manager without it under the old key. */
const SLOT = Symbol.for("troupe.tracing.context-manager.v2");
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
