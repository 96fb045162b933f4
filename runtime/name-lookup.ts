import { addressFromWire, formatAddress, type Address } from "./address.js";
import { errorText } from "./actor-cell.js";
import { LookupReply, LookupRequest } from "./codec/wire-types.js";
import type { DeadLetters } from "./dead-letters.js";
import type { MembershipEvent } from "./membership/membership.js";
import type { Transport, Unsubscribe } from "./transport/transport.js";

/** Answers from nodes not (yet) seen alive, held per lookup until their node's heartbeat arrives. */
const MAX_UNCONFIRMED = 64;
/** Pauses between asking again while nobody hosts a name: 25 ms, doubling up to 200 ms. */
const FIRST_RETRY_MS = 25;
const MAX_RETRY_MS = 200;

export interface NameLookupHost {
  /** The system looked in: answers naming another one are refused. */
  readonly system: string;
  readonly transport: Transport;
  /** The name's lookup subject (`Subjects.actorName(name)`). */
  readonly subject: string;
  readonly deadLetters: DeadLetters;
  /**
   * Who is a live member, as this node's membership sees it; undefined when membership is off, and
   * then an answer from any node of the system is taken.
   */
  readonly membership: { isAlive(node: string): boolean; onEvent(listener: (event: MembershipEvent) => void): Unsubscribe } | undefined;
}

/**
 * Asks the host of `/user/<name>` for its address, on the name's own subject (`Subjects.actorName`),
 * where only nodes hosting the name listen (one queue group): one delivery, not one per node. Resolves
 * with the first answer that holds up, or undefined after `timeoutMs`. Anybody allowed to subscribe
 * there can answer too, so an answer counts only when it names this system, the path asked for, and a
 * node that is a live member. An answer naming a node not seen yet (one that started a moment ago)
 * waits for that node's heartbeat until the lookup times out. Every answer refused is a `forged-reply`
 * dead letter. While nobody hosts the name the request is repeated (backing off) until the timeout.
 */
export async function lookupOnOtherNodes(host: NameLookupHost, name: string, timeoutMs: number): Promise<Address | undefined> {
  const path = `/user/${name}`;
  const done = new AbortController();
  let found: Address | undefined;
  const unconfirmed = new Map<string, Address>();
  const accept = (address: Address): void => {
    found ??= address;
    done.abort();
  };
  const refuse = (detail: string, message?: object): void =>
    host.deadLetters.publish({ reason: "forged-reply", detail: `lookup of ${JSON.stringify(name)}: ${detail}`, subject: host.subject, type: message && "troupe.system.LookupReply", message });

  const onAnswer = (bytes: Uint8Array): void => {
    if (found !== undefined) return;
    let reply: LookupReply;
    try {
      reply = LookupReply.decode(bytes);
    } catch (error) {
      host.deadLetters.publish({ reason: "malformed-frame", detail: `lookup of ${JSON.stringify(name)}: answer is not a troupe.system.LookupReply: ${errorText(error)}`, subject: host.subject, bytes: bytes.slice(0, 256) });
      return;
    }
    const address = reply.found ? addressFromWire(reply.address) : undefined;
    if (address === undefined) return refuse("an answer without an address (a node that does not host the name stays silent)", reply);
    const where = formatAddress(address);
    if (address.system !== host.system) return refuse(`answer names ${where}, of another system than ${host.system}`, reply);
    if (address.path !== path) return refuse(`answer names ${where}, not ${path}`, reply);
    if (host.membership === undefined || host.membership.isAlive(address.node)) return accept(address);
    if (unconfirmed.has(address.node)) return refuse(`answer names ${where}, on a node that is not a live member`, reply);
    if (unconfirmed.size >= MAX_UNCONFIRMED) return refuse(`answer names ${where}, on a node that is not a live member (${MAX_UNCONFIRMED} such answers already wait)`, reply);
    unconfirmed.set(address.node, address);
  };

  const stopWatching = host.membership?.onEvent((event) => {
    if (event.type !== "joined" && event.type !== "restarted") return;
    const address = unconfirmed.get(event.node.node);
    if (address === undefined) return;
    unconfirmed.delete(event.node.node);
    accept(address);
  });
  try {
    const request = LookupRequest.encode({ name }).finish();
    if (host.transport.requestMany) {
      const deadline = Date.now() + timeoutMs;
      let pauseMs = FIRST_RETRY_MS;
      for (;;) {
        // Never 0: nats.js reads a zero wait as its default of a second.
        const leftMs = deadline - Date.now();
        if (leftMs < 1) break;
        await host.transport.requestMany(host.subject, request, { timeoutMs: leftMs, signal: done.signal }, onAnswer);
        // Ended early with nothing: nobody hosts the name yet (no responders), or its host's interest has not
        // reached this server of a cluster. Ask again, backing off, until the lookup's time is up.
        if (found !== undefined || done.signal.aborted || unconfirmed.size > 0 || Date.now() + pauseMs >= deadline) break;
        await aborted(done.signal, pauseMs);
        pauseMs = Math.min(2 * pauseMs, MAX_RETRY_MS);
      }
      if (found === undefined && unconfirmed.size > 0) await aborted(done.signal, deadline - Date.now());
    } else {
      // A transport that gives only the first answer: judge that one, then wait for its node if need be.
      const started = Date.now();
      try {
        onAnswer(await host.transport.request(host.subject, request, timeoutMs));
      } catch {
        // Nobody answered in time.
      }
      if (found === undefined && unconfirmed.size > 0) await aborted(done.signal, timeoutMs - (Date.now() - started));
    }
  } finally {
    stopWatching?.();
  }
  for (const address of unconfirmed.values()) {
    if (address !== found) refuse(`answer names ${formatAddress(address)}, on a node that did not become a live member within ${timeoutMs} ms`);
  }
  return found;
}

/** Resolves when `signal` aborts or after `ms`, whichever comes first. */
function aborted(signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
