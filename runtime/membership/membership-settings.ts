import { DEFAULT_MAX_KINDS_PER_NODE } from "./heartbeat.js";
import type { MembershipBaseOptions } from "./node-membership.js";

/** How often a node announces itself by default. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 500;
/**
 * How long a node may stay silent before others consider it lost, by default. A loss is noticed
 * within this plus one check period (at most `intervalMs`): 2.5 s with the defaults.
 */
export const DEFAULT_FAILURE_TIMEOUT_MS = 2_000;
/** Most other nodes one node tracks, by default; heartbeats of further nodes are refused and counted. */
export const DEFAULT_MAX_NODES = 1_000;

/**
 * The settings both membership protocols share, defaults applied (not start-membership.ts's
 * `MembershipSettings`, which are the options a system was given).
 */
export interface ResolvedMembershipOptions {
  readonly intervalMs: number;
  readonly failureTimeoutMs: number;
  /** How long a claimed restart or leave waits before it is believed: an interval and a quarter (for jitter). */
  readonly silenceMs: number;
  readonly maxNodes: number;
  readonly maxKindsPerNode: number;
}

/** `options` with defaults applied; a RangeError for the first setting out of range. */
export function membershipSettings(options: MembershipBaseOptions): ResolvedMembershipOptions {
  const intervalMs = options.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  const failureTimeoutMs = options.failureTimeoutMs ?? DEFAULT_FAILURE_TIMEOUT_MS;
  if (!Number.isInteger(intervalMs) || intervalMs < 1 || intervalMs > 0xffff_ffff) {
    throw new RangeError(`intervalMs must be a whole number of milliseconds from 1 to 2^32-1, got ${intervalMs}`);
  }
  if (!Number.isFinite(failureTimeoutMs) || failureTimeoutMs <= intervalMs) {
    throw new RangeError(
      `failureTimeoutMs (${failureTimeoutMs}) must be greater than intervalMs (${intervalMs}): ` +
        `a node is lost only after missing heartbeats, so the timeout must span at least one`,
    );
  }
  const maxNodes = options.maxNodes ?? DEFAULT_MAX_NODES;
  const maxKindsPerNode = options.maxKindsPerNode ?? DEFAULT_MAX_KINDS_PER_NODE;
  checkCounts({ maxNodes, maxKindsPerNode });
  return { intervalMs, failureTimeoutMs, silenceMs: Math.ceil(intervalMs * 1.25), maxNodes, maxKindsPerNode };
}

/** A RangeError for the first value that is not a whole number of at least 1. */
export function checkCounts(values: Readonly<Record<string, number>>): void {
  for (const [name, value] of Object.entries(values)) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a whole number of at least 1, got ${value}`);
  }
}
