import type { ActorRef } from "../actor-ref.js";
import type { Clock } from "../clock.js";
import type { troupe } from "../../proto/gen/troupe.js";
import type { ActivationReminders } from "./activation-reminders.js";
import { IDEMPOTENCY_KEY_HEADER, idempotencyKeyOf } from "./applied-keys.js";
import type { ActivationHost, Mail } from "./activation-host.js";
import type { EntityContext } from "./entity-context.js";
import type { EntityDefinition } from "./entity-definition.js";
import { EntityRef, type EntitySendOptions } from "./entity-ref.js";
import type { ReminderSchedule } from "./entity-reminders.js";

/**
 * The context of one handler call: one object per message, its methods on the prototype (as an
 * actor's context is), where a context of closures cost about ten allocations a message. What the
 * handler sends waits in `outputs`, which join the activation's batch only if the handler returns;
 * `firstReply` and `remindersBefore` tell the activation what the handler did.
 */
export class HandlerContext implements EntityContext<any> {
  readonly outputs: (() => void)[] = [];
  /** The first reply, stored with the idempotency key. */
  firstReply: object | undefined;
  /** The reminders as they were before the handler first changed them: a throw restores them. */
  remindersBefore: troupe.entity.IReminder[] | undefined;

  constructor(
    private readonly definition: EntityDefinition,
    readonly key: string,
    private readonly host: ActivationHost,
    private readonly reminders: ActivationReminders,
    private readonly mail: Mail,
    readonly idempotencyKey: string | undefined,
  ) {}

  get kind(): string {
    return this.definition.kind;
  }

  get self(): EntityRef<any> {
    return this.host.self;
  }

  get sender(): ActorRef<any> | undefined {
    return this.mail.sender;
  }

  get headers(): Readonly<Record<string, string>> | undefined {
    return this.mail.headers;
  }

  get clock(): Clock {
    return this.host.clock;
  }

  get nodeId(): string {
    return this.host.nodeId;
  }

  reply(message: object): void {
    this.firstReply ??= message;
    const { host, mail } = this;
    const to = mail.sender;
    if (to !== undefined) this.outputs.push(() => to.tell(message, host.replyAs(mail)));
  }

  tell(target: ActorRef<any> | EntityRef<any>, message: object, options?: EntitySendOptions): void {
    // A bad key throws in the handler, not later in a held send where nobody would see it.
    if (options?.idempotencyKey !== undefined) idempotencyKeyOf({ [IDEMPOTENCY_KEY_HEADER]: options.idempotencyKey });
    const from = this.host.address;
    this.outputs.push(() => (target instanceof EntityRef ? target.tell(message, from, options) : target.tell(message, from)));
  }

  entityRef<M extends object = object>(kind: string | EntityDefinition<any, M>, key: string): EntityRef<M> {
    return this.host.entityRef(kind, key);
  }

  remind(name: string, schedule: ReminderSchedule): void {
    if (this.definition.onReminder === undefined) throw new TypeError(`entity kind ${this.definition.kind} has no onReminder handler: define one to use ctx.remind`);
    this.remindersBefore ??= this.reminders.toRecord();
    this.reminders.remind(name, schedule);
  }

  cancelReminder(name: string): boolean {
    if (this.reminders.dueAtMs(name) === undefined) return false;
    this.remindersBefore ??= this.reminders.toRecord();
    return this.reminders.cancel(name);
  }

  reminderDueAtMs(name: string): number | undefined {
    return this.reminders.dueAtMs(name);
  }
}
