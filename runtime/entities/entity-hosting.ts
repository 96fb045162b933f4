import { ActorRef, type MessageRouter } from "../actor-ref.js";
import type { Address } from "../address.js";
import type { Clock } from "../clock.js";
import type { MessageType } from "../codec/message-type.js";
import type { TypeRegistry } from "../codec/type-registry.js";
import { Failure } from "../codec/wire-types.js";
import type { DeadLetterReason, DeadLetters } from "../dead-letters.js";
import { isAsker } from "../routing/relay-ask.js";
import type { StateStore } from "../state/state-store.js";
import { troupe } from "../../proto/gen/troupe.js";
import { idempotencyWindow, type IdempotencyWindow } from "./applied-keys.js";
import type { Mail } from "./activation-host.js";
import { EntityActivation } from "./entity-activation.js";
import type { EntityDefinition } from "./entity-definition.js";
import { announcedKind, entityPath, isEntityKey, parseEntityPath, validateEntityKey, validateEntityKind } from "./entity-path.js";
import { rendezvous, type EntityPlacement } from "./entity-placement.js";
import { EntityRef, type EntityRouter } from "./entity-ref.js";
import { DEFAULT_MAX_REMINDERS_PER_ENTITY, DEFAULT_REMINDER_RETRY } from "./entity-reminders.js";
import { ReminderIndex } from "./reminder-index.js";
import { ReminderScanner } from "./reminder-scanner.js";

const { ReminderFired, ReminderWake } = troupe.entity;

/** How a kind's reminders are kept and found (docs/entities.md, "Reminders"). */
export interface ReminderOptions {
  /** Index objects per kind, `<prefix>/.reminders/<kind>/<n>`. Default 16; about one per 10,000 entities with reminders keeps each under ~2 MiB. */
  readonly shards?: number;
  /** How often the node responsible for a shard reads it to wake passivated entities. Default 1,000 ms. */
  readonly scanEveryMs?: number;
  /** Most entities woken per shard per scan, earliest due first. Default 1,000. */
  readonly maxWakesPerScan?: number;
  /** Reminders one entity may hold. Default 1,000. */
  readonly maxPerEntity?: number;
  /** A reminder whose `onReminder` threw fires again this long after (its tick is not used up). Default 1,000 ms. */
  readonly retryMinBackoffMs?: number;
  /** The retry delay doubles with each throw in a row, up to this. Default 60,000 ms. */
  readonly retryMaxBackoffMs?: number;
}

export const DEFAULT_REMINDER_OPTIONS: Required<ReminderOptions> = Object.freeze({
  shards: 16,
  scanEveryMs: 1_000,
  maxWakesPerScan: 1_000,
  maxPerEntity: DEFAULT_MAX_REMINDERS_PER_ENTITY,
  retryMinBackoffMs: DEFAULT_REMINDER_RETRY.minMs,
  retryMaxBackoffMs: DEFAULT_REMINDER_RETRY.maxMs,
});

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
   * The kind's reminder index shards are written at most this often by each node, too.
   */
  readonly writeEveryMs?: number;
  /**
   * Write-behind: replies and tells leave as soon as the handler returns, before the state is written
   * (still at most one write per `writeEveryMs`). Faster, and what was answered since the last write
   * that landed is lost if the node dies or the copy is fenced (docs/entities.md). Default false.
   */
  readonly writeBehind?: boolean;
  /** How many applied idempotency keys each entity remembers. Defaults: 1,000 keys, 24 hours, 256 KiB. */
  readonly idempotency?: IdempotencyWindow;
  /** The reminder index and its scan; used only by kinds with `onReminder`. */
  readonly reminders?: ReminderOptions;
  /**
   * Most messages one entity's copy holds: received and not yet processed, or processed and not yet
   * written (while its store is slow or down). Past it a message is refused: a Failure
   * `mailbox-overflow` to an asker and a dead letter. Default 10,000.
   */
  readonly maxQueuedPerEntity?: number;
  /** The same bound in bytes, by `approximateBytes` estimate of the messages. Default 16 MiB. */
  readonly maxQueuedBytesPerEntity?: number;
  /**
   * Most activations of this kind in memory on this node. A message that needs one more passivates
   * the least recently used idle one (nothing to process, write or send); when none is idle it is
   * refused: a Failure `too-many-activations` to an asker and a dead letter. Default 100,000.
   */
  readonly maxActivations?: number;
  /**
   * How long shutdown waits for the kind's activations to make their work durable before giving up
   * on what is left: `unwritten` dead letters (a Failure to askers still waiting). Default 30,000 ms.
   */
  readonly drainTimeoutMs?: number;
}

