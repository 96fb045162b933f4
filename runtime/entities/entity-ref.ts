import type { ActorRef, AskOptions } from "../actor-ref.js";
import type { MessageType } from "../codec/message-type.js";
import { entityPath } from "./entity-path.js";

/** How an entity ref reaches its entity: the node's entity hosting, which knows the owners. */
export interface EntityRouter {
  tellEntity(kind: string, key: string, message: object, sender: ActorRef<any> | undefined): void;
  askEntity<R extends object>(kind: string, key: string, message: object, replyType: MessageType<R>, timeoutMs: number | undefined): Promise<R>;
}

/**
 * A handle on the entity (kind, key), usable from any node. It holds no owner: each message goes to
 * the owner as this node sees it at the time of sending.
 */
export class EntityRef<M extends object = object> {
  constructor(
    readonly kind: string,
    readonly key: string,
    private readonly router: EntityRouter,
  ) {}

  /** The envelope target of its messages on every node: `/entity/<kind>/<key>`. */
  get path(): string {
    return entityPath(this.kind, this.key);
  }

  tell(message: M, sender?: ActorRef<any>): void {
    this.router.tellEntity(this.kind, this.key, message, sender);
  }

  /** Resolves with the reply, sent only once the effect of the message is durable. */
  ask<T extends MessageType<any>>(message: M, replyType: T, options?: AskOptions): Promise<InstanceType<T>> {
    return this.router.askEntity(this.kind, this.key, message, replyType, options?.timeoutMs) as Promise<InstanceType<T>>;
  }

  toString(): string {
    return `entity ${this.kind}/${this.key}`;
  }
}
