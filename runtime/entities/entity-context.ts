import type { ActorRef } from "../actor-ref.js";
import type { Clock } from "../clock.js";
import type { EntityRef } from "./entity-ref.js";

/**
 * What an entity's handler may do. Its replies and tells are held until the state it returned is
 * durable; a copy that loses its generation never sends them (see docs/entities.md).
 */
export interface EntityContext<Self extends object = object> {
  readonly kind: string;
  readonly key: string;
  /** A ref to this entity, valid from any node. */
  readonly self: EntityRef<Self>;
  /** Who sent the message being handled, if anyone. */
  readonly sender: ActorRef<any> | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
  readonly clock: Clock;
  readonly nodeId: string;
  /** Answers the sender, once the state this handler returns is durable. */
  reply(message: object): void;
  /** Sends to an actor or an entity, once the state this handler returns is durable. */
  tell(target: ActorRef<any> | EntityRef<any>, message: object): void;
}
