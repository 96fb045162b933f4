import { errorText } from "../actor-cell.js";
import type { ActorDefinition } from "../actor-definition.js";
import type { ActorRef } from "../actor-ref.js";
import { AskCache, type AskCacheHost, type AskCacheOption } from "../cache/ask-cache.js";
import type { Clock } from "../clock.js";
import { Failure } from "../codec/wire-types.js";
import type { DeadLetters } from "../dead-letters.js";
import { isAsker } from "../routing/relay-ask.js";
import type { Headers } from "../tracing/tracing.js";
import type { MailboxOptions } from "../mailbox.js";
import type { SupervisorSpec } from "../supervision/supervisor-spec.js";
import type { InboundMessage, QueueSubscription } from "../transport/transport.js";

/** How a node serves a service (`system.serve(definition, options)`). */
export interface ServeOptions<P = unknown> {
  /** The service's name: one NATS token (`[A-Za-z0-9_-]{1,64}`), the last token of its subject. */
  readonly name: string;
  /** The NATS queue group; members of one group share the messages. Default: the service's name. */
  readonly group?: string;
  /** Actors of the definition this node runs for the service; each message goes to the one with the fewest queued. Default 1. */
  readonly instances?: number;
  readonly props?: P;
  readonly mailbox?: MailboxOptions;
  readonly supervisor?: SupervisorSpec;
  /**
   * How long leaving (drain) waits for the actors to handle what they accepted before stopping them
   * anyway (what is still queued then is answered with `stopped-target` Failures). Default 30,000 ms.
   */
  readonly drainTimeoutMs?: number;
  /**
   * Answers repeated asks (the same request type and bytes) from a result cache (`troupe/cache`), and
   * hands identical asks in flight at once to an actor only once; with a shared store (NATS KV, Redis)
   * across every member. Tells are never cached (they have no result), nor are Failure replies.
   * Default: none.
   */
  readonly cache?: AskCacheOption;
  /** How long a cached service's ask waits for its actor's answer before failing with `no-reply`. Default: the node's askTimeoutMs. */
  readonly replyTimeoutMs?: number;
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** What a service member needs from its node. */
export interface ServiceMemberHost {
  readonly clock: Clock;
  spawn(definition: ActorDefinition<any, any, any>, options: { name: string; props?: unknown; mailbox?: MailboxOptions; supervisor?: SupervisorSpec; restart: "permanent" }): ActorRef<any>;
  /** Messages queued at `path`; Infinity when nothing runs there. */
  mailboxSize(path: string): number;
  /** Resolves once the actor at `path` has handled everything queued (or is gone). */
  whenIdle(path: string): Promise<void>;
  stop(ref: ActorRef<any>): Promise<void>;
  queueSubscribe(subject: string, queue: string, onFrame: (inbound: InboundMessage) => void): QueueSubscription;
  /** The endpoint's frame handler for a service whose envelopes go to the path `pick` returns. */
  serviceFrames(service: string, pick: () => string): (inbound: InboundMessage) => void;
  /** Delivers to the actor at `path` of this node, as a message from the bus. */
  deliver(path: string, message: object, sender: ActorRef<any> | undefined, headers: Headers): void;
  /** Asks `target` in this node's name; resolves with whatever it answers (a Failure too). */
  relay(target: ActorRef<any>, message: object, timeoutMs: number): Promise<object>;
  /** Runs `fn` in the trace context `headers` carry (as is when tracing is off). */
  inTraceOf<R>(headers: Headers, fn: () => R): R;
  readonly askTimeoutMs: number;
  readonly deadLetters: DeadLetters;
  readonly cacheHost: AskCacheHost;
}

/** Envelopes for a cached service go to this path + its name: its member's cache, not an actor. */
export const SERVICE_FRONT_PREFIX = "/service/";

const SERVICE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function validateServiceName(name: string): string {
  if (!SERVICE_NAME.test(name)) throw new TypeError(`Invalid service name ${JSON.stringify(name)}: use 1-64 letters, digits, '_' or '-' (one NATS token)`);
  return name;
}

/**
 * This node's part of a service: its actors (top-level, at `/user/service.<name>.<i>`) and its place
 * in the queue group. NATS hands each frame on the service's subject to one member; the member hands
 * each envelope to its least busy actor. `drain()` is how a member leaves without losing work: out of
 * the group first, then everything the group handed it is handled, then its actors stop.
 */
export class ServiceMember {
  readonly refs: readonly ActorRef<any>[];
  /** Present when the service caches its asks: its counters say how they were answered. */
  readonly cache: AskCache | undefined;
  private readonly subscription: QueueSubscription;
  private readonly pickActor: () => string;
  private readonly byPath: ReadonlyMap<string, ActorRef<any>>;
  private draining: Promise<void> | undefined;

