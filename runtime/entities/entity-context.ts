import type { ActorRef } from "../actor-ref.js";
import type { Clock } from "../clock.js";
import type { EntityDefinition } from "./entity-definition.js";
import type { EntityRef, EntitySendOptions } from "./entity-ref.js";
import type { ReminderSchedule } from "./entity-reminders.js";

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
  /** Sends to an actor or an entity, once the state this handler returns is durable; `options` apply to an entity. */
  tell(target: ActorRef<any> | EntityRef<any>, message: object, options?: EntitySendOptions): void;
  /**
   * A ref to another entity (or this one), to pass to `tell`: the tell then waits for this handler's
   * state to be durable, so a copy that is fenced never sends it. Asking it from a handler
   * (`await ctx.entityRef(...).ask(...)`) sends at once, before this state is durable, and holds this
   * entity's other messages until the answer: a cycle of such asks (A asks B, B asks A) waits for the
   * ask timeout. See docs/entities.md, "Entities talking to entities".
   */
  entityRef<M extends object = object>(kind: string | EntityDefinition<any, M>, key: string): EntityRef<M>;
  /** The idempotency key the message carries, if any (docs/entities.md, "Idempotency keys"). */
  readonly idempotencyKey: string | undefined;
  /**
   * Sets (or replaces) the reminder `name`: `{ atMs }` once, `{ everyMs }` every so often from now,
   * `{ atMs, everyMs }` both. Persisted with the state, in the same write; the definition's
   * `onReminder` receives a `ReminderFired` when it falls due, even if this entity is passivated or its
   * node has died. Throws on a bad name or schedule, past the per-entity limit, or without `onReminder`.
   */
  remind(name: string, schedule: ReminderSchedule): void;
  /** Removes the reminder `name` (with the next write); false when there was none. */
  cancelReminder(name: string): boolean;
  /** When the reminder `name` is next due (the clock's ms), or undefined. */
  reminderDueAtMs(name: string): number | undefined;
}
