import type { ActorContext } from "./actor-context.js";
import type { MessageOf, MessageType } from "./codec/message-type.js";
import { isKindName } from "./kind-name.js";

/** What a handler returns: the next state, or nothing to keep the current one; sync or async. */
export type HandlerResult<S> = S | void | Promise<S | void>;

export type Handler<S, In extends object, Self extends object> = (
  state: S,
  message: In,
  ctx: ActorContext<Self>,
) => HandlerResult<S>;

export interface LifecycleHooks<S, Self extends object> {
  /** After `init`, before the first message; may return a new state. */
  readonly started?: (state: S, ctx: ActorContext<Self>) => HandlerResult<S>;
  /** Asked to stop: children are still running, no more messages will be processed. */
  readonly stopping?: (state: S, ctx: ActorContext<Self>) => void | Promise<void>;
  /** Stopped: children have stopped too; the last chance to release resources. */
  readonly stopped?: (state: S, ctx: ActorContext<Self>) => void | Promise<void>;
  /** A handler failed and the actor is about to be restarted with fresh state from `init`. */
  readonly restarting?: (state: S, ctx: ActorContext<Self>, error: unknown) => void | Promise<void>;
}

/** The message classes an actor accepts, by a local name of your choosing. */
export type MessageTypes = Record<string, MessageType<any>>;

/** The union of messages accepted by an actor whose protocol is `T`. */
export type AcceptedBy<T extends MessageTypes> = MessageOf<T[keyof T]>;

export interface ActorSpec<S, T extends MessageTypes, P> extends LifecycleHooks<NoInfer<S>, AcceptedBy<T>> {
  /** Name under which nodes register this definition so it can be spawned remotely. */
  readonly kind?: string;
  /** The closed set of protobuf message classes this actor accepts. */
  readonly messages: T;
  /** Builds the initial state from the spawn props; called again on each restart. */
  readonly init: (props: P) => S | Promise<S>;
  /** One handler per message: TypeScript rejects a definition that misses one. */
  readonly handlers: { readonly [K in keyof T]: Handler<NoInfer<S>, MessageOf<T[K]>, AcceptedBy<T>> };
}

/**
 * An actor definition: a value describing behaviour, with nothing running. Spawning it on a system
 * (or from another actor) gives an `ActorRef`; deployment knobs such as the mailbox belong to spawn.
 */
export interface ActorDefinition<S = any, M extends object = any, P = any> {
  readonly kind: string | undefined;
  readonly messageTypes: readonly MessageType[];
  readonly init: (props: P) => S | Promise<S>;
  /** Handlers by message class, for dispatch without looking at type names. */
  readonly handlers: ReadonlyMap<unknown, Handler<S, any, M>>;
  readonly hooks: LifecycleHooks<S, M>;
}

/** The messages a definition accepts. */
export type MessagesOf<D> = D extends ActorDefinition<any, infer M, any> ? M : never;
/** The props a definition's `init` takes. */
export type PropsOf<D> = D extends ActorDefinition<any, any, infer P> ? P : never;

/**
 * Defines an actor: its protocol (protobuf classes), initial state and a handler per message.
 *
 * ```ts
 * const counter = defineActor({
 *   messages: { Add, Get },
 *   init: () => ({ total: 0 }),
 *   handlers: {
 *     Add: (state, add) => ({ total: state.total + add.amount }),
 *     Get: (state, _get, ctx) => ctx.reply(Total.create({ value: state.total })),
 *   },
 * });
 * ```
 */
export function defineActor<S, T extends MessageTypes, P = void>(
  spec: ActorSpec<S, T, P>,
): ActorDefinition<S, AcceptedBy<T>, P> {
  const handlers = new Map<unknown, Handler<S, any, AcceptedBy<T>>>();
  for (const [name, type] of Object.entries(spec.messages)) {
    if (typeof type?.decode !== "function" || typeof type.getTypeUrl !== "function") {
      throw new TypeError(`defineActor: messages.${name} is not a generated protobuf message class`);
    }
    const handler = spec.handlers[name as keyof T];
    if (typeof handler !== "function") throw new TypeError(`defineActor: no handler for messages.${name}`);
    handlers.set(type, handler as Handler<S, any, AcceptedBy<T>>);
  }
  if (spec.kind !== undefined && !isKindName(spec.kind)) {
    throw new TypeError(`defineActor: invalid kind ${JSON.stringify(spec.kind)} (letters, digits, '_', '.', '-')`);
  }
  return Object.freeze({
    kind: spec.kind,
    messageTypes: Object.freeze(Object.values(spec.messages)),
    init: spec.init,
    handlers,
    hooks: Object.freeze({
      started: spec.started,
      stopping: spec.stopping,
      stopped: spec.stopped,
      restarting: spec.restarting,
    }),
  });
}
