import type { Tracer } from "@opentelemetry/api";
import type { Address } from "./address.js";
import type { ActorDefinition } from "./actor-definition.js";
import type { ActorRef } from "./actor-ref.js";
import type { Clock } from "./clock.js";
import type { EntityDefinition } from "./entities/entity-definition.js";
import type { EntityRef } from "./entities/entity-ref.js";
import type { SpawnOptions } from "./spawn-options.js";

export type Cancel = () => void;

/**
 * What an actor may do while it handles a message: a narrow set of capabilities. Side effects go
 * through here so that a test kit can record them and the runtime can undo them on stop (timers,
 * children, the abort signal).
 */
export interface ActorContext<Self extends object = object> {
  readonly self: ActorRef<Self>;
  /** Who sent the message being handled, if anyone. */
  readonly sender: ActorRef<any> | undefined;
  /**
   * Context that travelled with the message (e.g. W3C trace context). Read-only, and maybe one frozen
   * object shared by many messages (an unsampled trace's): copy it to change it.
   */
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** Fires when this actor stops; pass it to fetch() and friends so their work is cancelled too. */
  readonly signal: AbortSignal;
  readonly clock: Clock;
  /** Id of the node this actor runs on. */
  readonly nodeId: string;
  /** The node's tracer when tracing is on (for spans of the actor's own), else undefined. */
  readonly tracer: Tracer | undefined;

  /** Sends `message` to the sender of the message being handled. */
  reply(message: object): void;
  /** Starts a child; it is stopped when this actor stops or restarts. */
  spawn<S, M extends object, P>(definition: ActorDefinition<S, M, P>, options?: SpawnOptions<P>): ActorRef<M>;
  /** Stops a child, or this actor when called without a ref. Resolves when it has stopped. */
  stop(child?: ActorRef<any>): Promise<void>;
  children(): readonly ActorRef<any>[];
  /**
   * Death watch: once `target` (on any node) stops, this actor receives a `Terminated` (handle it like
   * any message type) with the reason, also when the target never existed or its node is lost.
   */
  watch(target: ActorRef<any>): void;
  /** Stops watching; no `Terminated` for `target` arrives after this. */
  unwatch(target: ActorRef<any>): void;
  /** Sends `message` to self after `delayMs`; cancelled automatically on stop and restart. */
  scheduleOnce(delayMs: number, message: Self): Cancel;
  /** Sends `message` to self every `intervalMs`; cancelled automatically on stop and restart. */
  scheduleRepeatedly(intervalMs: number, message: Self): Cancel;
  /** A working ref for an address received in a message. */
  refFor<M extends object = object>(address: Address): ActorRef<M>;
  /** A ref to the entity (kind, key) of this system (docs/entities.md); a definition also registers its message types. */
  entityRef<M extends object = object>(kind: string | EntityDefinition<any, M>, key: string): EntityRef<M>;
}
