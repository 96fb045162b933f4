import type { Subjects } from "./subjects.js";
import type { InboundMessage, QueueSubscription, Transport } from "./transport/transport.js";

/** The queue group of a name's lookup subject: one of its hosts answers each lookup. */
export const NAME_QUEUE = "name";

/** What of a cell decides whether it is a top-level actor (`/user/<name>`, no parent cell). */
interface NamedCell {
  readonly path: string;
  readonly parent: unknown;
}

/**
 * The lookup subjects of the top-level actors this node hosts: while `/user/<name>` runs, the node is in
 * the queue group of `Subjects.actorName(name)`, so a lookup reaches a host of the name and nobody else.
 * One subscription per top-level actor with a chosen name (children, generated names and entities are
 * found through their parents and owners, not by name). A stopped actor's subscription goes with it;
 * one started again under the same name (a new cell) takes the name over, whichever order the two
 * cells' start and stop arrive in.
 */
export class HostedNames {
  private readonly groups = new Map<string, { readonly cell: NamedCell; readonly subscription: QueueSubscription }>();

  constructor(
    private readonly transport: Transport,
    private readonly subjects: Subjects,
    private readonly onRequest: (request: InboundMessage) => void,
    /** Told when the transport refused a subscription (it is closing): the name is not found through this node. */
    private readonly onFailure: (detail: string) => void = () => undefined,
  ) {}

  started(cell: NamedCell): void {
    const name = topLevelName(cell);
    if (name === undefined) return;
    const previous = this.groups.get(cell.path);
    if (previous !== undefined) leave(previous.subscription);
    this.groups.delete(cell.path);
    try {
      this.groups.set(cell.path, { cell, subscription: this.transport.queueSubscribe(this.subjects.actorName(name), NAME_QUEUE, this.onRequest) });
    } catch (error) {
      this.onFailure(`${cell.path} cannot be looked up from other nodes: ${(error as Error).message}`);
    }
  }

  stopped(cell: NamedCell): void {
    const entry = this.groups.get(cell.path);
    if (entry?.cell !== cell) return;
    this.groups.delete(cell.path);
    leave(entry.subscription);
  }

  /** Leaves every name's group (shutdown). */
  close(): void {
    for (const { subscription } of this.groups.values()) leave(subscription);
    this.groups.clear();
  }
}

/** The name of a top-level actor someone may look up: chosen, not generated (`$…`, which `lookup` refuses). */
function topLevelName(cell: NamedCell): string | undefined {
  if (cell.parent !== undefined || !cell.path.startsWith("/user/")) return undefined;
  const name = cell.path.slice("/user/".length);
  return name.includes("/") || name.startsWith("$") ? undefined : name;
}

/** A closed connection may refuse to unsubscribe; the subscription is gone with it anyway. */
function leave(subscription: QueueSubscription): void {
  try {
    subscription.unsubscribe();
  } catch {
    // Nothing left to leave.
  }
}
