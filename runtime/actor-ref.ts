import { formatAddress, sameAddress, type Address } from "./address.js";
import type { MessageType } from "./codec/message-type.js";

/** Sends messages on behalf of refs; the actor system implements it. */
export interface MessageRouter {
  deliver(target: ActorRef<any>, message: object, sender: ActorRef<any> | undefined, headers?: Readonly<Record<string, string>>): void;
  ask<R extends object>(target: ActorRef<any>, message: object, replyType: MessageType<R>, timeoutMs: number | undefined, headers?: Readonly<Record<string, string>>): Promise<R>;
}

/** Where a ref delivers directly when its actor lives on this node: skips the network and serialisation. */
export interface LocalTarget {
  readonly isTerminated: boolean;
  enqueue(message: object, sender: ActorRef<any> | undefined, headers: Readonly<Record<string, string>> | undefined): void;
}

export interface AskOptions {
  /** Reject with an AskTimeoutError after this long. Default: the system's `askTimeoutMs` (5000 ms). */
  readonly timeoutMs?: number;
}

/**
 * A handle to a running actor, local or remote: the only way to reach it. `M` is the union of
 * messages it accepts. A ref is its address plus the node that uses it; `toJSON()` gives the address,
 * which any node turns back into a ref with `system.refFor(address)`.
 */
export class ActorRef<M extends object = object> {
  /** @internal */
  local: LocalTarget | undefined;

  constructor(
    readonly address: Address,
    private readonly router: MessageRouter,
    local?: LocalTarget,
  ) {
    this.local = local;
  }

  /** Fire-and-forget. Messages from one sender to one actor arrive in the order they were sent. */
  tell(message: M, sender?: ActorRef<any>): void {
    const local = this.local;
    if (local !== undefined && !local.isTerminated) local.enqueue(message, sender, undefined);
    else this.router.deliver(this, message, sender);
  }

  /**
   * Sends `message` and resolves with the reply, which must be a `replyType`. Rejects with
   * AskTimeoutError, AskFailedError (target missing, stopped or failed) or UnexpectedReplyError.
   */
  ask<T extends MessageType<any>>(message: M, replyType: T, options?: AskOptions): Promise<InstanceType<T>> {
    return this.router.ask(this, message, replyType, options?.timeoutMs) as Promise<InstanceType<T>>;
  }

  equals(other: ActorRef<any> | undefined): boolean {
    return other !== undefined && sameAddress(this.address, other.address);
  }

  /** The address, e.g. for JSON or for a `troupe.ActorAddress` field. */
  toJSON(): Address {
    return this.address;
  }

  toString(): string {
    return formatAddress(this.address);
  }
}
