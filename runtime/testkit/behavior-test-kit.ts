import type { Address } from "../address.js";
import type { ActorContext, Cancel } from "../actor-context.js";
import type { ActorDefinition } from "../actor-definition.js";
import { ActorRef, type MessageRouter } from "../actor-ref.js";

import type { MessageType } from "../codec/message-type.js";
import type { EntityDefinition } from "../entities/entity-definition.js";
import { entityPath, validateEntityKey, validateEntityKind } from "../entities/entity-path.js";
import { EntityRef, type EntityRouter } from "../entities/entity-ref.js";
import { ManualClock } from "./manual-clock.js";
import type { SpawnOptions } from "../spawn-options.js";

/** A message the actor under test sent, and to whom. */
export interface SentMessage {
  readonly to: Address;
  readonly message: object;
}

const TEST_SYSTEM = "test";
const TEST_NODE = "testkit";

/**
 * Runs one actor definition with no system, no mailbox and no network (Akka's BehaviorTestKit):
 * each `send` calls the handler directly, and every effect (tells, replies, spawns, timers, stop) is
 * recorded for assertions. Time is a ManualClock.
 */
export class BehaviorTestKit<S, M extends object, P = void> implements ActorContext<M>, MessageRouter {
  readonly clock: ManualClock = new ManualClock();
  readonly sent: SentMessage[] = [];
  readonly spawned: { definition: ActorDefinition<any, any, any>; options: SpawnOptions<any> }[] = [];
  /** Actors the actor under test watches now (watch minus unwatch). */
  readonly watched: ActorRef<any>[] = [];
  readonly self: ActorRef<M>;
  readonly nodeId = TEST_NODE;
  sender: ActorRef<any> | undefined;
  headers: Readonly<Record<string, string>> | undefined;
  stopped = false;
  readonly tracer = undefined;
  private currentState!: S;
  private readonly abort = new AbortController();

  private constructor(
    private readonly definition: ActorDefinition<S, M, P>,
    selfPath: string,
  ) {
    this.self = new ActorRef<M>({ system: TEST_SYSTEM, node: TEST_NODE, path: selfPath }, this);
  }

  /** Initialises the actor (init, then started). */
  static async start<S, M extends object, P>(
    definition: ActorDefinition<S, M, P>,
    options: { props?: P; path?: string } = {},
  ): Promise<BehaviorTestKit<S, M, P>> {
    const kit = new BehaviorTestKit(definition, options.path ?? "/user/under-test");
    kit.currentState = await definition.init(options.props as P);
    const next = await definition.hooks.started?.(kit.currentState, kit);
    if (next !== undefined) kit.currentState = next;
    return kit;
  }

  get state(): S {
    return this.currentState;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** A ref whose messages are recorded in `sent`, to use as a sender or inside messages. */
  probe(path = "/user/probe"): ActorRef<any> {
    return new ActorRef({ system: TEST_SYSTEM, node: TEST_NODE, path }, this);
  }

  /** Messages sent to `ref` so far. */
  sentTo(ref: ActorRef<any>): object[] {
    return this.sent.filter((s) => s.to.path === ref.address.path && s.to.node === ref.address.node).map((s) => s.message);
  }

  /** Handles one message to completion. Rejects if the handler throws, so tests see failures. */
  async send(message: M, sender?: ActorRef<any>): Promise<S> {
    const handler = this.definition.handlers.get(message.constructor);
    if (!handler) throw new Error(`the actor has no handler for ${message.constructor.name}`);
    this.sender = sender;
    const next = await handler(this.currentState, message, this);
    if (next !== undefined) this.currentState = next;
    return this.currentState;
  }

  // ---- ActorContext ----

  reply(message: object): void {
    if (!this.sender) throw new Error("reply() called while handling a message that has no sender");
    this.sender.tell(message, this.self);
  }

  spawn<S2, M2 extends object, P2>(definition: ActorDefinition<S2, M2, P2>, options: SpawnOptions<P2> = {}): ActorRef<M2> {
    this.spawned.push({ definition, options });
    return new ActorRef<M2>({ system: TEST_SYSTEM, node: TEST_NODE, path: `${this.self.address.path}/${options.name ?? `$${this.spawned.length}`}` }, this);
  }

  async stop(child?: ActorRef<any>): Promise<void> {
    if (child === undefined) {
      this.stopped = true;
      this.abort.abort();
    }
  }

  watch(target: ActorRef<any>): void {
    if (!this.watched.some((ref) => ref.equals(target))) this.watched.push(target);
  }

  unwatch(target: ActorRef<any>): void {
    const at = this.watched.findIndex((ref) => ref.equals(target));
    if (at >= 0) this.watched.splice(at, 1);
  }

  children(): readonly ActorRef<any>[] {
    return [];
  }

  scheduleOnce(delayMs: number, message: M): Cancel {
    const handle = this.clock.setTimeout(() => this.self.tell(message), delayMs);
    return () => this.clock.clearTimeout(handle);
  }

  scheduleRepeatedly(intervalMs: number, message: M): Cancel {
    const tick = (): void => {
      this.self.tell(message);
      handle = this.clock.setTimeout(tick, intervalMs);
    };
    let handle = this.clock.setTimeout(tick, intervalMs);
    return () => this.clock.clearTimeout(handle);
  }

  refFor<R extends object = object>(address: Address): ActorRef<R> {
    return new ActorRef<R>(address, this);
  }

  /** Tells to the entity are recorded in `sent` (to `/entity/<kind>/<key>`); asks are recorded and rejected. */
  entityRef<R extends object = object>(kind: string | EntityDefinition<any, R>, key: string): EntityRef<R> {
    const name = validateEntityKind(typeof kind === "string" ? kind : kind.kind);
    const router: EntityRouter = {
      tellEntity: (k, id, message) => this.sent.push({ to: { system: TEST_SYSTEM, node: TEST_NODE, path: entityPath(k, id) }, message }),
      askEntity: (k, id, message, replyType) => this.ask(new ActorRef({ system: TEST_SYSTEM, node: TEST_NODE, path: entityPath(k, id) }, this), message, replyType),
    };
    return new EntityRef<R>(name, validateEntityKey(key), router);
  }

  // ---- MessageRouter: every delivery is recorded ----

  deliver(target: ActorRef<any>, message: object): void {
    this.sent.push({ to: target.address, message });
  }

  ask<R extends object>(target: ActorRef<any>, message: object, _replyType: MessageType<R>): Promise<R> {
    this.sent.push({ to: target.address, message });
    return Promise.reject(new Error("BehaviorTestKit does not answer asks; test the asked actor on its own"));
  }
}


