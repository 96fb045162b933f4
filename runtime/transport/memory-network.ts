import { TransportError } from "../errors.js";
import type { InboundMessage, QueueSubscription, Transport, TransportEvent, Unsubscribe } from "./transport.js";

type Deliver = (message: InboundMessage) => void;

/**
 * An in-process stand-in for a NATS server, for unit and system tests. Each `MemoryNetwork` is its own
 * isolated "server" (no global bus); `connect()` gives one transport per node. Delivery is
 * asynchronous and bytes are copied, as they would be over a socket. Subjects match exactly or with a
 * trailing `>` wildcard, which is all the runtime subscribes with. A queue group gets each message
 * once, handed to its members in turn (NATS picks one at random; turns make tests repeatable).
 */
export class MemoryNetwork {
  private readonly subscriptions = new Map<string, Set<Deliver>>();
  private readonly queueGroups = new Map<string, Map<string, { members: Deliver[]; next: number }>>();
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
  queueSubscribe(subject: string, queue: string, deliver: Deliver): Unsubscribe {
    let groups = this.queueGroups.get(subject);
    if (!groups) this.queueGroups.set(subject, (groups = new Map()));
    let group = groups.get(queue);
    if (!group) groups.set(queue, (group = { members: [], next: 0 }));
    group.members.push(deliver);
    return () => {
      const at = group.members.indexOf(deliver);
      // Called twice (drain, then unsubscribe): the second time must not drop a newer group.
      if (at < 0) return;
      group.members.splice(at, 1);
      if (group.members.length === 0) groups.delete(queue);
      if (groups.size === 0) this.queueGroups.delete(subject);
    };
  }

  /** @internal */
  publish(subject: string, data: Uint8Array, reply: string | undefined): void {
    const copy = Uint8Array.prototype.slice.call(data);
    for (const [pattern, set] of this.subscriptions) {
      if (!matches(pattern, subject)) continue;
      for (const deliver of set) queueMicrotask(() => deliver({ subject, data: copy, reply }));
    }
    for (const [pattern, groups] of this.queueGroups) {
      if (!matches(pattern, subject)) continue;
      for (const group of groups.values()) {
        const deliver = group.members[group.next++ % group.members.length]!;
        queueMicrotask(() => deliver({ subject, data: copy, reply }));
      }
    }
  }

  /** @internal Whether anyone would receive a message on `subject` (NATS's "no responders" otherwise). */
  hasSubscribers(subject: string): boolean {
    for (const pattern of this.subscriptions.keys()) if (matches(pattern, subject)) return true;
    for (const pattern of this.queueGroups.keys()) if (matches(pattern, subject)) return true;
    return false;
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

  queueSubscribe(subject: string, queue: string, onMessage: (message: InboundMessage) => void): QueueSubscription {
    const unsubscribe = this.network.queueSubscribe(subject, queue, (m) => {
      if (!this.isClosed) onMessage(m);
    });
    this.unsubscribes.add(unsubscribe);
    const leave = (): void => {
      this.unsubscribes.delete(unsubscribe);
      unsubscribe();
    };
    return {
      unsubscribe: leave,
      // Deliveries already handed over are queued microtasks: they land before the next macrotask.
      drain: async () => {
        leave();
        await new Promise((resolve) => setImmediate(resolve));
      },
    };
  }

  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (!this.isClosed && !this.network.hasSubscribers(subject)) return Promise.reject(new TransportError(`request to ${subject} failed: no responders`));
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
    // As NATS: nobody subscribed means no responders, and no replies at once.
    if (!this.isClosed && !this.network.hasSubscribers(subject)) return Promise.resolve();
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
