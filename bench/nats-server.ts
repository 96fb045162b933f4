import { spawnSync } from "node:child_process";
import { startEmbeddedNats, type EmbeddedNats } from "../runtime/index.js";
import { findTool } from "../runtime/nats/tool-paths.js";

/** The nats-server the benchmarks run against: a private one on a free loopback port. */
export async function startBenchNats(): Promise<EmbeddedNats> {
  if (!findTool("nats-server")) {
    throw new Error("nats-server not found: run `npm run setup` (or put nats-server on PATH) for the remote benchmarks, or pass --only local");
  }
  return startEmbeddedNats();
}

/** e.g. "nats-server: v2.15.2", or undefined when there is no nats-server. */
export function natsServerVersion(): string | undefined {
  const binary = findTool("nats-server");
  if (!binary) return undefined;
  const out = spawnSync(binary, ["--version"], { encoding: "utf8", timeout: 5_000 });
  return out.status === 0 ? out.stdout.trim() : undefined;
}
