import { addressFromWire, type Address } from "./address.js";
import { ActorRef, type MessageRouter } from "./actor-ref.js";
import protobuf from "protobufjs/minimal.js";
import { encodeFrame } from "./codec/frame-codec.js";
import { readFrame, type WireEnvelope } from "./codec/frame-reader.js";
import type { MessageType } from "./codec/message-type.js";
import { OTHER_COPY_HINT } from "./codec/protobuf-copy.js";
import type { TypeRegistry } from "./codec/type-registry.js";
import type { DeadLetterReason, DeadLetters } from "./dead-letters.js";
import { errorText } from "./actor-cell.js";
import { MessageTooLargeError } from "./errors.js";
import { FrameBatcher } from "./frame-batcher.js";
import type { Subjects } from "./subjects.js";
import type { InboundMessage, Transport } from "./transport/transport.js";

type Headers = Readonly<Record<string, string>> | undefined;

export interface EndpointHost {
  readonly nodeId: string;
  readonly name: string;
  readonly transport: Transport;
  readonly subjects: Subjects;
  readonly registry: TypeRegistry;
  readonly deadLetters: DeadLetters;
  readonly router: MessageRouter;
  refFor(address: Address): ActorRef<any>;
  deliverLocal(path: string, message: object, sender: ActorRef<any> | undefined, headers: Headers): void;
  /** Tells a waiting asker at once that its request cannot be handled. */
  failAsk(sender: ActorRef<any> | undefined, reason: DeadLetterReason, detail: string): void;
}

/** Largest batch frame: big enough to amortise a publish over hundreds of small messages. */
const MAX_BATCH_BYTES = 128 * 1024;

/** How much of an undecodable frame a dead letter keeps: enough to diagnose, bounded in memory. */
const KEPT_BYTES = 4096;

/**
 * The node's side of the wire: encodes messages for other nodes into frames on their inbox subject,
 * and turns frames arriving on this node's inbox into local deliveries. Whatever arrives, a bad frame
 * becomes a dead letter with its reason; nothing thrown here can reach the connection.
 */
export class RemoteEndpoint {
  readonly maxMessageBytes: number;

  private readonly batcher: FrameBatcher;

  constructor(
    private readonly host: EndpointHost,
    maxMessageBytes: number,
  ) {
    this.maxMessageBytes = Math.min(maxMessageBytes, host.transport.maxPayload);
    this.batcher = new FrameBatcher(
      (subject, data) => host.transport.publish(subject, data),
      (subject, envelopes, error) =>
        host.deadLetters.publish({ reason: "send-failed", detail: `${envelopes} message(s) to ${subject} not sent: ${errorText(error)}`, subject }),
      Math.min(this.maxMessageBytes, MAX_BATCH_BYTES),
      this.maxMessageBytes,
    );
  }

  /**
   * Encodes now (so UnregisteredTypeError and MessageTooLargeError reach the sender at once) and
   * publishes at the end of the turn, batched with other messages to the same node.
   */
  send(target: Address, message: object, sender: ActorRef<any> | undefined, headers: Headers): void {
    const registry = this.host.registry;
    const typeName = registry.requireName(message);
    const type = message.constructor as MessageType;
    const envelope = { target: target.path, typeName, type, message, sender: sender?.address, headers, otherProtobuf: registry.usesOtherProtobuf(type) };
    this.batcher.add(this.host.subjects.nodeInbox(target.node, target.system), envelope);
  }

  /** Publishes whatever is batched; called before the transport drains. */
  flush(): void {
    this.batcher.flush();
  }

  /** Publishes a one-envelope frame to a plain NATS reply subject (a client outside Troupe asked). */
  sendToSubject(subject: string, message: object, sender: ActorRef<any> | undefined): void {
    const typeName = this.host.registry.requireName(message);
    const type = message.constructor as MessageType;
    const frame = encodeFrame([{ target: "", typeName, type, message, sender: sender?.address, headers: undefined, otherProtobuf: this.host.registry.usesOtherProtobuf(type) }]);
    if (frame.length > this.maxMessageBytes) throw new MessageTooLargeError(typeName, frame.length, this.maxMessageBytes);
    this.host.transport.publish(subject, frame);
  }

