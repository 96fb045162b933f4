import type { ActorRef, AskOptions } from "../actor-ref.js";
import type { MessageType } from "../codec/message-type.js";
import { IDEMPOTENCY_KEY_HEADER, idempotencyKeyOf } from "./applied-keys.js";
import { entityPath } from "./entity-path.js";

/** How an entity ref reaches its entity: the node's entity hosting, which knows the owners. */
export interface EntityRouter {
  tellEntity(kind: string, key: string, message: object, sender: ActorRef<any> | undefined, headers?: Readonly<Record<string, string>>): void;
  askEntity<R extends object>(kind: string, key: string, message: object, replyType: MessageType<R>, timeoutMs: number | undefined, headers?: Readonly<Record<string, string>>): Promise<R>;
}

export interface EntitySendOptions {
  /**
   * Makes a retry harmless: the entity applies a message with this key once, remembers the key with
   * its state (and the first reply), and answers a repeat with that first reply without running the
   * handler again. 1-256 bytes; the same key means the same operation (the payload is not compared).
   */
  readonly idempotencyKey?: string;
}

export interface EntityAskOptions extends AskOptions, EntitySendOptions {}

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

  tell(message: M, sender?: ActorRef<any>, options?: EntitySendOptions): void {
    this.router.tellEntity(this.kind, this.key, message, sender, headersOf(options));
  }

  /**
   * Resolves with the reply, sent only once the effect of the message is durable. With an
   * `idempotencyKey`, asking again after a timeout or a `fenced` Failure gets the first outcome.
   */
  ask<T extends MessageType<any>>(message: M, replyType: T, options?: EntityAskOptions): Promise<InstanceType<T>> {
    return this.router.askEntity(this.kind, this.key, message, replyType, options?.timeoutMs, headersOf(options)) as Promise<InstanceType<T>>;
  }

  toString(): string {
    return `entity ${this.kind}/${this.key}`;
  }
}

function headersOf(options: EntitySendOptions | undefined): Record<string, string> | undefined {
  const key = options?.idempotencyKey;
  if (key === undefined) return undefined;
  const headers = { [IDEMPOTENCY_KEY_HEADER]: key };
  idempotencyKeyOf(headers); // throws on a key no entity accepts, here rather than as a Failure later
  return headers;
}
