import type { NatsConnection } from "@nats-io/transport-node";
import { systemClock } from "../clock.js";
import { TransportError } from "../errors.js";
import { prepareNatsConnection, type NatsConnectionOptions } from "./nats-connection-options.js";
import { DEFAULT_READ_TIMEOUT_MS, ReadWatchdog } from "./read-watchdog.js";
import type { InboundMessage, QueueSubscription, Transport, TransportEvent, Unsubscribe } from "./transport.js";

/**
 * nats.js connection options, passed through unchanged (servers as a URL list, token, user/pass,
 * TLS, reconnect settings...), plus `credsFile` for a NATS `.creds` file, and `readTimeoutMs`: how
 * long the connection may stay up without reading anything (not even the answer to the PING it
 * sends every quarter of that) before the transport declares it deaf and closes with an error
 * (default 2000 ms; `false` turns the check off).
 */
export type NatsOptions = NatsConnectionOptions & { readonly readTimeoutMs?: number | false };

export { redactedServers, splitUserinfo } from "./nats-connection-options.js";

/** Connects to NATS. Fails with an error that names the server (never its credentials) and the fix. */
export async function connectNats(options: NatsOptions): Promise<Transport> {
  // Loaded here, not at import: a process that never connects (tests on MemoryNetwork, the CLI's
  // offline verbs) does not pay for the client.
  const { connect, credsAuthenticator } = await import("@nats-io/transport-node");
  const { readTimeoutMs = DEFAULT_READ_TIMEOUT_MS, ...natsOptions } = options;
  if (readTimeoutMs !== false && !(readTimeoutMs > 0)) throw new RangeError(`readTimeoutMs must be a positive number of milliseconds or false; got ${readTimeoutMs}`);
  const { connection: connectionOptions, servers } = prepareNatsConnection(natsOptions, credsAuthenticator);
  try {
    // Redial after 250 ms rather than nats.js's 2 s, which equals membership's failure timeout: a node
    // whose server dies must be back through another server before the others count it lost.
    const connection = await connect({ maxReconnectAttempts: -1, reconnectTimeWait: 250, ...connectionOptions });
    return new NatsTransport(connection, servers, readTimeoutMs);
  } catch (error) {
    throw new TransportError(
      `cannot connect to NATS at ${servers.join(", ") || "nats://127.0.0.1:4222"}: ${describe(error)}. ` +
        `Check that a nats-server is running there, reachable from this process, and that the credentials ` +
        `are right (the troupe command starts a private server when given neither --nats nor NATS_URL).`,
    );
  }
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

/**
 * Never deaf: every function this class hands to nats.js (subscription callbacks, the status loop)
 * catches what it calls, because in nats.js 3.x a throw there ends the client's read loop and leaves a
 * connection that sends but never receives. A throw is counted and reported as a `callback-failed`
 * event. Should the connection stop receiving anyway (a subscription closed by the server, or the read
 * loop ended inside nats.js), the transport closes, and `closed()` resolves with the reason.
 */
class NatsTransport implements Transport {
  readonly description: string;

  currentServer(): string | undefined {
    return this.connection.getServer() || undefined;
  }

  serverId(): string | undefined {
    return this.connection.info?.server_id || undefined;
  }

  private readonly listeners = new Set<(event: TransportEvent) => void>();
  private closing = false;
  /** Why the transport closed itself, when it did. */
  private failure: Error | undefined;
  private callbackFailures = 0;
  private readonly watchdog: ReadWatchdog | undefined;

  constructor(
    private readonly connection: NatsConnection,
    servers: string[],
    readTimeoutMs: number | false,
  ) {
    this.description = `nats ${servers.join(",") || connection.getServer()}`;
    void this.watchStatus();
    if (readTimeoutMs !== false) {
      const probe = { bytesRead: () => connection.stats().inBytes, ping: () => connection.flush() };
      const deaf = (silentMs: number): void =>
        this.fail(new TransportError(
          `the NATS connection to ${connection.getServer()} stopped reading: nothing received for ${Math.round(silentMs)} ms while connected, ` +
            `not even the answers to its PINGs (its read loop has ended); closing it rather than running on deaf`,
        ));
      this.watchdog = new ReadWatchdog(probe, readTimeoutMs, deaf, systemClock);
      this.watchdog.start();
    }
  }

  get maxPayload(): number {
    return this.connection.info?.max_payload ?? 1024 * 1024;
  }

  publish(subject: string, data: Uint8Array, replyTo?: string): void {
    this.connection.publish(subject, data, replyTo === undefined ? undefined : { reply: replyTo });
  }

  subscribe(subject: string, onMessage: (message: InboundMessage) => void): Unsubscribe {
    const subscription = this.guardedSubscription(subject, undefined, onMessage);
    return () => subscription.unsubscribe();
  }

  queueSubscribe(subject: string, queue: string, onMessage: (message: InboundMessage) => void): QueueSubscription {
    const subscription = this.guardedSubscription(subject, queue, onMessage);
    return {
      unsubscribe: () => subscription.unsubscribe(),
      // nats.js sends UNSUB, then a PING: once its PONG is read, everything the server sent before has been too.
      drain: async () => {
        if (subscription.isClosed()) return;
        await Promise.race([subscription.drain(), this.connection.closed()]).catch(() => undefined);
      },
    };
  }

  private guardedSubscription(subject: string, queue: string | undefined, onMessage: (message: InboundMessage) => void): ReturnType<NatsConnection["subscribe"]> {
    const subscription = this.connection.subscribe(subject, {
      ...(queue === undefined ? {} : { queue }),
      // nats.js reports a slowConsumer status only for subscriptions that name a threshold.
      slow: SLOW_CONSUMER_PENDING,
      // Called from nats.js's read loop: nothing may escape (see the class comment). A try/catch
      // costs nothing per message.
      callback: (error, msg) => {
        try {
          if (error) this.emit({ type: "error", error });
          else onMessage({ subject: msg.subject, data: msg.data, reply: msg.reply || undefined });
        } catch (thrown) {
          this.callbackFailed(subject, thrown);
        }
      },
    });
    // Closed with an error means the server took it away (a permission violation, e.g. after a
    // config reload): the node is deaf on that subject, so it must not carry on as if it were not.
    // Unsubscribing and closing the connection close subscriptions without one.
    void subscription.closed.then((error) => {
      if (error instanceof Error && !this.closing) this.fail(new TransportError(`NATS closed the subscription to ${subject}: ${error.message}; the node can no longer receive there`));
    });
    return subscription;
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    try {
      return (await this.connection.request(subject, data, { timeout: timeoutMs })).data;
    } catch (error) {
      throw new TransportError(`request to ${subject} failed: ${describe(error)}`);
    }
  }

  requestMany(subject: string, data: Uint8Array, options: { readonly timeoutMs: number; readonly signal: AbortSignal }, onReply: (reply: Uint8Array) => void): Promise<void> {
    const { signal } = options;
    return new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      let replies: (AsyncIterable<{ data: Uint8Array }> & { stop?: () => void }) | undefined;
      const end = (): void => {
        signal.removeEventListener("abort", end);
        replies?.stop?.();
        resolve();
      };
      signal.addEventListener("abort", end, { once: true });
      void (async () => {
        try {
          replies = await this.connection.requestMany(subject, data, { maxWait: options.timeoutMs });
          if (signal.aborted) return end();
          for await (const reply of replies) if (!signal.aborted) onReply(reply.data);
        } catch {
          // No responders, a closed connection, a throwing onReply: no (more) replies.
        }
        end();
      })();
    });
  }

  flush(): Promise<void> {
    // nats.js leaves a flush pending forever when the connection closes under it.
    const closed = this.connection.closed().then(() => {
      throw new TransportError(`the NATS connection to ${this.connection.getServer()} closed before the flush completed`);
    });
    return Promise.race([this.connection.flush(), closed]);
  }

  onEvent(listener: (event: TransportEvent) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closing) return void (await this.connection.closed());
    this.closing = true;
    if (this.connection.isClosed()) return;
    // The watchdog keeps watching: a connection that has stopped reading can never finish a drain (the
    // PONG it waits for is never read), so the watchdog closes it instead, and that ends the wait.
    const drained = this.connection.drain();
    drained.catch(() => undefined);
    await Promise.race([drained, this.connection.closed()]);
  }

  async closed(): Promise<Error | undefined> {
    const error = await this.connection.closed();
    return this.failure ?? error ?? undefined;
  }

  /** The connection can no longer receive: closes it (a drain would wait for a PONG that never comes). */
  private fail(error: Error): void {
    if (this.failure !== undefined || this.connection.isClosed()) return;
    this.closing = true;
    this.failure = error;
    this.watchdog?.stop();
    this.emit({ type: "error", error });
    this.connection.close().catch(() => undefined);
  }

  private callbackFailed(subject: string, thrown: unknown): void {
    this.callbackFailures++;
    const error = thrown instanceof Error ? thrown : new Error(String(thrown));
    this.emit({ type: "callback-failed", subject, error, failures: this.callbackFailures });
  }

  /** Listeners observe: one that throws neither stops the others nor reaches nats.js. */
  private emit(event: TransportEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // Nowhere safer to report it than the listener that threw.
      }
    }
  }

  private async watchStatus(): Promise<void> {
    try {
      await this.statusLoop();
    } catch (error) {
      // Only a bug can get here (emit catches); a node that no longer hears about reconnects must say so.
      this.callbackFailed("(connection status)", error);
    }
    const error = (await this.connection.closed()) ?? undefined;
    this.watchdog?.stop();
    this.emit({ type: "closed", error: this.failure ?? error });
  }

  private async statusLoop(): Promise<void> {
    for await (const status of this.connection.status()) {
      switch (status.type) {
        case "disconnect":
          this.watchdog?.disconnected();
          this.emit({ type: status.type, server: status.server });
          break;
        case "reconnect":
          this.watchdog?.reconnected();
          this.emit({ type: status.type, server: status.server });
          break;
        case "reconnecting":
          this.watchdog?.disconnected();
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
  }
}
