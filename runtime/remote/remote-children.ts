import type { Address } from "../address.js";
import type { ActorRef } from "../actor-ref.js";
import type { MessageType } from "../codec/message-type.js";
import type { TypeRegistry } from "../codec/type-registry.js";
import type { LeastLoaded } from "./least-loaded.js";
import { chooseNode, chooseNodeAsked, type Placement, type PlacementCandidate } from "./placement.js";
import type { RemoteChild, RemoteChildHost } from "./remote-child.js";

/** What of its node the remote children of its actors use. */
export interface RemoteChildrenNode {
  readonly nodeId: string;
  /** How long a remote child waits for its host to carry out a directive: the node's ask timeout. */
  readonly directiveTimeoutMs: number;
  readonly registry: TypeRegistry;
  /** The live nodes placement chooses among (this node alone when membership is off). */
  candidates(): readonly PlacementCandidate[];
  /** Whether another node is alive as membership sees it (true when membership is off). */
  isAlive(node: string): boolean;
  leastLoaded(): LeastLoaded;
  refFor(address: Address): ActorRef<any>;
  ask<R extends object>(target: ActorRef<any>, message: object, replyType: MessageType<R>, timeoutMs: number | undefined): Promise<R>;
}

/**
 * The children this node's actors have on other nodes: where to place them, and which node hosts
 * which, so that a lost node fails its children here.
 */
export class RemoteChildren implements RemoteChildHost {
  readonly nodeId: string;
  readonly directiveTimeoutMs: number;
  private readonly byNode = new Map<string, Set<RemoteChild>>();
  private readonly roundRobin = { next: 0 };

  constructor(private readonly node: RemoteChildrenNode) {
    this.nodeId = node.nodeId;
    this.directiveTimeoutMs = node.directiveTimeoutMs;
  }

  isAlive(node: string): boolean {
    return node === this.nodeId || this.node.isAlive(node);
  }

  place(kind: string, placement: Placement, exclude?: ReadonlySet<string>): string {
    return chooseNode(kind, placement, this.node.candidates(), this.roundRobin, exclude, (hosts) => this.node.leastLoaded().choose(hosts));
  }

  placeAsked(kind: string, placement: Placement, exclude?: ReadonlySet<string>): Promise<string> {
    return chooseNodeAsked(kind, placement, this.node.candidates(), this.roundRobin, exclude, (hosts) => this.node.leastLoaded().chooseAsked(hosts));
  }

  refFor(address: Address): ActorRef<any> {
    return this.node.refFor(address);
  }

  ask<R extends object>(target: ActorRef<any>, message: object, replyType: MessageType<R>, timeoutMs: number | undefined): Promise<R> {
    return this.node.ask(target, message, replyType, timeoutMs);
  }

  encodeProps(props: unknown): { type: string; bytes: Uint8Array } {
    if (typeof props !== "object" || props === null) throw new TypeError("props of a child spawned on another node must be a protobuf message (an instance of a generated class)");
    const registry = this.node.registry;
    const type = registry.requireName(props);
    return { type, bytes: registry.typeNamed(type)!.encode(props).finish() };
  }

  track(child: RemoteChild): void {
    let set = this.byNode.get(child.node);
    if (set === undefined) this.byNode.set(child.node, (set = new Set()));
    set.add(child);
  }

  untrack(child: RemoteChild): void {
    this.byNode.get(child.node)?.delete(child);
  }

  /** Fails the children `node` hosted: it went silent, left or restarted. */
  nodeLost(node: string): void {
    for (const child of [...(this.byNode.get(node) ?? [])]) child.nodeLost();
  }
}
