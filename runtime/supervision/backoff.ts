import type { ResolvedSupervisorSpec } from "./supervisor-spec.js";

/**
 * Delay before the `attempt`-th consecutive restart of a child (1-based): exponential from
 * `minBackoffMs`, capped at `maxBackoffMs`, spread by ±`jitter` so that many children failing together
 * do not restart in lockstep. `random` is injectable for tests.
 */
export function backoffDelayMs(attempt: number, spec: ResolvedSupervisorSpec, random: () => number = Math.random): number {
  if (spec.minBackoffMs === 0) return 0;
  const exponential = Math.min(spec.maxBackoffMs, spec.minBackoffMs * 2 ** Math.max(0, attempt - 1));
  const spread = exponential * spec.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(exponential + spread));
}
