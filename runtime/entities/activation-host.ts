import type { ActorRef } from "../actor-ref.js";
import type { Clock } from "../clock.js";
import type { StateStore } from "../state/state-store.js";
import type { IdempotencyWindow } from "./applied-keys.js";
import type { EntityActivation } from "./entity-activation.js";
import type { EntityDefinition } from "./entity-definition.js";
import type { EntityRef } from "./entity-ref.js";
import type { ReminderRetry } from "./entity-reminders.js";
import type { ReminderIndex } from "./reminder-index.js";

/** One message for an entity, as it arrived on this node. */
export interface Mail {
  readonly message: object;
  readonly sender: ActorRef<any> | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
}

/** What an activation needs from its node. */
export interface ActivationHost {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly store: StateStore;
  /** `<prefix>/<kind>/<key>` */
  readonly storeKey: string;
  /** At most one write per this long (GCS takes about one write per second per object); 0 = as soon as the last lands. */
  readonly writeEveryMs: number;
  /** Replies and tells leave as soon as the handler returns; the write follows (at most one per `writeEveryMs`). */
  readonly writeBehind: boolean;
  readonly idempotency: Required<IdempotencyWindow>;
  readonly maxRemindersPerEntity: number;
  /** Backoff for a reminder whose `onReminder` threw. */
  readonly reminderRetry: ReminderRetry;
  /** The kind's reminder index; undefined when the kind has no `onReminder`. */
  readonly reminderIndex: ReminderIndex | undefined;
  /** A reply as stored with its idempotency key: its type name and bytes; undefined when it cannot be encoded. */
  encodeReply(message: object): { readonly type: string; readonly bytes: Uint8Array } | undefined;
  /** A stored reply, decoded again; undefined when its type is unknown here. */
  decodeReply(type: string, bytes: Uint8Array): object | undefined;
  readonly self: EntityRef<any>;
  /** A ref to any entity of the system (a definition also registers its message types). */
  entityRef<M extends object>(kind: string | EntityDefinition<any, M>, key: string): EntityRef<M>;
  /** This copy's own address, the sender of what it tells. */
  readonly address: ActorRef<any>;
  /** In whose name a reply to `mail` goes: the address its asker asked. */
  replyAs(mail: Mail): ActorRef<any>;
  isAsk(mail: Mail): boolean;
  failAsk(mail: Mail, reason: "fenced" | "handler-failed" | "unhandled" | "activation-failed" | "invalid-idempotency-key" | "unknown-type" | "already-applied" | "unwritten", detail: string): void;
  /** A dead letter for `mail`, with no Failure (its asker was answered already). */
  lost(mail: Mail, reason: "unwritten", detail: string): void;
  /** Most messages one copy holds (received, not yet processed or written); past it one is refused. */
  readonly maxQueued: number;
  /** Most bytes (by `approximateBytes`) of messages one copy holds; past it one is refused. */
  readonly maxQueuedBytes: number;
  /** Sends mail on to the owner this node computes now. */
  forward(mail: readonly Mail[]): void;
  /** This copy lost its generation; `detail` says what became of its mail. */
  fenced(detail: string): void;
  /** This copy is gone from memory (passivated, moved or fenced). */
  retired(activation: EntityActivation): void;
}

/** Why a copy refused a message: the limit it is at, and words for the dead letter. */
export interface Refusal {
  readonly limit: "maxQueuedPerEntity" | "maxQueuedBytesPerEntity";
  readonly detail: string;
}