/** Entity limits per node and kind (docs/entities.md, "Limits"). */
export const DEFAULT_ENTITY_LIMITS = Object.freeze({ maxQueuedPerEntity: 10_000, maxQueuedBytesPerEntity: 16 * 1024 * 1024, maxActivations: 100_000, drainTimeoutMs: 30_000 });

/** Idle candidates looked at, least recently used first, to make room for one activation: bounds the cost when all are busy. */
const EVICTION_SCAN = 64;

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
   * how a plain NATS requester's message reaches an owner on another node. `headers` go with it.
   */
  relay(target: ActorRef<any>, message: object, headers?: Readonly<Record<string, string>>): Promise<object>;
  /** The live nodes (this one included) whose heartbeats announce `announced`. */
  hostsOf(announced: string): readonly string[];
  /** Changes whenever `hostsOf` may answer differently for another node's kinds (`Membership.version`). */
  membershipVersion(): number;
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
  readonly writeBehind: boolean;
  readonly idempotency: Required<IdempotencyWindow>;
  readonly reminders: Required<ReminderOptions>;
  readonly reminderIndex: ReminderIndex | undefined;
  readonly scanner: ReminderScanner | undefined;
  readonly limits: Readonly<Record<keyof typeof DEFAULT_ENTITY_LIMITS, number>>;
  /** This kind's activations on this node by path, least recently used first. */
  readonly live: Map<string, EntityActivation>;
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
  /** Shutting down: this node owns nothing any more, and forwards what still reaches it. */
  private leaving = false;
  /**
   * Each kind's owner candidates (`hostsOf`, less this node when leaving), computed once per view of
   * membership rather than per message (a sorted copy of the member list cost 5 µs a message). Only
   * kinds with hosts are kept, so kinds named by hostile paths cannot grow it.
   */
  private readonly hostsByKind = new Map<string, readonly string[]>();
  private cachedMembership = Number.NaN;
  /** Bumped when this node's own kinds or its leaving change: `hostsByKind` is stale then too. */
  private localVersion = 0;
  private cachedLocal = -1;

  constructor(private readonly node: EntityHostingNode) {}

  host(definition: EntityDefinition, options: HostEntitiesOptions): void {
    if (this.kinds.has(definition.kind)) throw new Error(`entity kind ${definition.kind} is already hosted on node ${this.node.nodeId}`);
    if (typeof options?.store?.write !== "function") throw new TypeError(`hostEntities(${definition.kind}) needs { store }: a StateStore`);
    const prefix = options.prefix ?? "entities";
    const writeEveryMs = options.writeEveryMs ?? 0;
    if (!(writeEveryMs >= 0)) throw new RangeError(`writeEveryMs must be >= 0; got ${writeEveryMs}`);
    const reminders = { ...DEFAULT_REMINDER_OPTIONS, ...options.reminders };
    for (const [name, value] of Object.entries(reminders)) {
      if (!(Number.isInteger(value) && value > 0)) throw new RangeError(`reminders.${name} must be a positive whole number; got ${value}`);
    }
    if (reminders.retryMaxBackoffMs < reminders.retryMinBackoffMs) {
      throw new RangeError(`reminders.retryMaxBackoffMs (${reminders.retryMaxBackoffMs}) must be >= retryMinBackoffMs (${reminders.retryMinBackoffMs})`);
    }
    const idempotency = idempotencyWindow(options.idempotency);
    const limits: Record<keyof typeof DEFAULT_ENTITY_LIMITS, number> = { ...DEFAULT_ENTITY_LIMITS };
    for (const name of Object.keys(limits) as (keyof typeof limits)[]) {
      const value = options[name] ?? limits[name];
      if (!(Number.isInteger(value) && value > 0)) throw new RangeError(`${name} must be a positive whole number; got ${value}`);
      limits[name] = value;
    }
    this.node.registry.register(definition.stateType, ...definition.messageTypes, ...definition.replyTypes, ReminderWake, ReminderFired);
    const placement = options.placement ?? rendezvous;
    const { kind } = definition;
    const reminderIndex = definition.onReminder === undefined ? undefined : new ReminderIndex(options.store, prefix, kind, reminders.shards, this.node.clock, writeEveryMs);
    const scanner =
      reminderIndex &&
      new ReminderScanner({
        clock: this.node.clock,
        index: reminderIndex,
        scanEveryMs: reminders.scanEveryMs,
        maxWakesPerScan: reminders.maxWakesPerScan,
        // One node per shard: the one rendezvous hashing picks among the kind's hosts.
        scans: (shard) => !this.leaving && placement(kind, `.reminders-${shard}`, this.hostsOf(kind)) === this.node.nodeId,
        // The index is store contents: a key that could not come from a path is dropped, never used in a store key.
        wake: (key) => {
          if (isEntityKey(key)) this.route(kind, key, { message: ReminderWake.create(), sender: undefined, headers: undefined });
        },
        failed: (error) => this.node.deadLetters.publish({ reason: "activation-failed", detail: `reading the reminder index of ${kind}: ${error.message}` }),
      });
    const hosted = { definition, store: options.store, prefix, placement, writeEveryMs, writeBehind: options.writeBehind === true, idempotency, reminders, reminderIndex, scanner, limits, live: new Map() };
    this.kinds.set(kind, hosted);
    this.localVersion++;
    scanner?.start();
  }

  /** Kind names for this node's heartbeat. */
  announced(): string[] {
    return [...this.kinds.keys()].map(announcedKind);
  }

  /** A ref to (kind, key); a definition also registers its message types, so that they can be sent. */
  ref<M extends object>(kind: string | EntityDefinition<any, M>, key: string): EntityRef<M> {
    if (typeof kind !== "string") this.node.registry.register(...kind.messageTypes);
    return new EntityRef<M>(validateEntityKind(typeof kind === "string" ? kind : kind.kind), validateEntityKey(key), this);
  }

  activations(): ActivationInfo[] {
    return this.allLive().map((a) => ({ kind: a.definition.kind, key: a.key, writes: a.writes }));
  }

  private allLive(): EntityActivation[] {
    return [...this.kinds.values()].flatMap((hosted) => [...hosted.live.values()]);
  }

  /** The owner of (kind, key) as this node sees membership now; undefined when no live node hosts the kind. */
  ownerOf(kind: string, key: string): string | undefined {
    return this.ownerIn(this.kinds.get(kind), kind, key);
  }

  /** `ownerOf`, for a caller that has looked the kind up already. */
  private ownerIn(hosted: HostedKind | undefined, kind: string, key: string): string | undefined {
    return (hosted?.placement ?? rendezvous)(kind, key, this.hostsOf(kind));
  }

  /** The nodes that may own keys of `kind` now, sorted by node id: cached until membership or this node's kinds change. */
  private hostsOf(kind: string): readonly string[] {
    const membership = this.node.membershipVersion();
    if (membership !== this.cachedMembership || this.localVersion !== this.cachedLocal) {
      this.hostsByKind.clear();
      this.cachedMembership = membership;
      this.cachedLocal = this.localVersion;
    }
    const cached = this.hostsByKind.get(kind);
    if (cached !== undefined) return cached;
    const all = this.node.hostsOf(announcedKind(kind));
    const hosts = Object.freeze(this.leaving ? all.filter((n) => n !== this.node.nodeId) : [...all]);
    if (hosts.length > 0) this.hostsByKind.set(kind, hosts);
    return hosts;
  }

  tellEntity(kind: string, key: string, message: object, sender: ActorRef<any> | undefined, headers?: Readonly<Record<string, string>>): void {
    this.node.router.deliver(this.refAt(this.ownerOf(kind, key) ?? this.node.nodeId, entityPath(kind, key)), message, sender, headers);
  }

  askEntity<R extends object>(kind: string, key: string, message: object, replyType: MessageType<R>, timeoutMs: number | undefined, headers?: Readonly<Record<string, string>>): Promise<R> {
    return this.node.router.ask(this.refAt(this.ownerOf(kind, key) ?? this.node.nodeId, entityPath(kind, key)), message, replyType, timeoutMs, headers);
  }

  /** A message addressed to `/entity/...` on this node, from a local ref or another node. */
  deliver(path: string, message: object, sender: ActorRef<any> | undefined, headers: Readonly<Record<string, string>> | undefined): void {
    const entity = parseEntityPath(path);
    const mail = { message, sender, headers };
    if (entity === undefined) return this.giveUp(path, mail, "unknown-target", `${path} is not /entity/<kind>/<key> with a valid kind and key`);
    // A well-formed path is exactly entityPath(kind, key): no need to build it again.
    this.route(entity.kind, entity.key, mail, path);
  }

  /** Membership changed: copies of keys that now belong elsewhere leave once their work is durable. */
  membershipChanged(): void {
    for (const activation of this.allLive()) {
      const kind = activation.definition.kind;
      if (this.ownerOf(kind, activation.key) !== this.node.nodeId) activation.moveAway();
    }
  }

  /**
   * Waits for every activation's work to be durable and drops them all (node shutdown); after a kind's
   * `drainTimeoutMs`, gives up on what is still unwritten (the store failing) and reports it.
   */
  async passivateAll(): Promise<void> {
    this.leaving = true;
    this.localVersion++;
    for (const hosted of this.kinds.values()) hosted.scanner?.stop();
    await Promise.all([...this.kinds.values()].map((hosted) => this.drain(hosted)));
    // Raises still queued only move entries later: dropping them leaves the index early, never late.
    for (const hosted of this.kinds.values()) hosted.reminderIndex?.stop();
  }

  private async drain(hosted: HostedKind): Promise<void> {
    const activations = [...hosted.live.values()];
    if (activations.length === 0) return;
    const { clock } = this.node;
    const { drainTimeoutMs } = hosted.limits;
    let timer: ReturnType<Clock["setTimeout"]> | undefined;
    const late = new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, drainTimeoutMs)));
    await Promise.race([Promise.all(activations.map((a) => a.passivate())), late]);
    clock.clearTimeout(timer!);
    for (const activation of activations) activation.abandon(`shut down with work not durable after drainTimeoutMs ${drainTimeoutMs}`);
  }

  private route(kind: string, key: string, mail: Mail, path = entityPath(kind, key)): void {
    const hosted = this.kinds.get(kind);
    const owner = this.ownerIn(hosted, kind, key);
    if (owner === this.node.nodeId && hosted !== undefined && !this.leaving) {
      const activation = this.activation(hosted, key, path);
      if (activation === undefined) {
        this.node.deadLetters.limitHit("maxActivationsPerKind");
        const detail = `node ${this.node.nodeId} holds ${hosted.live.size} activations of entity kind ${kind} (maxActivations ${hosted.limits.maxActivations}), none of them idle: ${kind}/${key} was not activated`;
        return this.giveUp(path, mail, "too-many-activations", detail);
      }
      const refused = activation.enqueue(mail);
      if (refused === undefined) return;
      this.node.deadLetters.limitHit(refused.limit);
      return this.giveUp(path, mail, "mailbox-overflow", refused.detail);
    }
    // A copy here whose messages now go elsewhere leaves once its work is durable.
    hosted?.live.get(path)?.moveAway();
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
    this.node.relay(this.refAt(owner, path), mail.message, mail.headers).then(
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

  /** The key's activation, moved to the most recently used end; undefined when there is no room for a new one. */
  private activation(hosted: HostedKind, key: string, path: string): EntityActivation | undefined {
    const existing = hosted.live.get(path);
    if (existing !== undefined && !existing.isStopped) {
      hosted.live.delete(path);
      hosted.live.set(path, existing);
      return existing;
    }
    if (hosted.live.size >= hosted.limits.maxActivations && !this.passivateIdle(hosted)) return undefined;
    const { definition, store, prefix, writeEveryMs, writeBehind, idempotency, reminderIndex } = hosted;
    const activation: EntityActivation = new EntityActivation(key, definition, {
      nodeId: this.node.nodeId,
      clock: this.node.clock,
      store,
      storeKey: `${prefix}/${definition.kind}/${key}`,
      writeEveryMs,
      writeBehind,
      idempotency,
      maxRemindersPerEntity: hosted.reminders.maxPerEntity,
      reminderRetry: { minMs: hosted.reminders.retryMinBackoffMs, maxMs: hosted.reminders.retryMaxBackoffMs },
      reminderIndex,
      encodeReply: (message) => {
        try {
          const type = this.node.registry.requireName(message);
          return { type, bytes: this.node.registry.typeNamed(type)!.encode(message).finish() };
        } catch {
          return undefined; // Not a protobuf message: it cannot be sent either, so there is nothing to repeat.
        }
      },
      decodeReply: (type, bytes) => this.node.registry.typeNamed(type)?.decode(bytes),
      self: this.ref(definition.kind, key),
      entityRef: (kind, other) => this.ref(kind, other),
      address: this.refAt(this.node.nodeId, path),
      replyAs: (mail) => this.replyAs(mail, path),
      isAsk: isAsk,
      failAsk: (mail, reason, detail) => {
        // A fenced copy reports once for all its mail; an already-applied key is an answer, not a loss.
        if (reason !== "fenced" && reason !== "already-applied") this.deadLetter(reason, detail, path, mail);
        this.failAsk(mail, reason, detail, path);
      },
      forward: (mails) => {
        for (const mail of mails) this.route(definition.kind, key, mail, path);
      },
      fenced: (detail) => this.node.deadLetters.publish({ reason: "fenced", detail, target: this.addressOf(path) }),
      lost: (mail, reason, detail) => this.deadLetter(reason, detail, path, mail),
      maxQueued: hosted.limits.maxQueuedPerEntity,
      maxQueuedBytes: hosted.limits.maxQueuedBytesPerEntity,
      retired: (gone) => {
        if (hosted.live.get(path) === gone) hosted.live.delete(path);
      },
    });
    hosted.live.set(path, activation);
    return activation;
  }

  /**
   * Makes room for one activation of the kind: passivates the least recently used idle one (it has
   * nothing to write, so it leaves at once). Busy ones seen on the way go to the back, so the next
   * look starts further on and each look costs at most EVICTION_SCAN steps. False when none was idle.
   */
  private passivateIdle(hosted: HostedKind): boolean {
    const candidates: [string, EntityActivation][] = [];
    for (const entry of hosted.live) {
      if (candidates.push(entry) >= EVICTION_SCAN) break;
    }
    for (const [path, activation] of candidates) {
      if (activation.idle) {
        void activation.passivate();
        if (hosted.live.get(path) === activation) hosted.live.delete(path);
        return true;
      }
      hosted.live.delete(path);
      hosted.live.set(path, activation);
    }
    return false;
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
  return mail.sender !== undefined && isAsker(mail.sender);
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
