import { ActorRef, type MessageRouter } from "../actor-ref.js";
import type { Address } from "../address.js";
import type { Clock } from "../clock.js";
import type { MessageType } from "../codec/message-type.js";
import type { TypeRegistry } from "../codec/type-registry.js";
import { Failure } from "../codec/wire-types.js";
import type { DeadLetterReason, DeadLetters } from "../dead-letters.js";
import { TEMP_PREFIX } from "../pending-asks.js";
import type { StateStore } from "../state/state-store.js";
import { EntityActivation, type Mail } from "./entity-activation.js";
import type { EntityDefinition } from "./entity-definition.js";
import { announcedKind, entityPath, parseEntityPath, validateEntityKey, validateEntityKind } from "./entity-path.js";
import { rendezvous, type EntityPlacement } from "./entity-placement.js";
import { EntityRef, type EntityRouter } from "./entity-ref.js";

/** How a node hosts one entity kind: where its states live and how its owners are chosen. */
export interface HostEntitiesOptions {
  /** Where states are kept, under `<prefix>/<kind>/<key>`. Passed explicitly; the node does not close it. */
  readonly store: StateStore;
  /** First segment of the state keys. Default "entities". */
  readonly prefix?: string;
  /** Who owns a key among the live nodes hosting the kind. Default: rendezvous hashing. */
  readonly placement?: EntityPlacement;
  /**
   * At most one write per entity per this long: messages meanwhile are coalesced into the next write
   * and their replies wait for it. Default 0 (write as soon as the last write lands); 1000 suits GCS.
   */
  readonly writeEveryMs?: number;
}

/** What the node's entity hosting needs from its node. */
export interface EntityHostingNode {
  readonly nodeId: string;
  readonly systemName: string;
  readonly clock: Clock;
  readonly registry: TypeRegistry;
  readonly deadLetters: DeadLetters;
  readonly router: MessageRouter;
  /**
   * Asks `target` on this node's behalf and resolves with whatever it answers (a Failure included):
   * how a plain NATS requester's message reaches an owner on another node.
   */
  relay(target: ActorRef<any>, message: object): Promise<object>;
  /** The live nodes (this one included) whose heartbeats announce `announced`. */
  hostsOf(announced: string): readonly string[];
}

/** Hops a message may make between nodes that disagree about its owner before it is given up. */
export const MAX_ENTITY_HOPS = 4;
/** Header: how many times a message for an entity has been forwarded. */
export const HOPS_HEADER = "troupe-entity-hops";
/** Header: the node the sender addressed, in whose name the owner answers (the asker accepts only that). */
export const ASKED_NODE_HEADER = "troupe-entity-asked-node";

interface HostedKind {
  readonly definition: EntityDefinition;
  readonly store: StateStore;
  readonly prefix: string;
  readonly placement: EntityPlacement;
  readonly writeEveryMs: number;
}

export interface ActivationInfo {
  readonly kind: string;
  readonly key: string;
  /** Writes this copy has committed. */
  readonly writes: number;
}

/**
 * A node's part in entities: routes messages for `/entity/<kind>/<key>` to the owner this node
 * computes, keeps the activations of the keys it owns, and moves them when membership changes.
 */
export class EntityHosting implements EntityRouter {
  private readonly kinds = new Map<string, HostedKind>();
  private readonly live = new Map<string, EntityActivation>();
  /** Shutting down: this node owns nothing any more, and forwards what still reaches it. */
  private leaving = false;

  constructor(private readonly node: EntityHostingNode) {}

  host(definition: EntityDefinition, options: HostEntitiesOptions): void {
    if (this.kinds.has(definition.kind)) throw new Error(`entity kind ${definition.kind} is already hosted on node ${this.node.nodeId}`);
    if (typeof options?.store?.write !== "function") throw new TypeError(`hostEntities(${definition.kind}) needs { store }: a StateStore`);
    const prefix = options.prefix ?? "entities";
    const writeEveryMs = options.writeEveryMs ?? 0;
    if (!(writeEveryMs >= 0)) throw new RangeError(`writeEveryMs must be >= 0; got ${writeEveryMs}`);
    this.node.registry.register(definition.stateType, ...definition.messageTypes);
    this.kinds.set(definition.kind, { definition, store: options.store, prefix, placement: options.placement ?? rendezvous, writeEveryMs });
  }

