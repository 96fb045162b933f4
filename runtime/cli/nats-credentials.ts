import type { NatsOptions } from "../transport/nats-transport.js";

/**
 * Credentials for the NATS connection from the environment, so they never appear on a command line
 * (where `ps` would show them): NATS_CREDS (a .creds file), NATS_TOKEN, or NATS_USER + NATS_PASSWORD.
 */
export function natsCredentialsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<NatsOptions> {
  if (env.NATS_CREDS) return { credsFile: env.NATS_CREDS };
  if (env.NATS_TOKEN) return { token: env.NATS_TOKEN };
  if (env.NATS_USER) return { user: env.NATS_USER, pass: env.NATS_PASSWORD ?? "" };
  return {};
}
