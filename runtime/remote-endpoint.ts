import { addressFromWire, type Address } from "./address.js";
import { ActorRef, type MessageRouter } from "./actor-ref.js";
import protobuf from "protobufjs/minimal.js";
import { encodeFrame } from "./codec/frame-codec.js";
import { readFrameWithin, type HeadersOverLimit, type WireEnvelope } from "./codec/frame-reader.js";
import { frameLimits, type FrameLimits } from "./codec/frame-limits.js";
import type { MessageType } from "./codec/message-type.js";
import { OTHER_COPY_HINT } from "./codec/protobuf-copy.js";
import { TRACE_CONTEXT, isNoIdsIn, isTraceContextIn } from "./codec/trace-context.js";
import type { TypeRegistry } from "./codec/type-registry.js";
import { Failure } from "./codec/wire-types.js";
import { isControlMessageType } from "./codec/system-messages.js";
import type { DeadLetterReason, DeadLetters } from "./dead-letters.js";
import { errorText } from "./actor-cell.js";
import { MessageTooLargeError } from "./errors.js";
import { FrameBatcher } from "./frame-batcher.js";
import type { Subjects } from "./subjects.js";
import type { SendDestination, Tracing } from "./tracing/tracing.js";
import type { InboundMessage, Transport } from "./transport/transport.js";
import type { NodeStats } from "./stats/node-stats.js";

type Headers = Readonly<Record<string, string>> | undefined;

export interface EndpointHost {
  readonly nodeId: string;
  /** Undefined when this node traces nothing: then a trace context that arrives costs nothing. */
  readonly tracing: Pick<Tracing, "received" | "receivedWithoutIds"> | undefined;
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
  /** The node's counters, when metrics are on: envelopes sent and received. */
  readonly stats?: NodeStats | undefined;
}

/** Where a service's frames go on this node. */
interface ServiceTarget {
  readonly service: string;
  /** The path of the local actor that takes the next message. */
  readonly pick: () => string;
}

/** Largest batch frame: big enough to amortise a publish over hundreds of small messages. */
const MAX_BATCH_BYTES = 128 * 1024;

/**
 * The node's side of the wire: encodes messages for other nodes into frames on their inbox subject,
 * and turns frames arriving on this node's inbox into local deliveries. Whatever arrives, a bad frame
 * becomes a dead letter with its reason; nothing thrown here can reach the connection. Reading a
 * frame costs at most `limits` allow, and one frame gets at most one Failure on its reply subject.
 */
export class RemoteEndpoint {
  readonly maxMessageBytes: number;
  readonly limits: Required<FrameLimits>;
  /** Envelopes whose binary trace context was malformed (wrong length or layout, an all-zero id): ignored, as if absent. */
  ignoredTraceContexts = 0;

  private readonly batcher: FrameBatcher;
  private readonly stats: NodeStats | undefined;