  readonly onFrame = (inbound: InboundMessage): void => {
    const { data } = inbound;
    if (data.length > this.maxMessageBytes) {
      this.dead("oversized", `frame of ${data.length} bytes exceeds maxMessageBytes ${this.maxMessageBytes}`, inbound);
      return;
    }
    let envelopes: readonly WireEnvelope[];
    try {
      envelopes = readFrame(data);
    } catch (error) {
      this.dead("malformed-frame", `not a troupe.wire.Frame: ${errorText(error)}`, inbound);
      return;
    }
    if (envelopes.length === 0) {
      this.dead("malformed-frame", "frame carries no envelopes", inbound);
      return;
    }
    // Payloads are decoded straight from the frame, through one reader.
    const reader = protobuf.Reader.create(data);
    for (const envelope of envelopes) {
      try {
        this.deliverEnvelope(envelope, reader, inbound);
      } catch (error) {
        this.host.deadLetters.publish({ reason: "malformed-frame", detail: `cannot deliver envelope: ${errorText(error)}`, subject: inbound.subject, type: envelope.type });
      }
    }
  };

  private deliverEnvelope(envelope: WireEnvelope, reader: protobuf.Reader, inbound: InboundMessage): void {
    const { type: typeName, target: path } = envelope;
    const senderAddress = addressFromWire(envelope.sender);
    const sender = senderAddress
      ? this.host.refFor(senderAddress)
      : inbound.reply
        ? new ReplySubjectRef(this, inbound.reply, this.host.name, this.host.router)
        : undefined;
    const type = this.host.registry.typeNamed(typeName);
    if (type === undefined) {
      const detail = `type ${JSON.stringify(typeName)} is not registered on node ${this.host.nodeId}`;
      this.host.failAsk(sender, "unknown-type", detail);
      this.deadEnvelope("unknown-type", detail, envelope, sender, inbound);
      return;
    }
    const otherProtobuf = this.host.registry.usesOtherProtobuf(type);
    let message: object;
    try {
      if (otherProtobuf) {
        // Its decode takes only its own copy's Reader; a view of the payload becomes one.
        message = type.decode(inbound.data.subarray(envelope.payloadStart, envelope.payloadEnd));
      } else {
        // A decode that threw leaves the reader's end at the failed payload's: reset both.
        reader.pos = envelope.payloadStart;
        reader.len = inbound.data.length;
        message = type.decode(reader, envelope.payloadEnd - envelope.payloadStart);
        if (reader.pos !== envelope.payloadEnd) throw new RangeError("a field runs past the end of the payload");
      }
    } catch (error) {
      const detail = `payload does not decode as ${typeName}: ${errorText(error)}${otherProtobuf ? ` (${OTHER_COPY_HINT})` : ""}`;
      this.host.failAsk(sender, "malformed-payload", detail);
      this.deadEnvelope("malformed-payload", detail, envelope, sender, inbound);
      return;
    }
    this.host.deliverLocal(path, message, sender, envelope.headers);
  }

  private deadEnvelope(reason: "unknown-type" | "malformed-payload", detail: string, envelope: WireEnvelope, sender: ActorRef<any> | undefined, inbound: InboundMessage): void {
    this.host.deadLetters.publish({
      reason,
      detail,
      target: { system: this.host.name, node: this.host.nodeId, path: envelope.target },
      sender: sender?.address,
      type: envelope.type,
      bytes: inbound.data.slice(envelope.payloadStart, envelope.payloadEnd),
      subject: inbound.subject,
    });
  }

  private dead(reason: "oversized" | "malformed-frame", detail: string, inbound: InboundMessage): void {
    this.host.deadLetters.publish({ reason, detail, subject: inbound.subject, bytes: inbound.data.slice(0, KEPT_BYTES) });
  }
}

/** The sender of a request from a plain NATS client: replying publishes to its reply subject. */
class ReplySubjectRef extends ActorRef<object> {
  constructor(
    private readonly endpoint: RemoteEndpoint,
    private readonly subject: string,
    system: string,
    router: MessageRouter,
  ) {
    super({ system, node: "", path: `/reply/${subject}` }, router);
  }

  override tell(message: object, sender?: ActorRef<any>): void {
    this.endpoint.sendToSubject(this.subject, message, sender);
  }
}
