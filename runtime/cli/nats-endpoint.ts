import { startEmbeddedNats } from "../nats/embedded-nats.js";

export interface NatsEndpoint {
  /** Server URLs to connect to. */
  readonly servers: string[];
  /** True when this process started a private server. */
  readonly embedded: boolean;
  stop(): Promise<void>;
}

/**
 * The NATS servers a command uses: `--nats` (comma-separated), else NATS_URL, else a private
 * nats-server started here and stopped with the process.
 */
export async function resolveNats(flag: string | undefined, say: (line: string) => void): Promise<NatsEndpoint> {
  const configured = flag ?? process.env.NATS_URL;
  if (configured) {
    return { servers: configured.split(",").map((s) => s.trim()).filter(Boolean), embedded: false, stop: async () => {} };
  }
  const server = await startEmbeddedNats();
  say(`started a private nats-server at ${server.url} (pid ${server.pid}); pass --nats URL to use your own`);
  return { servers: [server.url], embedded: true, stop: () => server.stop() };
}
