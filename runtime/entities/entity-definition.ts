import type { AcceptedBy, MessageTypes } from "../actor-definition.js";
import type { MessageOf, MessageType } from "../codec/message-type.js";
import type { EntityContext } from "./entity-context.js";
import { validateEntityKind } from "./entity-path.js";
import { troupe } from "../../proto/gen/troupe.js";

/** What `onReminder` receives when a reminder falls due: `troupe.entity.ReminderFired { name, missed }`. */
export const ReminderFired = troupe.entity.ReminderFired;
export type ReminderFired = troupe.entity.ReminderFired;

/** The next state, or nothing to keep the current one; sync or async. */
export type EntityHandler<S, In extends object, Self extends object> = (state: S, message: In, ctx: EntityContext<Self>) => S | void | Promise<S | void>;

export interface EntitySpec<ST extends MessageType<any>, T extends MessageTypes> {
  /** Names the entities of this definition everywhere: in paths, heartbeats and state keys. */
  readonly kind: string;
  /** The protobuf class of the state: what is stored under `<prefix>/<kind>/<key>`. */
  readonly state: ST;
  /** The state of an entity that has never been written. */
  readonly initial: (key: string) => MessageOf<ST>;
  /** The closed set of protobuf message classes the entity accepts. */
  readonly messages: T;
  /** One handler per message: TypeScript rejects a definition that misses one. */
  readonly handlers: { readonly [K in keyof T]: EntityHandler<NoInfer<MessageOf<ST>>, MessageOf<T[K]>, AcceptedBy<T>> };
  /** An activation with no message for this long is passivated (dropped from memory). Default 60,000 ms. */
  readonly idleMs?: number;
  /**
   * Reply types the handlers send beyond `state` and `messages`: registered on every hosting node, so
   * that a node which has not sent one yet can repeat a reply stored with an idempotency key.
   */
  readonly replies?: readonly MessageType[];
  /** Receives `ReminderFired { name, missed }` when a reminder set with `ctx.remind` falls due; needed to use reminders. */
  readonly onReminder?: EntityHandler<NoInfer<MessageOf<ST>>, ReminderFired, AcceptedBy<T>>;
}

/** An entity definition: a value, nothing running. Nodes host it with `system.hostEntities`. */
export interface EntityDefinition<S extends object = any, M extends object = any> {
  readonly kind: string;
  readonly stateType: MessageType<S>;
  readonly initial: (key: string) => S;
  readonly messageTypes: readonly MessageType[];
  /** Handlers by message class. */
  readonly handlers: ReadonlyMap<unknown, EntityHandler<S, any, M>>;
  readonly idleMs: number;
  /** Types registered with the kind besides state and messages (`replies`). */
  readonly replyTypes: readonly MessageType[];
  readonly onReminder: EntityHandler<S, ReminderFired, M> | undefined;
}

export const DEFAULT_ENTITY_IDLE_MS = 60_000;

/**
 * Defines an entity: an actor addressed by kind and key, activated on its first message, with its
 * state (a protobuf message) durable in a state store.
 *
 * ```ts
 * const account = defineEntity({
 *   kind: "account",
 *   state: Balance,
 *   initial: () => Balance.create(),
 *   messages: { Deposit, GetBalance },
 *   handlers: {
 *     Deposit: (state, d, ctx) => { ctx.reply(Ok.create()); return Balance.create({ cents: state.cents + d.cents }); },
 *     GetBalance: (state, _m, ctx) => ctx.reply(state),
 *   },
 * });
 * ```
 */
export function defineEntity<ST extends MessageType<any>, T extends MessageTypes>(spec: EntitySpec<ST, T>): EntityDefinition<MessageOf<ST>, AcceptedBy<T>> {
  validateEntityKind(spec.kind);
  if (typeof spec.state?.decode !== "function" || typeof spec.state.encode !== "function") throw new TypeError("defineEntity: state is not a generated protobuf message class");
  const handlers = new Map<unknown, EntityHandler<MessageOf<ST>, any, AcceptedBy<T>>>();
  for (const [name, type] of Object.entries(spec.messages)) {
    if (typeof type?.decode !== "function" || typeof type.getTypeUrl !== "function") throw new TypeError(`defineEntity: messages.${name} is not a generated protobuf message class`);
    const handler = spec.handlers[name as keyof T];
    if (typeof handler !== "function") throw new TypeError(`defineEntity: no handler for messages.${name}`);
    handlers.set(type, handler as EntityHandler<MessageOf<ST>, any, AcceptedBy<T>>);
  }
  const idleMs = spec.idleMs ?? DEFAULT_ENTITY_IDLE_MS;
  if (!(idleMs > 0)) throw new RangeError(`defineEntity: idleMs must be a positive number; got ${idleMs}`);
  if (spec.onReminder !== undefined && typeof spec.onReminder !== "function") throw new TypeError("defineEntity: onReminder is not a function");
  const { onReminder } = spec;
  const replyTypes = Object.freeze([...(spec.replies ?? [])]);
  for (const type of replyTypes) if (typeof type?.decode !== "function" || typeof type.getTypeUrl !== "function") throw new TypeError("defineEntity: replies holds something that is not a generated protobuf message class");
  return Object.freeze({ kind: spec.kind, stateType: spec.state, initial: spec.initial, messageTypes: Object.freeze(Object.values(spec.messages)), handlers, idleMs, replyTypes, onReminder });
}
