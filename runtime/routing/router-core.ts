import { errorText } from "../actor-cell.js";
import type { ActorRef } from "../actor-ref.js";
import { Failure } from "../codec/wire-types.js";
import type { DeadLetters } from "../dead-letters.js";
import type { AskCache } from "../cache/ask-cache.js";
import { isAsker } from "./relay-ask.js";
import type { Routee, RoutingStrategy } from "./routing-strategy.js";

/** What the routing needs from the router's node. */
export interface RouterCoreHost {
  readonly deadLetters: DeadLetters;
  /** Messages queued at `ref` when it is an actor of this node; undefined for others. */
  mailboxSize(ref: ActorRef<any>): number | undefined;
  /** Asks `target` in this node's name and resolves with whatever it answers (a Failure too). */
  relay(target: ActorRef<any>, message: object, timeoutMs: number): Promise<object>;
  /** A message waits while no request is pending: look again after a while (local mailboxes shrink unseen). */
  recheckLater(): void;
}

export interface RouterLimits {
  readonly maxInFlightPerRoutee: number;
  readonly maxQueued: number;
  readonly replyTimeoutMs: number;
}

/** Where an ask's answer goes: back to its asker, or to the cache that relayed it. */
type Reply = (answer: object) => void;

interface Waiting {
  readonly message: object;
  readonly sender: ActorRef<any> | undefined;
  /** Set for an ask: it is relayed, and its routee's answer (or a Failure) goes here. */
  readonly reply: Reply | undefined;
}

/**
 * A router's routing: picks routees by its strategy, relays asks (a sender at a temporary path, or a
 * plain NATS requester) so the answer goes back in the router's name, counts each routee's unanswered
 * asks, and holds messages
 * that find no routee with room, up to `maxQueued`; past that a message is a `mailbox-overflow` dead
 * letter (and a Failure to an asker). Never unbounded.
 */
export class RouterCore {
  private readonly inFlight = new Map<string, number>();
  private readonly entries = new WeakMap<ActorRef<any>, RouteeEntry>();
  private cached: readonly RouteeEntry[] = [];
  private readonly queue: Waiting[] = [];
  private pendingRelays = 0;
  private overflowed = 0;
  private routing = false;

