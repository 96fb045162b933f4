import type { ActorSystemOptions } from "../actor-system-options.js";
import type { Clock } from "../clock.js";
import type { DeadLetters } from "../dead-letters.js";
import type { Subjects } from "../subjects.js";
import type { Transport, Unsubscribe } from "../transport/transport.js";
import { Membership, type MembershipEvent } from "./membership.js";
import type { NodeMembership } from "./node-membership.js";
import { RingMembership } from "./ring-membership.js";
import { serveRoster } from "./roster.js";

/** A node's membership settings, when it has membership at all. */
export type MembershipSettings = Exclude<ActorSystemOptions["membership"], false>;

/** What of its node membership uses. */
export interface MembershipNode {
  readonly name: string;
  readonly nodeId: string;
  readonly transport: Transport;
  readonly subjects: Subjects;
  readonly clock: Clock;
  readonly deadLetters: DeadLetters;
  /** What this node's heartbeats announce: its kinds (actor and entity) and actor count. */
  readonly localInfo: () => { kinds: string[]; actorCount: number };
  readonly onEvent: (event: MembershipEvent) => void;
  /** Told once membership has started, before the roster is served. */
  started(membership: NodeMembership): void;
}

/**
 * Starts the node's membership with the protocol its settings pick (`"ring"` by default, or
 * `"all-to-all"`), then serves the roster others list nodes from. What to undo at shutdown goes
 * into `cleanup` as it is set up.
 */
export async function startMembership(settings: MembershipSettings, node: MembershipNode, cleanup: Unsubscribe[]): Promise<void> {
  const { protocol = "ring", ...timing } = settings ?? {};
  if (protocol !== "ring" && protocol !== "all-to-all") throw new RangeError(`membership.protocol must be "ring" or "all-to-all", got ${JSON.stringify(protocol)}`);
  const { transport, subjects, deadLetters } = node;
  const common = {
    transport,
    nodeId: node.nodeId,
    clock: node.clock,
    ...timing,
    localInfo: node.localInfo,
  };
  const membership: NodeMembership =
    protocol === "ring"
      ? new RingMembership({ ...common, subjects, onInvalid: (detail, bytes) => deadLetters.publish({ reason: "malformed-frame", detail: `membership: ${detail}`, subject: subjects.membershipChanges, bytes }) })
      : new Membership({ ...common, subject: subjects.heartbeat, system: node.name, onInvalid: (detail, bytes) => deadLetters.publish({ reason: "malformed-frame", detail: `heartbeat: ${detail}`, subject: subjects.heartbeat, bytes }) });
  cleanup.push(membership.onEvent(node.onEvent));
  await membership.start();
  node.started(membership);
  cleanup.push(
    serveRoster({
      transport,
      subject: subjects.membershipRoster,
      system: node.name,
      nodeId: node.nodeId,
      nodes: () => membership.nodes(),
      clock: node.clock,
      answersTo: (reply) => subjects.answersTo(reply),
      onRefused: (reason, detail, message) =>
        deadLetters.publish({ reason: reason === "foreign-system" || reason === "over-rate" ? "refused-control" : reason === "forbidden-reply-subject" || reason === "send-failed" ? reason : "malformed-frame", detail, subject: message.subject, bytes: message.data.slice(0, 256) }),
    }),
  );
}