  constructor(
    private readonly host: EndpointHost,
    maxMessageBytes: number,
    limits: FrameLimits = {},
  ) {
    this.maxMessageBytes = Math.min(maxMessageBytes, host.transport.maxPayload);
    this.limits = frameLimits(limits);
    this.stats = host.stats;
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
  send(target: Address, message: object, sender: ActorRef<any> | undefined, headers: Headers): number {
    const registry = this.host.registry;
    const typeName = registry.requireName(message);
    const type = message.constructor as MessageType;
    const envelope = { target: target.path, typeName, type, message, sender: sender?.address, headers, otherProtobuf: registry.usesOtherProtobuf(type) };
    const inboxes = this.host.subjects.inboxesOf(target.node, target.system);
    const payloadBytes = isControlMessageType(type) ? this.batcher.add(inboxes.control, envelope, inboxes.data) : this.batcher.add(inboxes.data, envelope, inboxes.control);
    // Once encoded and batched (a send that throws is not one).
    if (this.stats !== undefined) this.stats.sent++;
    return payloadBytes;
  }

  /** Where a message to `target` travels, as a span names it: the subject, and its template across nodes. */
  destinationFor(target: Address, message: object): SendDestination {
    const inboxes = this.host.subjects.inboxesOf(target.node, target.system);
    return isControlMessageType(message.constructor) ? { name: inboxes.control, template: inboxes.controlTemplate } : { name: inboxes.data, template: inboxes.dataTemplate };
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

  /** Frames on the node's data inbox: actor messages only. */
  readonly onDataFrame = (inbound: InboundMessage): void => this.onFrame(inbound, false);

  /** Frames on the node's control inbox: control messages only. */
  readonly onControlFrame = (inbound: InboundMessage): void => this.onFrame(inbound, true);

  /**
   * Frames on a service's queue-group subject: each envelope goes to the local actor `pick()` names,
   * whatever node the sender addressed; `target` must be empty or the service's name.
   */
  serviceFrames(service: string, pick: () => string): (inbound: InboundMessage) => void {
    return (inbound) => this.onFrame(inbound, false, { service, pick });
  }

  private onFrame(inbound: InboundMessage, controlPlane: boolean, service?: ServiceTarget): void {
    const { data } = inbound;
    if (data.length > this.maxMessageBytes) {
      this.dead("oversized", `frame of ${data.length} bytes exceeds maxMessageBytes ${this.maxMessageBytes}`, inbound);
      return;
    }
    let envelopes: readonly WireEnvelope[];
    let unreadBytes: number;
    try {
      ({ envelopes, unreadBytes } = readFrameWithin(data, this.limits));
    } catch (error) {
      this.dead("malformed-frame", `not a troupe.wire.Frame: ${errorText(error)}`, inbound);
      return;
    }
    if (envelopes.length === 0) {
      this.dead("malformed-frame", "frame carries no envelopes", inbound);
      return;
    }
    if (this.stats !== undefined) this.stats.consumed += envelopes.length;
    if (inbound.reply && !this.host.subjects.answersTo(inbound.reply)) {
      // Answering would publish into a system's own subjects on the requester's behalf (allow_responses).
      const detail = `frame asks for answers on ${inbound.reply}, inside ${this.host.subjects.prefix}'s subjects but not a request inbox of system ${this.host.name}: not delivered`;
      this.dead("forbidden-reply-subject", detail, inbound);
      return;
    }
    // Payloads are decoded straight from the frame, through one reader.
    const reader = protobuf.Reader.create(data);
    // Envelopes without a sender are answered on the frame's reply subject, through one ref per frame.
    const replyTo = inbound.reply ? new ReplySubjectRef(this, inbound.reply, this.host.name, this.host.router) : undefined;
    for (const envelope of envelopes) {
      try {
        this.deliverEnvelope(envelope, reader, inbound, replyTo, controlPlane, service);
      } catch (error) {
        this.host.deadLetters.publish({ reason: "malformed-frame", detail: `cannot deliver envelope: ${errorText(error)}`, subject: inbound.subject, type: envelope.type });
      }
    }
    if (unreadBytes > 0) {
      // After the envelopes' own letters, so that it is the newest in `recent()`.
      this.host.deadLetters.limitHit("maxFrameEnvelopes");
      const detail = `frame holds more than maxFrameEnvelopes ${this.limits.maxFrameEnvelopes} envelopes: the last ${unreadBytes} of its ${data.length} bytes were not read`;
      this.host.deadLetters.publish({ reason: "too-many-envelopes", detail, subject: inbound.subject, bytes: data.subarray(data.length - unreadBytes), size: unreadBytes });
    }
  }

  private deliverEnvelope(envelope: WireEnvelope, reader: protobuf.Reader, inbound: InboundMessage, replyTo: ReplySubjectRef | undefined, controlPlane: boolean, service: ServiceTarget | undefined): void {
    const { type: typeName, target: path } = envelope;
    const senderAddress = addressFromWire(envelope.sender);
    const sender = senderAddress ? this.host.refFor(senderAddress) : replyTo;
    if (envelope.headersOverLimit !== undefined) return this.refuseHeaders(envelope, envelope.headersOverLimit, sender, inbound);
    if (service !== undefined && path !== "" && path !== service.service) {
      const detail = `a frame on the subject of service ${service.service} names target ${JSON.stringify(path)}: leave it empty or name the service`;
      this.host.failAsk(sender, "unknown-target", detail);
      this.host.deadLetters.publish({ reason: "unknown-target", detail, subject: inbound.subject, sender: sender?.address, type: typeName });
      return;
    }
    const type = this.host.registry.typeNamed(typeName);
    if (type === undefined) {
      const detail = `type ${JSON.stringify(typeName)} is not registered on node ${this.host.nodeId}`;
      this.host.failAsk(sender, "unknown-type", detail);
      this.deadEnvelope("unknown-type", detail, envelope, sender, inbound);
      return;
    }
    if (isControlMessageType(type) !== controlPlane) {
      // Permissions give clients the data plane only: control messages there are refused unread.
      const detail = controlPlane
        ? `${typeName} is an actor message: it belongs on the data inbox ${this.host.subjects.nodeInbox(this.host.nodeId)}, not the control inbox`
        : `${typeName} is a control message: only the control inbox ${this.host.subjects.controlInbox(this.host.nodeId)} takes it`;
      this.host.failAsk(sender, "wrong-plane", detail);
      this.deadEnvelope("wrong-plane", detail, envelope, sender, inbound);
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
    this.host.deliverLocal(service === undefined ? path : service.pick(), message, sender, this.headersOf(envelope, inbound.data));
  }

  /** The envelope's headers, with its binary trace context (`Tracing.received`) under `TRACE_CONTEXT`. */
  private headersOf(envelope: WireEnvelope, frame: Uint8Array): Headers {
    const { traceContextStart: start, traceContextEnd: end, headers } = envelope;
    const tracing = this.host.tracing;
    if (start < 0 || tracing === undefined) return headers;
    if (isNoIdsIn(frame, start, end)) return tracing.receivedWithoutIds(headers);
    if (!isTraceContextIn(frame, start, end)) {
      this.ignoredTraceContexts++;
      if (this.stats !== undefined) this.stats.ignoredTraceContexts++;
      return headers;
    }
    const traceContext = tracing.received(frame, start, headers);
    if (headers === undefined) return { [TRACE_CONTEXT]: traceContext };
    // The reader's own object, made for this envelope.
    (headers as Record<symbol, unknown>)[TRACE_CONTEXT] = traceContext;
    return headers;
  }

  private refuseHeaders(envelope: WireEnvelope, over: HeadersOverLimit, sender: ActorRef<any> | undefined, inbound: InboundMessage): void {
    this.host.deadLetters.limitHit(over.limit);
    const detail = `envelope carries ${over.count} headers (${over.bytes} bytes); ${over.limit} is ${this.limits[over.limit]}`;
    this.host.failAsk(sender, "headers-over-limit", detail);
    this.deadEnvelope("headers-over-limit", detail, envelope, sender, inbound);
  }

  private deadEnvelope(reason: "unknown-type" | "malformed-payload" | "headers-over-limit" | "wrong-plane", detail: string, envelope: WireEnvelope, sender: ActorRef<any> | undefined, inbound: InboundMessage): void {
    this.host.deadLetters.publish({
      reason,
      detail,
      target: { system: this.host.name, node: this.host.nodeId, path: envelope.target },
      sender: sender?.address,
      type: envelope.type,
      // A view: the dead letters copy what they keep (at most maxDeadLetterKeptBytes).
      bytes: inbound.data.subarray(envelope.payloadStart, envelope.payloadEnd),
      subject: inbound.subject,
    });
  }

  private dead(reason: "oversized" | "malformed-frame" | "forbidden-reply-subject", detail: string, inbound: InboundMessage): void {
    this.host.deadLetters.publish({ reason, detail, subject: inbound.subject, bytes: inbound.data });
  }

  /** Counts a Failure that one frame's reply subject does not get, as it had one already. @internal */
  failureNotAnswered(): void {
    this.host.deadLetters.limitHit("failureAnswersPerFrame");
  }
}

/**
 * The sender of the requests of one frame from a plain NATS client: replying publishes to its reply
 * subject. Replies from actors all go out; of the Failures the node answers with (now or later, as a
 * mailbox overflows or a handler throws), only the first: one frame must not make the node publish
 * thousands of messages to a subject of the sender's choosing. The others are counted.
 */
class ReplySubjectRef extends ActorRef<object> {
  private failureSent = false;

  constructor(
    private readonly endpoint: RemoteEndpoint,
    private readonly subject: string,
    system: string,
    router: MessageRouter,
  ) {
    super({ system, node: "", path: `/reply/${subject}` }, router);
  }

  override tell(message: object, sender?: ActorRef<any>): void {
    if (message.constructor === Failure) {
      if (this.failureSent) return this.endpoint.failureNotAnswered();
      this.failureSent = true;
    }
    this.endpoint.sendToSubject(this.subject, message, sender);
  }
}