  constructor(
    private readonly host: RouterCoreHost,
    private readonly self: ActorRef<any>,
    private readonly strategy: RoutingStrategy<any>,
    private readonly limits: RouterLimits,
    private readonly routeeRefs: () => readonly ActorRef<any>[],
    /** Asks go through it first when the router has a cache; tells never do. */
    private readonly cache?: AskCache,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  /** Messages refused since this router started, for `mailbox-overflow`. */
  get overflowCount(): number {
    return this.overflowed;
  }

  route(message: object, sender: ActorRef<any> | undefined): void {
    if (sender === undefined || !isAsker(sender)) return this.enqueue(message, sender, undefined);
    const reply: Reply = (answer) => sender.tell(answer, this.self);
    if (this.cache === undefined) return this.enqueue(message, sender, reply);
    if (this.cache.full) return this.overflow(message, sender, reply, `${this.cache.pending} asks wait on its cache (maxPending)`);
    // A miss is routed as any ask (with the same bounds), its answer going to the cache first.
    this.cache
      .answer(message, () => new Promise<object>((resolve) => this.enqueue(message, sender, resolve)))
      .then(reply, (error: unknown) => {
        reply(Failure.create({ reason: "no-reply", message: `${this.self.toString()}: its cache could not answer: ${errorText(error)}` }));
      })
      // Replying can throw (an answer over maxMessageBytes, a node stopping): the asker times out.
      .catch(() => undefined);
  }

  /**
   * The router stops (or restarts): asks still waiting in it get a `stopped-target` Failure now, rather
   * than a timeout later, and a cached ask's computation ends (identical asks waiting on it with it).
   */
  close(): void {
    const detail = `router ${this.self.address.path} stopped before a routee had room for this message`;
    for (const { reply } of this.queue.splice(0)) reply?.(Failure.create({ reason: "stopped-target", message: detail }));
  }

  private enqueue(message: object, sender: ActorRef<any> | undefined, reply: Reply | undefined): void {
    if (this.queue.length === 0 && this.trySend(message, sender, reply, undefined)) return;
    if (this.queue.length >= this.limits.maxQueued) return this.overflow(message, sender, reply, `every routee is at maxInFlightPerRoutee ${this.limits.maxInFlightPerRoutee} and ${this.queue.length} messages wait (maxQueued)`);
    this.queue.push({ message, sender, reply });
    this.drain();
  }

  /** Sends what waits, in order, while routees have room; a keyed strategy lets others pass a blocked key. */
  drain(): void {
    if (this.routing) return;
    this.routing = true;
    try {
      const blocked = this.strategy.keyed ? new Set<string>() : undefined;
      let i = 0;
      while (i < this.queue.length) {
        const waiting = this.queue[i]!;
        if (this.trySend(waiting.message, waiting.sender, waiting.reply, blocked)) {
          if (i === 0) this.queue.shift();
          else this.queue.splice(i, 1);
          continue;
        }
        if (blocked === undefined) break;
        i++;
      }
    } finally {
      this.routing = false;
    }
    // With no routee at all, nothing will free up by itself: wait for one to come (a membership change).
    if (this.queue.length > 0 && this.pendingRelays === 0 && this.routeeRefs().length > 0) this.host.recheckLater();
  }

  private trySend(message: object, sender: ActorRef<any> | undefined, reply: Reply | undefined, blocked: Set<string> | undefined): boolean {
    const routees = this.routees();
    if (routees.length === 0) return false;
    const chosen = this.strategy.select(message, routees);
    if (chosen.length === 0) return false;
    for (const routee of chosen) {
      if (routee.hasRoom && (blocked === undefined || !blocked.has(routee.id))) continue;
      for (const r of chosen) blocked?.add(r.id);
      return false;
    }
    if (reply === undefined) {
      // An actor sender hears from the routee itself, as Akka's routees answer: only asks check who answers.
      for (const routee of chosen) routee.ref.tell(message, sender);
      return true;
    }
    let answered = false;
    for (const routee of chosen) {
      this.inFlight.set(routee.id, (this.inFlight.get(routee.id) ?? 0) + 1);
      this.pendingRelays++;
      this.host.relay(routee.ref, message, this.limits.replyTimeoutMs).then(
        (answer) => {
          if (answered) return;
          answered = true;
          reply(answer);
        },
        (error: unknown) => {
          if (answered) return;
          answered = true;
          const text = errorText(error);
          reply(Failure.create({ reason: "no-reply", message: `routee ${routee.id} of ${this.self.toString()}: ${text}` }));
        },
      ).finally(() => this.settled(routee.id));
    }
    return true;
  }

  private settled(id: string): void {
    this.pendingRelays--;
    const left = (this.inFlight.get(id) ?? 1) - 1;
    if (left > 0) this.inFlight.set(id, left);
    else this.inFlight.delete(id);
    this.drain();
  }

  /** The routees as strategies see them; rebuilt only when the refs change (a routee came, went or moved). */
  private routees(): readonly Routee[] {
    const refs = this.routeeRefs();
    const cached = this.cached;
    if (refs.length === cached.length) {
      let same = true;
      for (let i = 0; i < refs.length && same; i++) same = refs[i] === cached[i]!.ref;
      if (same) return cached;
    }
    return (this.cached = refs.map((ref) => this.entries.get(ref) ?? this.entry(ref)));
  }

  private entry(ref: ActorRef<any>): RouteeEntry {
    const entry = new RouteeEntry(ref, this);
    this.entries.set(ref, entry);
    return entry;
  }

  /** @internal A routee's load: see Routee.load. */
  loadOf(routee: RouteeEntry): number {
    return Math.max(this.inFlight.get(routee.id) ?? 0, this.host.mailboxSize(routee.ref) ?? 0);
  }

  get bound(): number {
    return this.limits.maxInFlightPerRoutee;
  }

  private overflow(message: object, sender: ActorRef<any> | undefined, reply: Reply | undefined, why: string): void {
    this.overflowed++;
    const detail = `router ${this.self.address.path}: ${why}; ${this.overflowed} refused so far`;
    this.host.deadLetters.publish({ reason: "mailbox-overflow", detail, target: this.self.address, sender: sender?.address, message });
    reply?.(Failure.create({ reason: "mailbox-overflow", message: detail }));
  }
}

/** A routee as strategies see it; its load is read when a strategy asks for it. */
class RouteeEntry implements Routee {
  readonly id: string;

  constructor(
    readonly ref: ActorRef<any>,
    private readonly core: RouterCore,
  ) {
    this.id = ref.toString();
  }

  get load(): number {
    return this.core.loadOf(this);
  }

  get hasRoom(): boolean {
    return this.core.loadOf(this) < this.core.bound;
  }
}
