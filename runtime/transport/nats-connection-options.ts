import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "@nats-io/transport-node";
import { TransportError } from "../errors.js";

/** nats.js connection options plus `credsFile`, the path of a NATS `.creds` file. */
export type NatsConnectionOptions = ConnectionOptions & { readonly credsFile?: string };

/**
 * What every NATS connection of the runtime (the transport's, the KV cache store's) passes to nats.js:
 * `user:password@` (or `token@`) taken out of the server URLs and given as credentials, because nats.js
 * 3.x ignores them in a URL; a `.creds` file read into an authenticator. `servers` is the server list
 * without credentials, for messages and logs. `authenticator` comes from `@nats-io/transport-node`,
 * which the caller has already loaded.
 */
export function prepareNatsConnection(
  options: NatsConnectionOptions,
  credsAuthenticator: (creds: Uint8Array) => NonNullable<ConnectionOptions["authenticator"]>,
): { readonly connection: ConnectionOptions; readonly servers: string[] } {
  const { credsFile, ...connection } = options;
  const servers = redactedServers(connection.servers);
  const fromUrls = credentialsInUrls(connection.servers);
  if (fromUrls !== undefined) {
    connection.servers = servers;
    if (fromUrls.pass === undefined) connection.token ??= fromUrls.user;
    else {
      connection.user ??= fromUrls.user;
      connection.pass ??= fromUrls.pass;
    }
  }
  if (credsFile) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(credsFile);
    } catch (error) {
      throw new TransportError(`cannot read NATS credentials file ${credsFile}: ${(error as Error).message}`);
    }
    connection.authenticator = credsAuthenticator(creds);
  }
  return { connection, servers };
}

/** Server URLs with any user:password@ part removed, for messages and logs. */
export function redactedServers(servers: ConnectionOptions["servers"]): string[] {
  return serverList(servers).map((s) => splitUserinfo(s).server);
}

function serverList(servers: ConnectionOptions["servers"]): string[] {
  return servers === undefined ? [] : Array.isArray(servers) ? servers : [servers];
}

/**
 * A server URL taken apart: `[scheme://][userinfo@]host[:port]`. A server URL has no path, so the
 * userinfo is everything up to the last `@`: a password may hold `/`, `:` or `@` unencoded, and the
 * scheme may be missing (`user:pass@host:4222`); a pattern that stops at the first `/` or `@` leaks.
 */
export function splitUserinfo(url: string): { server: string; userinfo: string | undefined } {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? "";
  const rest = url.slice(scheme.length);
  const at = rest.lastIndexOf("@");
  return at < 0 ? { server: url, userinfo: undefined } : { server: scheme + rest.slice(at + 1), userinfo: rest.slice(0, at) };
}

/**
 * The user:password@ (or token@) part of the server URLs, decoded; undefined when none has one. URLs
 * that disagree are refused: one connection has one identity.
 */
function credentialsInUrls(servers: ConnectionOptions["servers"]): { user: string; pass: string | undefined } | undefined {
  const found = new Set<string>();
  for (const server of serverList(servers)) {
    const { userinfo } = splitUserinfo(server);
    if (userinfo !== undefined) found.add(userinfo);
  }
  if (found.size === 0) return undefined;
  if (found.size > 1) throw new TransportError("the NATS server URLs carry different credentials; give one set (or use NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS)");
  const [userinfo] = [...found] as [string];
  const at = userinfo.indexOf(":");
  return at < 0 ? { user: decodeURIComponent(userinfo), pass: undefined } : { user: decodeURIComponent(userinfo.slice(0, at)), pass: decodeURIComponent(userinfo.slice(at + 1)) };
}
