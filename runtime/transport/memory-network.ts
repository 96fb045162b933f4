import { TransportError } from "../errors.js";
import type { InboundMessage, Transport, TransportEvent, Unsubscribe } from "./transport.js";

type Deliver = (message: InboundMessage) => void;

/**
 * An in-process stand-in for a NATS server, for unit and system tests. Each `MemoryNetwork` is its own
 * isolated "server" (no global bus); `connect()` gives one transport per node. Delivery is
 * asynchronous and bytes are copied, as they would be over a socket. Subjects match exactly or with a
 * trailing `>` wildcard, which is all the runtime subscribes with.
 */
export class MemoryNetwork {
  private readonly subscriptions = new Map<string, Set<Deliver>>();
  private inboxSeq = 0;

  constructor(readonly maxPayload = 1024 * 1024) {}

  connect(name = "memory"): Transport {
    return new MemoryTransport(this, name);
  }

  /** @internal */
  subscribe(subject: string, deliver: Deliver): Unsubscribe {
    let set = this.subscriptions.get(subject);
    if (!set) this.subscriptions.set(subject, (set = new Set()));
    set.add(deliver);
    return () => {
      set.delete(deliver);
      if (set.size === 0) this.subscriptions.delete(subject);
    };
  }

  /** @internal */
  publish(subject: string, data: Uint8Array, reply: string | undefined): void {
    const copy = Uint8Array.prototype.slice.call(data);
    for (const [pattern, set] of this.subscriptions) {
      if (!matches(pattern, subject)) continue;
      for (const deliver of set) queueMicrotask(() => deliver({ subject, data: copy, reply }));
    }
  }

  /** @internal */
  newInbox(): string {
    return `_INBOX.memory.${++this.inboxSeq}`;
  }
}

function matches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  return pattern.endsWith(".>") && subject.startsWith(pattern.slice(0, -1));
}

class MemoryTransport implements Transport {
  readonly description: string;
  readonly maxPayload: number;
  private readonly unsubscribes = new Set<Unsubscribe>();
  private readonly listeners = new Set<(event: TransportEvent) => void>();
  private isClosed = false;
  private resolveClosed!: (error: Error | undefined) => void;
  private readonly closedPromise = new Promise<Error | undefined>((resolve) => (this.resolveClosed = resolve));

  constructor(
    private readonly network: MemoryNetwork,
    name: string,
  ) {
    this.description = `memory:${name}`;
    this.maxPayload = network.maxPayload;
  }

  publish(subject: string, data: Uint8Array, replyTo?: string): void {
    if (this.isClosed) throw new TransportError(`cannot publish to ${subject}: ${this.description} is closed`);
    if (data.length > this.maxPayload) {
      throw new TransportError(`message of ${data.length} bytes exceeds max payload ${this.maxPayload}`);
    }
    this.network.publish(subject, data, replyTo);
  }

  subscribe(subject: string, onMessage: (message: InboundMessage) => void): Unsubscribe {
    const unsubscribe = this.network.subscribe(subject, (m) => {
      if (!this.isClosed) onMessage(m);
    });
    this.unsubscribes.add(unsubscribe);
    return () => {
      this.unsubscribes.delete(unsubscribe);
      unsubscribe();
    };
  }

  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const inbox = this.network.newInbox();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new TransportError(`request to ${subject} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const unsubscribe = this.subscribe(inbox, (reply) => {
        clearTimeout(timer);
        unsubscribe();
        resolve(reply.data);
      });
      this.publish(subject, data, inbox);
    });
  }

  requestMany(subject: string, data: Uint8Array, options: { readonly timeoutMs: number; readonly signal: AbortSignal }, onReply: (reply: Uint8Array) => void): Promise<void> {
    const inbox = this.network.newInbox();
    return new Promise((resolve) => {
      const end = (): void => {
        clearTimeout(timer);
        options.signal.removeEventListener("abort", end);
        unsubscribe();
        resolve();
      };
      const timer = setTimeout(end, options.timeoutMs);
      options.signal.addEventListener("abort", end, { once: true });
      const unsubscribe = this.subscribe(inbox, (reply) => {
        if (!options.signal.aborted) onReply(reply.data);
      });
      if (options.signal.aborted) return end();
      try {
        this.publish(subject, data, inbox);
      } catch {
        end();
      }
    });
  }

  async flush(): Promise<void> {}

  onEvent(listener: (event: TransportEvent) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    // Let deliveries already queued as microtasks land first, like a drain.
    await new Promise((resolve) => setImmediate(resolve));
    this.isClosed = true;
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.unsubscribes.clear();
    for (const listener of this.listeners) listener({ type: "closed", error: undefined });
    this.resolveClosed(undefined);
  }

  closed(): Promise<Error | undefined> {
    return this.closedPromise;
  }
}
