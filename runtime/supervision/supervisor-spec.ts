/**
 * Which children a supervisor restarts when one of them fails (Erlang/OTP's strategies):
 * - "one-for-one": only the failed child.
 * - "one-for-all": every child, for children that only make sense together.
 * - "rest-for-one": the failed child and the children started after it, which may depend on it.
 */
export type SupervisionStrategy = "one-for-one" | "one-for-all" | "rest-for-one";

/**
 * Whether a child is restarted (OTP's restart types):
 * - "permanent": after a failure, and also when it stops by itself. The default.
 * - "transient": only after a failure; stopping by itself is a normal end.
 * - "temporary": never; a failure stops it.
 */
export type ChildRestart = "permanent" | "transient" | "temporary";

/**
 * What a supervisor does about a failed child.
 * - "resume": keep the child's state, drop the failing message, go on with the next one.
 * - "restart": new state from `init` (after `restarting`); queued messages are kept. Per the strategy.
 * - "stop": stop the child.
 * - "escalate": fail the supervisor itself with the same error; its own supervisor decides.
 */
export type FailureDirective = "resume" | "restart" | "stop" | "escalate";

/** Decides what to do about `error`, thrown while handling `message` (undefined for a failed start). */
export type FailureDecider = (error: unknown, message: object | undefined) => FailureDirective;

/** How an actor supervises its children. Every field is optional; the defaults are below. */
export interface SupervisorSpec {
  /** Default "one-for-one". */
  readonly strategy?: SupervisionStrategy;
  /** Restart intensity: more than `maxRestarts` restarts within `withinMs` and the supervisor gives up
   * on its children and escalates. Default 3 within 5000 ms. */
  readonly maxRestarts?: number;
  readonly withinMs?: number;
  /** Default: restart on every error. */
  readonly decider?: FailureDecider;
  /** Wait before a restart: `minBackoffMs * 2^(n-1)` for the n-th consecutive failure of a child,
   * capped at `maxBackoffMs`, spread by ±`jitter`. Default 0: restart at once. */
  readonly minBackoffMs?: number;
  /** Default 30,000 ms. */
  readonly maxBackoffMs?: number;
  /** Fraction of the delay added or removed at random, so restarts of many children do not align. Default 0.2. */
  readonly jitter?: number;
  /** A child that ran this long since its last restart starts its backoff over. Default 10,000 ms. */
  readonly resetBackoffAfterMs?: number;
  /** Each child gets this long to stop, one after another in reverse start order. Default 5000 ms. */
  readonly shutdownMs?: number;
}

export type ResolvedSupervisorSpec = Required<SupervisorSpec>;

export const defaultDecider: FailureDecider = () => "restart";

export const DEFAULT_SUPERVISOR_SPEC: ResolvedSupervisorSpec = Object.freeze({
  strategy: "one-for-one",
  maxRestarts: 3,
  withinMs: 5_000,
  decider: defaultDecider,
  minBackoffMs: 0,
  maxBackoffMs: 30_000,
  jitter: 0.2,
  resetBackoffAfterMs: 10_000,
  shutdownMs: 5_000,
});

export function resolveSupervisorSpec(spec: SupervisorSpec | undefined): ResolvedSupervisorSpec {
  const resolved = { ...DEFAULT_SUPERVISOR_SPEC, ...spec };
  const strategies: SupervisionStrategy[] = ["one-for-one", "one-for-all", "rest-for-one"];
  if (!strategies.includes(resolved.strategy)) throw new RangeError(`supervisor strategy must be one of ${strategies.join(", ")}; got ${JSON.stringify(resolved.strategy)}`);
  for (const key of ["maxRestarts", "withinMs", "minBackoffMs", "maxBackoffMs", "resetBackoffAfterMs", "shutdownMs"] as const) {
    if (!(resolved[key] >= 0)) throw new RangeError(`supervisor ${key} must be a number >= 0; got ${resolved[key]}`);
  }
  if (!(resolved.jitter >= 0 && resolved.jitter <= 1)) throw new RangeError(`supervisor jitter must be between 0 and 1; got ${resolved.jitter}`);
  if (resolved.maxBackoffMs < resolved.minBackoffMs) throw new RangeError(`supervisor maxBackoffMs (${resolved.maxBackoffMs}) is below minBackoffMs (${resolved.minBackoffMs})`);
  return resolved;
}
