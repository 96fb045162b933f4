import { readFileSync } from "node:fs";
import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node";
import { TransportError } from "../errors.js";
import type { InboundMessage, Transport, TransportEvent, Unsubscribe } from "./transport.js";

/**
 * nats.js connection options, passed through unchanged (servers as a URL list, token, user/pass,
 * TLS, reconnect settings...), plus `credsFile` for a NATS `.creds` file.
 */
export type NatsOptions = ConnectionOptions & { readonly credsFile?: string };

/** Connects to NATS. Fails with an error that names the server (never its credentials) and the fix. */
export async function connectNats(options: NatsOptions): Promise<Transport> {
  // Loaded here, not at import: a process that never connects (tests on MemoryNetwork, the CLI's
  // offline verbs) does not pay for the client.
  const { connect, credsAuthenticator } = await import("@nats-io/transport-node");
  const { credsFile, ...connectionOptions } = options;
  const servers = serverList(connectionOptions.servers);
  // nats.js 3.x ignores user:password@ in a server URL: take it out and pass it as credentials.
  const fromUrls = credentialsInUrls(connectionOptions.servers);
  if (fromUrls !== undefined) {
    connectionOptions.servers = servers;
    if (fromUrls.pass === undefined) connectionOptions.token ??= fromUrls.user;
    else {
      connectionOptions.user ??= fromUrls.user;
      connectionOptions.pass ??= fromUrls.pass;
    }
  }
  if (credsFile) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(credsFile);
    } catch (error) {
      throw new TransportError(`cannot read NATS credentials file ${credsFile}: ${(error as Error).message}`);
    }
    connectionOptions.authenticator = credsAuthenticator(creds);
  }
  try {
    // Redial after 250 ms rather than nats.js's 2 s, which equals membership's failure timeout: a node
    // whose server dies must be back through another server before the others count it lost.
    const connection = await connect({ maxReconnectAttempts: -1, reconnectTimeWait: 250, ...connectionOptions });
    return new NatsTransport(connection, servers);
  } catch (error) {
    throw new TransportError(
      `cannot connect to NATS at ${servers.join(", ") || "nats://127.0.0.1:4222"}: ${describe(error)}. ` +
        `Check that a nats-server is running there, reachable from this process, and that the credentials ` +
        `are right (the troupe command starts a private server when given neither --nats nor NATS_URL).`,
    );
  }
}

/** Server URLs with any user:password@ part removed, for messages and logs. */
export function redactedServers(servers: ConnectionOptions["servers"]): string[] {
  return serverList(servers);
}

function serverList(servers: ConnectionOptions["servers"]): string[] {
  const list = servers === undefined ? [] : Array.isArray(servers) ? servers : [servers];
  return list.map((s) => splitUserinfo(s).server);
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
  const list = servers === undefined ? [] : Array.isArray(servers) ? servers : [servers];
  const found = new Set<string>();
  for (const server of list) {
    const { userinfo } = splitUserinfo(server);
    if (userinfo !== undefined) found.add(userinfo);
  }
  if (found.size === 0) return undefined;
  if (found.size > 1) throw new TransportError("the NATS server URLs carry different credentials; give one set (or use NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS)");
  const [userinfo] = [...found] as [string];
  const at = userinfo.indexOf(":");
  return at < 0 ? { user: decodeURIComponent(userinfo), pass: undefined } : { user: decodeURIComponent(userinfo.slice(0, at)), pass: decodeURIComponent(userinfo.slice(at + 1)) };
}

function describe(error: unknown): string {
  const e = error as { message?: string; code?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  const message = e.message ?? String(error);
  // Never echo connection strings back: they may carry passwords or tokens.
  // Up to the last `@` of a URL-like word, for passwords holding `/` or `@`.
  return (code && !message.includes(code) ? `${message} (${code})` : message).replace(/\/\/\S*@/g, "//");
}

/** Messages waiting in the client for one subscription before a `slow-consumer` event is raised. */
const SLOW_CONSUMER_PENDING = 10_000;

class NatsTransport implements Transport {
  readonly description: string;
  private readonly listeners = new Set<(event: TransportEvent) => void>();
  private closing = false;

  constructor(
    private readonly connection: NatsConnection,
    servers: string[],
  ) {
    this.description = `nats ${servers.join(",") || connection.getServer()}`;
    void this.watchStatus();
  }

  get maxPayload(): number {
    return this.connection.info?.max_payload ?? 1024 * 1024;
  }

  publish(subject: string, data: Uint8Array, replyTo?: string): void {
    this.connection.publish(subject, data, replyTo === undefined ? undefined : { reply: replyTo });
  }

  subscribe(subject: string, onMessage: (message: InboundMessage) => void): Unsubscribe {
    const subscription = this.connection.subscribe(subject, {
      // nats.js reports a slowConsumer status only for subscriptions that name a threshold.
      slow: SLOW_CONSUMER_PENDING,
      callback: (error, msg) => {
        if (error) {
          this.emit({ type: "error", error });
          return;
        }
        onMessage({ subject: msg.subject, data: msg.data, reply: msg.reply || undefined });
      },
    });
    return () => subscription.unsubscribe();
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    try {
      return (await this.connection.request(subject, data, { timeout: timeoutMs })).data;
    } catch (error) {
      throw new TransportError(`request to ${subject} failed: ${describe(error)}`);
    }
  }

  flush(): Promise<void> {
    return this.connection.flush();
  }

  onEvent(listener: (event: TransportEvent) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closing) return void (await this.connection.closed());
    this.closing = true;
    if (!this.connection.isClosed()) await this.connection.drain();
  }

  async closed(): Promise<Error | undefined> {
    return (await this.connection.closed()) ?? undefined;
  }

  private emit(event: TransportEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.connection.status()) {
      switch (status.type) {
        case "disconnect":
        case "reconnect":
          this.emit({ type: status.type, server: status.server });
          break;
        case "reconnecting":
          this.emit({ type: "reconnecting" });
          break;
        case "error":
          this.emit({ type: "error", error: status.error });
          break;
        case "slowConsumer":
          this.emit({ type: "slow-consumer", subject: status.sub.getSubject(), pending: status.pending });
          break;
        case "staleConnection":
          this.emit({ type: "stale-connection" });
          break;
        default:
          break;
      }
    }
    const error = (await this.connection.closed()) ?? undefined;
    this.emit({ type: "closed", error });
  }
}
