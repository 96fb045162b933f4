import type { MailboxOptions } from "./mailbox.js";
import type { Placement } from "./remote/placement.js";
import type { ChildRestart, SupervisorSpec } from "./supervision/supervisor-spec.js";

/** Deployment knobs: how an actor runs and is supervised, as opposed to what it does (its definition). */
export interface SpawnOptions<P = unknown> {
  /** Unique among siblings; lets others find it (`system.lookup(name)` for top-level actors). Generated when absent. */
  readonly name?: string;
  /** Passed to the definition's `init`. */
  readonly props?: P;
  readonly mailbox?: MailboxOptions;
  /**
   * Whether its parent restarts it. Default "transient": restarted after a failure, while stopping by
   * itself is a normal end (actors commonly stop when their work is done). "permanent" is OTP's
   * always-on child: stopping by itself also brings it back. "temporary" is never restarted.
   */
  readonly restart?: ChildRestart;
  /** How this actor supervises its own children: strategy, intensity, decider, backoff, shutdown. */
  readonly supervisor?: SupervisorSpec;
  /**
   * Which node runs it (children only; default "local"). Another node must have registered the
   * definition's `kind`; `props` must then be a protobuf message, as they travel in the spawn request.
   */
  readonly placement?: Placement;
}

/** The options of an actor spawned without any: shared, so that a spawn allocates no options object. */
export const NO_SPAWN_OPTIONS: SpawnOptions<any> = Object.freeze({});
