import type { Transport } from "../transport/transport.js";
import { connectNats } from "../transport/nats-transport.js";
import { systemInboxPrefix } from "./inbox-prefix.js";
import { natsCredentialsFromEnv } from "./nats-credentials.js";

/**
 * For commands that look at a running system from outside (`troupe nodes`, `troupe actors`): a wait in
 * milliseconds from `--wait`, and a connection to the servers the nodes use (`--nats` or `NATS_URL`).
 * No private server is started: a fresh one would have nothing to show. Undefined (after saying why)
 * when no server is configured.
 */
export async function connectObserver(verb: string, nats: string | undefined, system: string): Promise<Transport | undefined> {
  const configured = nats ?? process.env.NATS_URL;
  if (!configured) {
    console.error(`troupe ${verb}: no NATS server to ask: pass --nats URL (or set NATS_URL) to the servers your nodes use`);
    return undefined;
  }
  const servers = configured.split(",").map((s) => s.trim()).filter(Boolean);
  return connectNats({ servers, name: `troupe-${verb}`, inboxPrefix: systemInboxPrefix(system), ...natsCredentialsFromEnv() });
}

export function waitOption(value: string | undefined): number {
  const waitMs = Number(value);
  if (!Number.isInteger(waitMs) || waitMs < 1) throw new Error(`--wait must be a whole number of milliseconds; got ${value}`);
  return waitMs;
}
