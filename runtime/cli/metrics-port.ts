import { UsageError } from "./parse-options.js";
import type { VerbSpec } from "./usage.js";

/** `--metrics-port N`: a TCP port for the Prometheus endpoint, or undefined when not given. */
export function metricsPortOption(value: string | undefined, verb: VerbSpec): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new UsageError(`--metrics-port must be a TCP port from 1 to 65535; got ${value}`, verb);
  return port;
}