  constructor(
    private readonly host: ServiceMemberHost,
    definition: ActorDefinition<any, any, any>,
    readonly options: ServeOptions<any>,
    readonly subject: string,
  ) {
    const instances = options.instances ?? 1;
    if (!Number.isInteger(instances) || instances < 1) throw new RangeError(`serve: instances must be a positive whole number; got ${instances}`);
    const { props, mailbox, supervisor } = options;
    this.refs = Array.from({ length: instances }, (_, i) => host.spawn(definition, { name: `service.${options.name}.${i + 1}`, props, mailbox, supervisor, restart: "permanent" }));
    const paths = this.refs.map((ref) => ref.address.path);
    this.byPath = new Map(this.refs.map((ref) => [ref.address.path, ref]));
    this.pickActor = paths.length === 1 ? () => paths[0]! : () => leastBusy(paths, host);
    this.cache = options.cache && new AskCache(host.cacheHost, options.cache, `service ${options.name}`, options.cache.name ?? `service:${options.name}`);
    const front = `${SERVICE_FRONT_PREFIX}${options.name}`;
    this.subscription = host.queueSubscribe(subject, options.group ?? options.name, host.serviceFrames(options.name, this.cache ? () => front : this.pickActor));
  }

  /**
   * A message for a cached service: an ask is answered through the cache (a miss asks the least busy
   * actor), anything else goes to that actor as it would without a cache.
   */
  deliver(message: object, sender: ActorRef<any> | undefined, headers: Headers): void {
    const cache = this.cache;
    if (cache === undefined || sender === undefined || !isAsker(sender)) return this.host.deliver(this.pickActor(), message, sender, headers);
    if (cache.full) {
      const detail = `service ${this.name}: ${cache.pending} asks wait on its cache (maxPending ${cache.maxPending})`;
      this.host.deadLetters.publish({ reason: "mailbox-overflow", detail, sender: sender.address, message, headers });
      return sender.tell(Failure.create({ reason: "mailbox-overflow", message: detail }));
    }
    const timeoutMs = this.options.replyTimeoutMs ?? this.host.askTimeoutMs;
    const ask = (): Promise<object> => this.host.relay(this.byPath.get(this.pickActor())!, message, timeoutMs);
    this.host.inTraceOf(headers, () => cache.answer(message, ask)).then(
      (reply) => sender.tell(reply),
      (error: unknown) => sender.tell(Failure.create({ reason: "no-reply", message: `service ${this.name}: ${errorText(error)}` })),
    )
      // Replying can throw (an answer over maxMessageBytes, a node stopping): the asker times out.
      .catch(() => undefined);
  }

  get name(): string {
    return this.options.name;
  }

  /** Leaves the queue group, lets the actors handle what they accepted, then stops them. Idempotent. */
  drain(): Promise<void> {
    this.draining ??= (async () => {
      await this.subscription.drain();
      await this.cache?.whenIdle();
      const clock = this.host.clock;
      let timer: ReturnType<Clock["setTimeout"]> | undefined;
      const late = new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, this.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS)));
      await Promise.race([Promise.all(this.refs.map((ref) => this.host.whenIdle(ref.address.path))), late]);
      clock.clearTimeout(timer!);
      await Promise.all(this.refs.map((ref) => this.host.stop(ref).catch(() => undefined)));
    })();
    return this.draining;
  }
}

function leastBusy(paths: readonly string[], host: ServiceMemberHost): string {
  let best = paths[0]!;
  let bestSize = host.mailboxSize(best);
  for (let i = 1; i < paths.length && bestSize > 0; i++) {
    const size = host.mailboxSize(paths[i]!);
    if (size < bestSize) [best, bestSize] = [paths[i]!, size];
  }
  return best;
}
