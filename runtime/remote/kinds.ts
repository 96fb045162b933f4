import type { ActorDefinition } from "../actor-definition.js";
import type { MessageType } from "../codec/message-type.js";
import type { MailboxOptions } from "../mailbox.js";
import type { SupervisorSpec } from "../supervision/supervisor-spec.js";

/** How a node runs the children of a kind that other nodes spawn on it. */
export interface KindOptions {
  /** The protobuf class of the props spawners send, so this node can decode them. */
  readonly props?: MessageType;
  readonly mailbox?: MailboxOptions;
  readonly supervisor?: SupervisorSpec;
}

export interface KindRegistration {
  readonly definition: ActorDefinition<any, any, any>;
  readonly options: KindOptions;
}

/** The actor kinds a node hosts for others: spawn requests name a kind, never code. */
export class Kinds {
  private readonly byName = new Map<string, KindRegistration>();

  register(definition: ActorDefinition<any, any, any>, options: KindOptions = {}): void {
    const kind = definition.kind;
    if (kind === undefined) throw new TypeError("registerKind: the definition needs a `kind` name (defineActor({ kind: ... }))");
    const existing = this.byName.get(kind);
    if (existing !== undefined && existing.definition !== definition) throw new Error(`actor kind ${JSON.stringify(kind)} is already registered with another definition`);
    this.byName.set(kind, { definition, options });
  }

  get(kind: string): KindRegistration | undefined {
    return this.byName.get(kind);
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }
}
