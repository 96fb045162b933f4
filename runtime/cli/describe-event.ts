import type { SystemEvent } from "../actor-system.js";
import { printable } from "../printable.js";

/** One line for an operator about something a node noticed; what came from the wire is escaped. */
export function describeEvent(event: SystemEvent): string {
  return printable(describeRaw(event));
}

function describeRaw(event: SystemEvent): string {
  switch (event.type) {
    case "transport":
      return `nats: ${event.event.type}${"server" in event.event ? ` ${event.event.server}` : ""}`;
    case "actor-failed":
      return `actor ${event.path} failed (${event.directive}): ${String(event.error)}`;
    case "supervision":
      return `supervisor: ${event.directive} ${event.path}${event.delayMs > 0 ? ` in ${event.delayMs} ms` : ""} after ${String(event.error)}`;
    case "membership":
      return `membership: node ${event.event.node.node} ${event.event.type}`;
  }
}
