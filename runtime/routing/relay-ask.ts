import type { ActorRef, MessageRouter } from "../actor-ref.js";
import type { MessageType } from "../codec/message-type.js";
import type { PendingAsks } from "../pending-asks.js";

/** Takes whatever the asked actor answers, a `Failure` included: a router passes it on as it is. */
class AnyReply {
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null;
  }
}

/**
 * Sends `message` to `target` as an ask of this node and resolves with its answer, whatever its type:
 * the answer still has to come from `target` (or a Failure from its node), as any ask's does. A router
 * relays it to the original asker in its own name, which that asker's reply check accepts.
 */
export function relayAsk(
  asks: PendingAsks,
  target: ActorRef<any>,
  message: object,
  timeoutMs: number,
  requestName: string,
  replyTo: (path: string) => ActorRef<any>,
  withHeaders?: { readonly router: MessageRouter; readonly headers: Readonly<Record<string, string>> },
): Promise<object> {
  const { path, reply } = asks.open(target.address, requestName, AnyReply as unknown as MessageType<object>, "any reply", timeoutMs);
  try {
    if (withHeaders === undefined) target.tell(message, replyTo(path));
    else withHeaders.router.deliver(target, message, replyTo(path), withHeaders.headers);
  } catch (error) {
    asks.abandon(path, error as Error);
  }
  return reply;
}

/** An ask (a temporary path) or a plain NATS requester: they take a Failure as the answer. */
export function isAsker(sender: ActorRef<any>): boolean {
  const path = sender.address.path;
  return path.startsWith("/temp/") || path.startsWith("/reply/");
}
