import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { startEmbeddedNats, type EmbeddedNats } from "../../runtime/nats/embedded-nats.js";
import { findTool, requireTool } from "../../runtime/nats/tool-paths.js";

export interface ConfiguredNats extends EmbeddedNats {
  /** The monitoring endpoint, e.g. `http://127.0.0.1:8222` (`/varz`, `/connz?auth=true`). */
  readonly monitor: string;
  readonly configFile: string;
}

/**
 * Starts nats-server with a config file (`-c`) on a free loopback port, with monitoring on another,
 * through `startEmbeddedNats` (so the kernel kills it if this process dies). The file is written to
 * `dir`. Without the binary the file's tests are skipped, except under CI=true, where a missing
 * server is a failure (`requireTool` throws).
 */
export async function startNatsWithConfig(context: Mocha.Context, dir: string, config: string, name = "nats.conf"): Promise<ConfiguredNats> {
  if (!findTool("nats-server") && process.env.CI !== "true") {
    console.warn("skipping: nats-server not found: run `npm run setup` or put it on PATH");
    context.skip();
  }
  const binary = requireTool("nats-server");
  const configFile = join(dir, name);
  writeFileSync(configFile, config, { mode: 0o600 });
  const monitorPort = await freePort();
  // The config says everything, JetStream included (tests of permissions set accounts and users).
  const server = await startEmbeddedNats({ binary, args: ["-c", configFile, "-m", String(monitorPort)], jetstream: false });
  return Object.assign(server, { monitor: `http://127.0.0.1:${monitorPort}`, configFile });
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject).listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** GETs a monitoring endpoint (`/varz`, `/connz?auth=true`, ...) as JSON. */
export async function monitorJson<T>(server: ConfiguredNats, path: string): Promise<T> {
  const response = await fetch(`${server.monitor}${path}`);
  if (!response.ok) throw new Error(`GET ${path} on the nats-server monitor: HTTP ${response.status}`);
  return (await response.json()) as T;
}
