import type { ActorContext } from "../actor-context.js";
import type { ActorDefinition, Handler } from "../actor-definition.js";
import type { ActorRef } from "../actor-ref.js";
import type { MessageType } from "../codec/message-type.js";
import type { DeadLetters } from "../dead-letters.js";
import type { MembershipEvent } from "../membership/membership.js";
import type { PlacementCandidate } from "../remote/placement.js";
import type { Unsubscribe } from "../transport/transport.js";
import { positiveNumber } from "../positive-number.js";
import { Terminated } from "../watch/termination.js";
import { AskCache, type AskCacheHost, type AskCacheOption } from "../cache/ask-cache.js";
import { reconcilePool, type PoolConfig } from "./routee-pool.js";
import { RouterCore } from "./router-core.js";
import type { RoutingStrategy } from "./routing-strategy.js";

/** Default bound on a routee's load (asks it has not answered, or its mailbox when local). */
export const DEFAULT_MAX_IN_FLIGHT_PER_ROUTEE = 1_000;
/** Default bound on messages waiting in the router when no routee has room. */
export const DEFAULT_MAX_QUEUED = 10_000;
/** How often a router with messages waiting and no request out looks at its local routees' mailboxes again. */
const RECHECK_MS = 2;

/** A router: one ref in front of many routees (docs/routing.md). */
export interface RouterConfig<M extends object = object> {
  /** `roundRobin()`, `random()`, `smallestMailbox()`, `consistentHash(keyOf)` or `broadcast()`. */
  readonly strategy: RoutingStrategy<M>;
  /** `{ pool }`: routees it spawns and supervises; `{ group }`: refs it is given (watched; dropped when they stop). */
  readonly routees: { readonly pool: PoolConfig } | { readonly group: readonly ActorRef<M>[] };
  /** The protobuf classes it accepts from other nodes. Default: the pool definition's; none for a group. */
  readonly messages?: readonly MessageType[];
  /** Default 1,000 (DEFAULT_MAX_IN_FLIGHT_PER_ROUTEE). */
  readonly maxInFlightPerRoutee?: number;
  /** Default 10,000 (DEFAULT_MAX_QUEUED). */
  readonly maxQueued?: number;
  /** How long a relayed ask waits for its routee's answer before the asker gets a Failure `no-reply`. Default: the node's askTimeoutMs. */
  readonly replyTimeoutMs?: number;
  /**
   * Answers repeated asks (the same request type and bytes) from a result cache (`troupe/cache`)
   * instead of relaying them, and relays identical asks in flight at once only once. Tells are never
   * cached (they have no result), nor are Failure replies. Not with `broadcast()`. Default: none.
   */
  readonly cache?: AskCacheOption;
}

/** What a router needs from its node. */
export interface RouterHost {
  readonly nodeId: string;
  readonly deadLetters: DeadLetters;
  readonly askTimeoutMs: number;
  nodes(): readonly PlacementCandidate[];
  onMembership(listener: (event: MembershipEvent) => void): Unsubscribe;
  mailboxSize(ref: ActorRef<any>): number | undefined;
  relay(target: ActorRef<any>, message: object, timeoutMs: number): Promise<object>;
  readonly cacheHost: AskCacheHost;
}

/** Sent to itself: the nodes changed (pool routers resize), or messages wait and local mailboxes may have room. */
class NodesChanged {}
class Recheck {}

interface RouterState {
  readonly core: RouterCore;
  group: ActorRef<any>[];
  unsubscribe: Unsubscribe | undefined;
  recheckPending: boolean;
}

/** Builds a router's definition (use `system.router(config)`, which passes the node's host). */
export function routerDefinition<M extends object>(host: RouterHost, config: RouterConfig<M>): ActorDefinition<any, M, void> {
  const pool = "pool" in config.routees ? config.routees.pool : undefined;
  const group = "group" in config.routees ? config.routees.group : undefined;
  const limits = {
    maxInFlightPerRoutee: positiveNumber("router maxInFlightPerRoutee", config.maxInFlightPerRoutee ?? DEFAULT_MAX_IN_FLIGHT_PER_ROUTEE),
    maxQueued: positiveNumber("router maxQueued", config.maxQueued ?? DEFAULT_MAX_QUEUED),
    replyTimeoutMs: positiveNumber("router replyTimeoutMs", config.replyTimeoutMs ?? host.askTimeoutMs),
  };
  if (pool?.perNode !== undefined && pool.definition.kind === undefined) throw new TypeError("a pool router with perNode needs a definition with a `kind`");
  if (config.cache !== undefined && config.strategy.name === "broadcast") throw new TypeError("a broadcast router cannot cache: every routee is to receive each message");

  const route: Handler<RouterState, object, M> = (state, message, ctx) => {
    state.core.route(message, ctx.sender);
  };
  const handlers = new RouteEverything(route);
  handlers.set(NodesChanged, (state, _m, ctx) => {
    if (pool !== undefined) reconcilePool(ctx, pool, host.nodes());
    state.core.drain();
  });
  handlers.set(Recheck, (state) => {
    state.recheckPending = false;
    state.core.drain();
  });
  // Group routees are watched: one that stops is routed to no more. A pool's children are supervised instead.
  handlers.set(Terminated, (state, message) => {
    const gone = (message as Terminated).actor;
    state.group = state.group.filter((ref) => !(ref.address.node === gone?.node && ref.address.path === gone?.path && ref.address.system === gone?.system));
    state.core.drain();
  });

  const init = (): RouterState => ({ core: undefined!, group: [...(group ?? [])], unsubscribe: undefined, recheckPending: false });
  const started = (state: RouterState, ctx: ActorContext<M>): RouterState => {
    const self = ctx.self;
    const core = new RouterCore(
      {
        deadLetters: host.deadLetters,
        mailboxSize: (ref) => host.mailboxSize(ref),
        relay: (target, message, timeoutMs) => host.relay(target, message, timeoutMs),
        recheckLater: () => {
          if (next.recheckPending) return;
          next.recheckPending = true;
          ctx.scheduleOnce(RECHECK_MS, new Recheck() as unknown as M);
        },
      },
      self,
      config.strategy,
      limits,
      pool !== undefined ? () => ctx.children() : () => next.group,
      config.cache && new AskCache(host.cacheHost, config.cache, `router ${self.address.path}`, config.cache.name ?? pool?.definition.kind ?? `router:${self.address.path}`),
    );
    const next: RouterState = { ...state, core };
    for (const ref of next.group) ctx.watch(ref);
    if (pool !== undefined) {
      reconcilePool(ctx, pool, host.nodes());
      if (pool.perNode !== undefined) next.unsubscribe = host.onMembership(() => self.tell(new NodesChanged() as unknown as M));
    }
    return next;
  };
  const stop = (state: RouterState): void => {
    state.unsubscribe?.();
    state.core?.close();
  };
  return Object.freeze({
    kind: undefined,
    messageTypes: Object.freeze([...(config.messages ?? pool?.definition.messageTypes ?? [])]),
    init,
    handlers,
    hooks: Object.freeze({ started, stopped: stop, restarting: stop }),
  }) as ActorDefinition<any, M, void>;
}

/** Handlers by class, where every class without a handler of its own is routed. */
class RouteEverything extends Map<unknown, Handler<RouterState, any, any>> {
  constructor(private readonly route: Handler<RouterState, object, any>) {
    super();
  }

  override get(type: unknown): Handler<RouterState, any, any> {
    return super.get(type) ?? this.route;
  }
}
