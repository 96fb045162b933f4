import { troupe } from "../../proto/gen/troupe.js";

/** Sent to a watcher when the actor it watches has stopped; `actor` is whom, `reason` one of TerminationReason. */
export const Terminated = troupe.system.Terminated;
export type Terminated = troupe.system.Terminated;

/**
 * Why a watched actor is gone:
 * - "stopped": it stopped normally (by itself, by its parent, or with its node's shutdown).
 * - "failed": it was stopped because of a failure (a supervisor's stop, an escalation, a failed start).
 * - "not-found": there was no such actor when the watch arrived.
 * - "node-lost": its node disappeared from the membership (crashed, killed or cut off).
 */
export type TerminationReason = "stopped" | "failed" | "not-found" | "node-lost";
