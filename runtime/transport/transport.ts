/**
 * What a node needs from the network: subject-addressed publish/subscribe plus request/reply. NATS
 * provides it for real (`NatsTransport`); `MemoryNetwork` provides it inside one process for fast tests.
 * A system owns its transport and closes it on shutdown.
 */
export interface Transport {
  /** Where this transport is connected, safe to print (no credentials). */
  readonly description: string;
  /** Largest message body the network accepts, in bytes. */
  readonly maxPayload: number;
  /** The server this transport talks to now, as `host:port` (for spans' `server.address`); undefined when none. */
  currentServer?(): string | undefined;
  /**
   * The id of the NATS server this transport is connected to now (nats.js `info.server_id`), which
   * ring membership uses to pick a node's monitors across servers; undefined or empty when unknown.
   */
  serverId?(): string | undefined;
  publish(subject: string, data: Uint8Array, replyTo?: string): void;
  subscribe(subject: string, onMessage: (message: InboundMessage) => void): Unsubscribe;
  /**
   * Joins the queue group `queue` on `subject`: each message goes to one member of the group (NATS's
   * queue subscriptions), whichever connection it is on. The handle's `drain()` leaves the group and
   * resolves once every message the group handed this member before that has reached `onMessage`.
   */
  queueSubscribe(subject: string, queue: string, onMessage: (message: InboundMessage) => void): QueueSubscription;
  /** Publishes and resolves with the first reply; rejects with a TransportError after `timeoutMs`. */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /**
   * Publishes a request and passes every reply, as it comes, to `onReply` until `signal` aborts or
   * `timeoutMs` has passed; resolves then, and never rejects: a request nobody answers gets no
   * replies. Replies arrive on the same kind of inbox as `request`'s. Optional: without it, a lookup
   * can judge only the first answer.
   */
  requestMany?(subject: string, data: Uint8Array, options: { readonly timeoutMs: number; readonly signal: AbortSignal }, onReply: (reply: Uint8Array) => void): Promise<void>;
  /** Resolves once everything published so far has reached the server. */
  flush(): Promise<void>;
  onEvent(listener: (event: TransportEvent) => void): Unsubscribe;
  /** Stops taking new messages, delivers what is in flight, then disconnects. */
  close(): Promise<void>;
  /**
   * Resolves when the transport has closed: with the error that closed it, or undefined if asked to.
   * A transport that finds it can no longer receive (its connection stopped reading, or the server
   * closed one of its subscriptions) closes itself and resolves with that reason: it never runs on deaf.
   */
  closed(): Promise<Error | undefined>;
}

export interface InboundMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** The sender's reply subject, when it expects an answer. */
  readonly reply: string | undefined;
}

export type Unsubscribe = () => void;

/** A member's place in a queue group. */
export interface QueueSubscription {
  /** Leaves the group at once; messages handed over and not yet delivered are dropped. */
  unsubscribe(): void;
  /** Leaves the group; resolves once what the group already handed this member has been delivered. */
  drain(): Promise<void>;
}

/** Connection state changes, surfaced so that operators and code can react; never swallowed. */
export type TransportEvent =
  | { readonly type: "disconnect"; readonly server: string }
  | { readonly type: "reconnecting" }
  | { readonly type: "reconnect"; readonly server: string }
  | { readonly type: "error"; readonly error: Error }
  | { readonly type: "slow-consumer"; readonly subject: string; readonly pending: number }
  | { readonly type: "stale-connection" }
  /**
   * A function the transport handed to its client (a subscription's callback, so `onMessage`, or a
   * status listener) threw. It was caught: the connection keeps receiving. `failures` counts them all
   * since the transport connected.
   */
  | { readonly type: "callback-failed"; readonly subject: string; readonly error: Error; readonly failures: number }
  | { readonly type: "closed"; readonly error: Error | undefined };
