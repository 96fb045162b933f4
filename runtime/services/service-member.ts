import type { ActorDefinition } from "../actor-definition.js";
import type { ActorRef } from "../actor-ref.js";
import type { Clock } from "../clock.js";
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
}

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
  private readonly subscription: QueueSubscription;
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
    const pick = paths.length === 1 ? () => paths[0]! : () => leastBusy(paths, host);
    this.subscription = host.queueSubscribe(subject, options.group ?? options.name, host.serviceFrames(options.name, pick));
  }

  get name(): string {
    return this.options.name;
  }

  /** Leaves the queue group, lets the actors handle what they accepted, then stops them. Idempotent. */
  drain(): Promise<void> {
    this.draining ??= (async () => {
      await this.subscription.drain();
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
