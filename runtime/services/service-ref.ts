import { ActorRef, type AskOptions, type MessageRouter } from "../actor-ref.js";
import { encodeFrame } from "../codec/frame-codec.js";
import type { MessageType } from "../codec/message-type.js";
import type { TypeRegistry } from "../codec/type-registry.js";
import { Failure, Frame } from "../codec/wire-types.js";
import { AskFailedError, AskTimeoutError, MessageTooLargeError, SystemStoppedError, UnexpectedReplyError } from "../errors.js";
import type { Transport } from "../transport/transport.js";

/** What a service ref needs from its node. */
export interface ServiceRefHost {
  readonly name: string;
  readonly transport: Transport;
  readonly registry: TypeRegistry;
  readonly router: MessageRouter;
  readonly maxMessageBytes: number;
  readonly askTimeoutMs: number;
  readonly stopping: () => boolean;
}

/**
 * A ref for a service (`system.serviceRef(name)`): one subject that a NATS queue group of nodes serves.
 * A tell is one frame published there; an ask is a plain NATS request carrying one, answered on the
 * request's reply subject by whichever member NATS handed it to, exactly as a client in another
 * language calls the service (docs/wire.md, "Services"). No address names the member beforehand, so
 * the answer is trusted as any NATS request's is: it arrives on this connection's private inbox.
 */
export class ServiceRef<M extends object = object> extends ActorRef<M> {
  constructor(
    private readonly host: ServiceRefHost,
    readonly service: string,
    readonly subject: string,
  ) {
    super({ system: host.name, node: "", path: `/service/${service}` }, host.router);
  }

  /** A frame on the service's subject; `sender` (an actor) is where a member's replies go. */
  override tell(message: M, sender?: ActorRef<any>): void {
    if (this.host.stopping()) throw new SystemStoppedError(`node is shutting down; cannot tell service ${this.service}`);
    this.host.transport.publish(this.subject, this.frame(message, sender));
  }

  override ask<T extends MessageType<any>>(message: M, replyType: T, options?: AskOptions): Promise<InstanceType<T>> {
    return this.request(message, replyType, options?.timeoutMs ?? this.host.askTimeoutMs) as Promise<InstanceType<T>>;
  }

  private async request(message: M, replyType: MessageType, timeoutMs: number): Promise<object> {
    if (this.host.stopping()) throw new SystemStoppedError(`node is shutting down; cannot ask service ${this.service}`);
    const registry = this.host.registry;
    registry.register(replyType);
    const frame = this.frame(message, undefined);
    let bytes: Uint8Array;
    try {
      bytes = await this.host.transport.request(this.subject, frame, timeoutMs);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      if (/no responders|503/i.test(text)) throw new AskFailedError(this.address, "no-responders", `no node serves ${this.service} (${this.subject})`);
      if (/time(d)? ?out/i.test(text)) throw new AskTimeoutError(this.address, registry.requireName(message), timeoutMs);
      throw error;
    }
    const envelope = Frame.decode(bytes).envelopes[0];
    const typeName = envelope?.type ?? "";
    const type = registry.typeNamed(typeName);
    if (envelope === undefined || type === undefined) throw new UnexpectedReplyError(this.address, registry.nameOfType(replyType), typeName || "an empty frame");
    const reply = type.decode(envelope.payload ?? new Uint8Array());
    if (reply instanceof replyType) return reply;
    if (reply instanceof Failure) throw new AskFailedError(this.address, reply.reason, reply.message);
    throw new UnexpectedReplyError(this.address, registry.nameOfType(replyType), typeName);
  }

  private frame(message: M, sender: ActorRef<any> | undefined): Uint8Array {
    const registry = this.host.registry;
    const typeName = registry.requireName(message);
    const type = message.constructor as MessageType;
    const frame = encodeFrame([{ target: this.service, typeName, type, message, sender: sender?.address, headers: undefined, otherProtobuf: registry.usesOtherProtobuf(type) }]);
    if (frame.length > this.host.maxMessageBytes) throw new MessageTooLargeError(typeName, frame.length, this.host.maxMessageBytes);
    return frame;
  }
}
