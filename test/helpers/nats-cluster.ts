import { createServer, type Server } from "node:net";
import { startEmbeddedNats, type EmbeddedNats } from "../../runtime/nats/embedded-nats.js";
import { findTool, requireTool } from "../../runtime/nats/tool-paths.js";

export interface NatsCluster {
  /** Client URL of each server, in server order. */
  readonly urls: readonly string[];
  /** Stops server `i` (SIGTERM) and resolves once it has exited; its clients must reconnect elsewhere. */
  stopServer(i: number): Promise<void>;
  /** Starts server `i` again on the same ports and waits until it has rejoined the full mesh. */
  startServer(i: number): Promise<void>;
  stop(): Promise<void>;
}

interface ServerPorts {
  readonly client: number;
  readonly cluster: number;
  readonly monitor: number;
}

/**
 * Starts a real cluster of `size` nats-server processes (default 3) on free loopback ports and waits
 * until every server has a route to every other one. Each server is a child that the kernel kills if
 * this process dies (see `startEmbeddedNats`). Under CI=true a missing nats-server is an error, as
 * everywhere else: `requireTool` throws.
 */
export async function startNatsCluster(options: { size?: number; name?: string; formTimeoutMs?: number } = {}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const name = options.name ?? `troupe-test-${process.pid}`;
  const formTimeoutMs = options.formTimeoutMs ?? 15_000;
  const binary = requireTool("nats-server");
  const free = await freePorts(size * 3);
  const ports: ServerPorts[] = Array.from({ length: size }, (_, i) => ({ client: free[3 * i]!, cluster: free[3 * i + 1]!, monitor: free[3 * i + 2]! }));
  const routes = ports.map((p) => `nats://127.0.0.1:${p.cluster}`).join(",");
  const servers: (EmbeddedNats | undefined)[] = new Array<EmbeddedNats | undefined>(size);

  const start = async (i: number): Promise<void> => {
    const p = ports[i]!;
    servers[i] = await startEmbeddedNats({
      binary,
      port: p.client,
      // JetStream in a cluster needs server names and a meta-leader election; these tests need neither.
      jetstream: false,
      // Every server is given every route, itself included: nats-server skips the route to itself, and
      // a restarted server finds its peers without relying on gossip.
      args: ["--cluster_name", name, "--cluster", `nats://127.0.0.1:${p.cluster}`, "--routes", routes, "-m", String(p.monitor)],
    });
  };
  const formed = (i: number): Promise<void> => waitForRoutes(ports[i]!.monitor, size - 1, formTimeoutMs);

  const stop = async (): Promise<void> => {
    await Promise.all(servers.flatMap((s) => (s ? [s.stop()] : [])));
  };
  try {
    await Promise.all(ports.map((_, i) => start(i)));
    await Promise.all(ports.map((_, i) => formed(i)));
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    urls: ports.map((p) => `nats://127.0.0.1:${p.client}`),
    stopServer: async (i) => {
      await servers[i]?.stop();
      servers[i] = undefined;
    },
    startServer: async (i) => {
      if (servers[i]) throw new Error(`server ${i} of the cluster is already running`);
      await start(i);
      await Promise.all(ports.flatMap((_, j) => (servers[j] ? [formed(j)] : [])));
    },
    stop,
  };
}

/**
 * Ports that were free a moment ago. All listeners are held open together so the ports are distinct;
 * another process could still take one before nats-server binds it, which then fails loudly.
 */
async function freePorts(count: number): Promise<number[]> {
  const listeners: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      listeners.push(server);
      await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
    }
    return listeners.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(listeners.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/**
 * Polls the server's monitoring endpoint until it has routes to `peers` distinct servers. Servers
 * since 2.10 open a pool of several routes per peer, so routes are counted by remote server id.
 */
async function waitForRoutes(monitorPort: number, peers: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${monitorPort}/routez`);
      const body = (await response.json()) as { routes?: { remote_id?: string }[] | null };
      seen = new Set((body.routes ?? []).map((r) => r.remote_id)).size;
      if (seen >= peers) return;
    } catch {
      // The monitor may not answer yet; the deadline decides.
    }
    if (Date.now() > deadline) {
      throw new Error(`nats cluster did not form within ${timeoutMs} ms: server with monitor port ${monitorPort} sees ${seen} of ${peers} peers`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * `startNatsCluster` for one test file. Without nats-server the file's tests are skipped, except under
 * CI=true, where a missing server is a failure (as `natsServerFor` does for one server).
 */
export async function natsClusterFor(context: Mocha.Context): Promise<NatsCluster> {
  if (!findTool("nats-server") && process.env.CI !== "true") {
    console.warn("skipping: nats-server not found: run `npm run setup` or put it on PATH");
    context.skip();
  }
  return startNatsCluster();
}
