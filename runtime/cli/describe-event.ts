import type { SystemEvent } from "../actor-system.js";
import type { TransportEvent } from "../transport/transport.js";
import { printable } from "../printable.js";

/** One line for an operator about something a node noticed; what came from the wire is escaped. */
export function describeEvent(event: SystemEvent): string {
  return printable(describeRaw(event));
}

function describeRaw(event: SystemEvent): string {
  switch (event.type) {
    case "transport":
      return `nats: ${describeTransportEvent(event.event)}`;
    case "actor-failed":
      return `actor ${event.path} failed (${event.directive}): ${String(event.error)}`;
    case "supervision":
      return `supervisor: ${event.directive} ${event.path}${event.delayMs > 0 ? ` in ${event.delayMs} ms` : ""} after ${String(event.error)}`;
    case "membership":
      return `membership: node ${event.event.node.node} ${event.event.type}`;
  }
}

function describeTransportEvent(event: TransportEvent): string {
  switch (event.type) {
    case "disconnect":
    case "reconnect":
      return `${event.type} ${event.server}`;
    case "error":
      return `error: ${event.error.message}`;
    case "slow-consumer":
      return `slow consumer on ${event.subject} (${event.pending} pending)`;
    case "callback-failed":
      return `a callback for ${event.subject} threw (${event.failures} so far): ${event.error.message}`;
    case "closed":
      return event.error ? `closed: ${event.error.message}` : "closed";
    default:
      return event.type;
  }
}