  /** Kind names for this node's heartbeat. */
  announced(): string[] {
    return [...this.kinds.keys()].map(announcedKind);
  }

  ref<M extends object>(kind: string, key: string): EntityRef<M> {
    return new EntityRef<M>(validateEntityKind(kind), validateEntityKey(key), this);
  }

  activations(): ActivationInfo[] {
    return [...this.live.values()].map((a) => ({ kind: a.definition.kind, key: a.key, writes: a.writes }));
  }

  /** The owner of (kind, key) as this node sees membership now; undefined when no live node hosts the kind. */
  ownerOf(kind: string, key: string): string | undefined {
    const placement = this.kinds.get(kind)?.placement ?? rendezvous;
    const hosts = this.node.hostsOf(announcedKind(kind));
    return placement(kind, key, this.leaving ? hosts.filter((n) => n !== this.node.nodeId) : hosts);
  }

  tellEntity(kind: string, key: string, message: object, sender: ActorRef<any> | undefined): void {
    this.node.router.deliver(this.refAt(this.ownerOf(kind, key) ?? this.node.nodeId, entityPath(kind, key)), message, sender);
  }

  askEntity<R extends object>(kind: string, key: string, message: object, replyType: MessageType<R>, timeoutMs: number | undefined): Promise<R> {
    return this.node.router.ask(this.refAt(this.ownerOf(kind, key) ?? this.node.nodeId, entityPath(kind, key)), message, replyType, timeoutMs);
  }

  /** A message addressed to `/entity/...` on this node, from a local ref or another node. */
  deliver(path: string, message: object, sender: ActorRef<any> | undefined, headers: Readonly<Record<string, string>> | undefined): void {
    const entity = parseEntityPath(path);
    const mail = { message, sender, headers };
    if (entity === undefined) return this.giveUp(path, mail, "unknown-target", `${path} is not /entity/<kind>/<key> with a valid kind and key`);
    this.route(entity.kind, entity.key, mail);
  }

  /** Membership changed: copies of keys that now belong elsewhere leave once their work is durable. */
  membershipChanged(): void {
    for (const activation of this.live.values()) {
      const kind = activation.definition.kind;
      if (this.ownerOf(kind, activation.key) !== this.node.nodeId) activation.moveAway();
    }
  }

  /** Waits for every activation's work to be durable and drops them all (node shutdown). */
  async passivateAll(): Promise<void> {
    this.leaving = true;
    await Promise.all([...this.live.values()].map((a) => a.passivate()));
  }

  private route(kind: string, key: string, mail: Mail): void {
    const path = entityPath(kind, key);
    const owner = this.ownerOf(kind, key);
    const hosted = this.kinds.get(kind);
    if (owner === this.node.nodeId && hosted !== undefined && !this.leaving) return this.activation(hosted, key, path).enqueue(mail);
    // A copy here whose messages now go elsewhere leaves once its work is durable.
    this.live.get(path)?.moveAway();
    const hops = hopsOf(mail.headers);
    if (owner === undefined) return this.giveUp(path, mail, "no-owner", `no live node hosts entity kind ${kind} (as node ${this.node.nodeId} sees membership)`);
    if (hops >= MAX_ENTITY_HOPS) return this.giveUp(path, mail, "no-owner", `message for ${kind}/${key} forwarded ${hops} times without reaching its owner (nodes disagree about membership); last owner seen: ${owner}`);
    if (mail.sender?.address.node === "") return this.relay(owner, path, mail);
    const headers = { ...mail.headers, [HOPS_HEADER]: String(hops + 1), [ASKED_NODE_HEADER]: askedNodeOf(mail.headers) ?? this.node.nodeId };
    try {
      this.node.router.deliver(this.refAt(owner, path), mail.message, mail.sender, headers);
    } catch (error) {
      this.giveUp(path, mail, "send-failed", `forwarding to ${owner}: ${(error as Error).message}`);
    }
  }

