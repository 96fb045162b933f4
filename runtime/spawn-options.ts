import type { MailboxOptions } from "./mailbox.js";

/**
 * What a failed actor's parent does about it.
 * - "resume": keep the state, drop the failing message, go on with the next one.
 * - "restart": discard the state, call `restarting`, then `init` and `started` again; queued messages are kept.
 * - "stop": stop the actor.
 * - "escalate": fail the parent with the same error (a top-level actor is stopped and reported).
 */
export type FailureDirective = "resume" | "restart" | "stop" | "escalate";

/** Decides what to do with an actor whose handler threw `error` while handling `message` (undefined when a child escalated). */
export type FailureDecider = (error: unknown, message: object | undefined) => FailureDirective;

/** Restart, as Erlang/OTP and Akka do by default. */
export const defaultFailureDecider: FailureDecider = () => "restart";

/** Deployment knobs: how an actor runs, as opposed to what it does (its definition). */
export interface SpawnOptions<P = unknown> {
  /** Unique among siblings; lets others find it (`system.lookup(name)` for top-level actors). Generated when absent. */
  readonly name?: string;
  /** Passed to the definition's `init`. */
  readonly props?: P;
  readonly mailbox?: MailboxOptions;
  /** Default: restart on every failure. */
  readonly onFailure?: FailureDecider;
}
