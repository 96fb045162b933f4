import type { ActorContext } from "../actor-context.js";
import type { ActorDefinition } from "../actor-definition.js";
import type { ActorRef } from "../actor-ref.js";
import type { MailboxOptions } from "../mailbox.js";
import type { PlacementCandidate } from "../remote/placement.js";

/**
 * Routees a router spawns as its own children and supervises (with the router's `supervisor` spawn
 * option). `size` of them on the router's node; or, with `perNode`, that many on every live node that
 * hosts the definition's kind (the router's own included), resized as nodes join, leave or are lost.
 */
export interface PoolConfig {
  readonly definition: ActorDefinition<any, any, any>;
  /** Routees on the router's node. Default 1 (ignored with `perNode`). */
  readonly size?: number;
  /** Routees on each live node hosting `definition.kind` (spawned there by kind, as remote children are). */
  readonly perNode?: number;
  /** Passed to each routee's `init`; a protobuf message when routees run on other nodes. */
  readonly props?: unknown;
  readonly mailbox?: MailboxOptions;
}

/**
 * Brings the router's children in line with the pool: stops routees on nodes that are gone (or over
 * `perNode` on one node), spawns the missing ones. Called when the router starts and on every
 * membership change; the router's supervisor restarts routees that fail in between.
 */
export function reconcilePool(ctx: ActorContext<any>, pool: PoolConfig, nodes: readonly PlacementCandidate[]): void {
  const children = ctx.children();
  const spawn = (placement?: { node: string }): ActorRef<any> => ctx.spawn(pool.definition, { props: pool.props, mailbox: pool.mailbox, ...(placement ? { placement } : {}) });
  if (pool.perNode === undefined) {
    for (let have = children.length; have < (pool.size ?? 1); have++) spawn();
    return;
  }
  const kind = pool.definition.kind;
  if (kind === undefined) throw new TypeError("a pool router with perNode needs a definition with a `kind` (registered on the nodes that host it)");
  const hosts = new Set(nodes.filter((n) => n.kinds.includes(kind)).map((n) => n.node));
  const byNode = new Map<string, ActorRef<any>[]>();
  for (const child of children) {
    const list = byNode.get(child.address.node) ?? [];
    list.push(child);
    byNode.set(child.address.node, list);
  }
  for (const [node, refs] of byNode) {
    const keep = hosts.has(node) ? pool.perNode : 0;
    for (const ref of refs.slice(keep)) void ctx.stop(ref).catch(() => undefined);
  }
  for (const node of [...hosts].sort()) {
    for (let have = byNode.get(node)?.length ?? 0; have < pool.perNode; have++) spawn({ node });
  }
}
