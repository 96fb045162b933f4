import { randomBytes } from "node:crypto";
import { systemClock, type Clock } from "../clock.js";
import type { Transport } from "../transport/transport.js";
import { troupe } from "../../proto/gen/troupe.js";

/** An actor as one node reports it. */
export interface ActorReport {
  readonly node: string;
  readonly path: string;
  readonly kind: string | undefined;
  readonly restarts: number;
  readonly mailboxSize: number;
}

/**
 * Asks every node of a system for its actors (one request on the system's actors subject, every node
 * answers) and gathers the answers that arrive within `waitMs`. Without joining the system.
 */
export async function listActors(transport: Transport, subject: string, options: { waitMs?: number; clock?: Clock; inboxPrefix?: string; onInvalid?: (detail: string) => void } = {}): Promise<ActorReport[]> {
  const clock = options.clock ?? systemClock;
  const inbox = `${options.inboxPrefix ?? "_INBOX"}.troupe-actors-${randomBytes(8).toString("hex")}`;
  const reports: ActorReport[] = [];
  const unsubscribe = transport.subscribe(inbox, (message) => {
    try {
      const list = troupe.system.ActorList.decode(message.data);
      for (const a of list.actors) reports.push({ node: list.node, path: a.path ?? "", kind: a.kind || undefined, restarts: a.restarts ?? 0, mailboxSize: a.mailboxSize ?? 0 });
    } catch (error) {
      options.onInvalid?.(`not a troupe.system.ActorList: ${(error as Error).message}`);
    }
  });
  try {
    await transport.flush();
    transport.publish(subject, troupe.system.ActorListRequest.encode({}).finish(), inbox);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, options.waitMs ?? 500));
  } finally {
    unsubscribe();
  }
  return reports;
}
