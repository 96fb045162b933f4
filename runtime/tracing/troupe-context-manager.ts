import { executionAsyncId } from "node:async_hooks";
import { ROOT_CONTEXT, type Context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { contextOf, isOnDemand, type ContextOnDemand, type FastContextManager } from "./context-manager-slot.js";

/**
 * The context manager `startTracing` installs: OpenTelemetry's AsyncLocalStorage one, with two
 * shortcuts for the message path, where a node reads the active context once per send and makes one
 * active once per message processed.
 *
 * - `runSync` makes a context active for the synchronous run of a function only, as a field: no
 *   AsyncLocalStorage at all (whose `run` costs ~0.1 µs a call on Node 20 and ~0.6 µs on Node 24,
 *   where it copies the async context frame). Troupe uses it for the handlers of unsampled messages
 *   that are not `async` functions (see Tracing.runHandler): callbacks such a handler leaves behind
 *   (a timer, an un-awaited `.then`) do not see that context. It may be a `ContextOnDemand`, made
 *   the first time `active` is read during the run.
 * - `active` remembers what it found for the current async execution (by its id) until a context is
 *   entered or left through this manager: Node 20 and 22 look AsyncLocalStorage up through
 *   async_hooks on every call. Only where the storage is async_hooks-based (not Node 24's async
 *   context frame, whose lookups are cheap and whose async ids do not follow promise jobs).
 */
export class TroupeContextManager extends AsyncLocalStorageContextManager implements FastContextManager {
  /** The context `runSync` made active, over the stored one (made when first read, if it is on demand). */
  private current: Context | ContextOnDemand | undefined;
  /** What the last run of a context on demand made of it (undefined when nothing read it). */
  private lastMade: Context | undefined;
  /** Bumped whenever the stored context may have changed in the current execution. */
  private version = 0;
  private cachedVersion = -1;
  private cachedId = -1;
  private cached: Context | undefined;
  private readonly cacheable: boolean;

  constructor() {
    super();
    const storage = (this as unknown as { _asyncLocalStorage: object })._asyncLocalStorage;
    // The async_hooks implementation keeps the store on the execution's resource under this key.
    this.cacheable = Object.hasOwn(storage, "kResourceStore");
  }

  override active(): Context {
    const current = this.current;
    if (current === undefined) return this.stored();
    if (!isOnDemand(current)) return current;
    // Read for the first time in this run: made now, and the same one for the rest of the run.
    return (this.current = contextOf(current));
  }

  activeOrOnDemand(): Context | ContextOnDemand {
    return this.current ?? this.stored();
  }

  /** What AsyncLocalStorage holds for the current execution (remembered per execution, see above). */
  private stored(): Context {
    if (!this.cacheable) return super.active();
    const id = executionAsyncId();
    if (id === this.cachedId && this.version === this.cachedVersion) return this.cached!;
    const found = super.active();
    this.cachedId = id;
    this.cachedVersion = this.version;
    this.cached = found;
    return found;
  }

  override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const current = this.current;
    this.current = undefined;
    this.version++;
    try {
      return super.with(context, fn, thisArg, ...args);
    } finally {
      this.current = current;
      this.version++;
    }
  }

  override attach(context: Context): ReturnType<AsyncLocalStorageContextManager["attach"]> {
    const current = this.current;
    this.current = undefined;
    // After: the base class reads `active()` before it enters the context.
    const token = super.attach(context);
    this.version++;
    return {
      dispose: () => {
        this.version++;
        token.dispose();
        // Back to what was active before: a runSync context too, for the rest of its handler.
        this.current = current;
      },
    };
  }

  override disable(): this {
    this.current = undefined;
    this.version++;
    return super.disable();
  }

  /** Runs `fn(a, b, c)` with `context` active until it returns (see above). */
  runSync<A, B, C, R>(context: Context | ContextOnDemand, fn: (a: A, b: B, c: C) => R, a: A, b: B, c: C): R {
    // What `fn` leaves behind (a promise it returns, a timer) runs with the stored context of this
    // execution: harmless only when that is the root. Under another trace's context (a drain started
    // from a sampled handler's continuation) it would land in that trace: enter the context properly.
    if (this.stored() !== ROOT_CONTEXT) {
      const made = contextOf(context);
      this.lastMade = made === context ? undefined : made;
      return this.with(made, fn, undefined, a, b, c);
    }
    const current = this.current;
    this.current = context;
    try {
      return fn(a, b, c);
    } finally {
      // Made during the run if it was read: `active` put what it made in the place of the one on demand.
      const end = this.current;
      this.lastMade = end !== context ? (end as Context | undefined) : undefined;
      this.current = current;
    }
  }

  madeInLastRun(): Context | undefined {
    return this.lastMade;
  }
}