  /** A plain NATS requester's reply subject works only from the node it reached: that node asks the owner for it. */
  private relay(owner: string, path: string, mail: Mail): void {
    const requester = mail.sender!;
    this.node.relay(this.refAt(owner, path), mail.message).then(
      (answer) => {
        try {
          requester.tell(answer, this.refAt(this.node.nodeId, path));
        } catch {
          // The answer cannot go out (the connection closed): the requester times out on its own.
        }
      },
      (error: unknown) => this.failAsk(mail, "no-owner", `relaying to ${owner}: ${(error as Error).message}`, path),
    );
  }

  private activation(hosted: HostedKind, key: string, path: string): EntityActivation {
    const existing = this.live.get(path);
    if (existing !== undefined && !existing.isStopped) return existing;
    const { definition, store, prefix, writeEveryMs } = hosted;
    const activation: EntityActivation = new EntityActivation(key, definition, {
      nodeId: this.node.nodeId,
      clock: this.node.clock,
      store,
      storeKey: `${prefix}/${definition.kind}/${key}`,
      writeEveryMs,
      self: this.ref(definition.kind, key),
      address: this.refAt(this.node.nodeId, path),
      replyAs: (mail) => this.replyAs(mail, path),
      isAsk: isAsk,
      failAsk: (mail, reason, detail) => {
        if (reason !== "fenced") this.deadLetter(reason, detail, path, mail);
        this.failAsk(mail, reason, detail, path);
      },
      forward: (mails) => {
        for (const mail of mails) this.route(definition.kind, key, mail);
      },
      fenced: (detail) => this.node.deadLetters.publish({ reason: "fenced", detail, target: this.addressOf(path) }),
      retired: (gone) => {
        if (this.live.get(path) === gone) this.live.delete(path);
      },
    });
    this.live.set(path, activation);
    return activation;
  }

  private giveUp(path: string, mail: Mail, reason: DeadLetterReason, detail: string): void {
    this.deadLetter(reason, detail, path, mail);
    this.failAsk(mail, reason, detail, path);
  }

  private deadLetter(reason: DeadLetterReason, detail: string, path: string, mail: Mail): void {
    const { message, sender, headers } = mail;
    this.node.deadLetters.publish({ reason, detail, target: this.addressOf(path), sender: sender?.address, type: this.node.registry.nameOf(message), message, headers });
  }

  private failAsk(mail: Mail, reason: string, detail: string, path: string): void {
    if (!isAsk(mail)) return;
    try {
      mail.sender!.tell(Failure.create({ reason, message: detail }), this.replyAs(mail, path));
    } catch {
      // The asker is unreachable; its ask times out on its own.
    }
  }

  private replyAs(mail: Mail, path: string): ActorRef<any> {
    return this.refAt(askedNodeOf(mail.headers) ?? this.node.nodeId, path);
  }

  private refAt(node: string, path: string): ActorRef<any> {
    return new ActorRef(this.addressOf(path, node), this.node.router);
  }

  private addressOf(path: string, node = this.node.nodeId): Address {
    return { system: this.node.systemName, node, path };
  }
}

/** An ask's temporary reply path, or a plain NATS requester's: someone waits for exactly one answer. */
function isAsk(mail: Mail): boolean {
  const path = mail.sender?.address.path;
  return path !== undefined && (path.startsWith(TEMP_PREFIX) || path.startsWith("/reply/"));
}

/**
 * Hops a message has made, from its header: anything but a whole number from 0 up counts as the
 * limit (the header comes from the wire; a negative count would let a message bounce for ever).
 */
function hopsOf(headers: Readonly<Record<string, string>> | undefined): number {
  const text = headers?.[HOPS_HEADER];
  if (text === undefined) return 0;
  const hops = Number(text);
  return Number.isInteger(hops) && hops >= 0 ? hops : MAX_ENTITY_HOPS;
}

/** The node a forwarded message was first sent to, when its header names one as a node id can be. */
function askedNodeOf(headers: Readonly<Record<string, string>> | undefined): string | undefined {
  const node = headers?.[ASKED_NODE_HEADER];
  return node !== undefined && NODE_ID.test(node) ? node : undefined;
}

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;
