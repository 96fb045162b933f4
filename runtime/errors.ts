import { formatAddress, type Address } from "./address.js";

/** An ask got no reply within its timeout. */
export class AskTimeoutError extends Error {
  override readonly name = "AskTimeoutError";
  constructor(
    readonly target: Address,
    readonly messageType: string,
    readonly timeoutMs: number,
  ) {
    super(`ask ${messageType} to ${formatAddress(target)} got no reply within ${timeoutMs} ms`);
  }
}

/** The target of an ask answered with a failure instead of a reply: it does not exist, stopped or threw. */
export class AskFailedError extends Error {
  override readonly name = "AskFailedError";
  constructor(
    readonly target: Address,
    readonly reason: string,
    detail: string,
  ) {
    super(`ask to ${formatAddress(target)} failed (${reason}): ${detail}`);
  }
}

/** A reply arrived, but not of the type the asker said it expects. */
export class UnexpectedReplyError extends Error {
  override readonly name = "UnexpectedReplyError";
  constructor(
    readonly target: Address,
    readonly expected: string,
    readonly received: string,
  ) {
    super(`ask to ${formatAddress(target)} expected a ${expected} reply but received ${received}`);
  }
}

/** The encoded message is larger than the system's `maxMessageBytes`. Nothing was sent. */
export class MessageTooLargeError extends Error {
  override readonly name = "MessageTooLargeError";
  constructor(
    readonly messageType: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(
      `${messageType} encodes to ${bytes} bytes, over the limit of ${maxBytes} bytes ` +
        `(raise maxMessageBytes and the NATS server's max_payload, or send a reference to the data instead)`,
    );
  }
}

/** A message's class is not in the system's type registry, so it cannot cross the wire. */
export class UnregisteredTypeError extends Error {
  override readonly name = "UnregisteredTypeError";
  constructor(what: string) {
    super(
      `${what} is not a registered protobuf message type: pass its generated class in ` +
        `ActorSystem.start({ types }) or system.registry.register(...)`,
    );
  }
}

/** The transport could not be reached or was closed; the message names the server without credentials. */
export class TransportError extends Error {
  override readonly name = "TransportError";
}

/** The system has shut down (or is shutting down) and no longer accepts work. */
export class SystemStoppedError extends Error {
  override readonly name = "SystemStoppedError";
}
