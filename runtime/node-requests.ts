import { errorText } from "./actor-cell.js";
import type { CellDirectory } from "./cell-directory.js";
import { LookupReply, LookupRequest } from "./codec/wire-types.js";
import type { DeadLetters } from "./dead-letters.js";
import type { ActivationInfo } from "./entities/entity-hosting.js";
import { actorListAnswer } from "./introspection/actor-list-answer.js";
import { actorListPages } from "./introspection/actor-list-pages.js";
import type { Subjects } from "./subjects.js";
import type { Clock } from "./clock.js";
import { RateWindow } from "./membership/rate-window.js";
import type { InboundMessage, Transport } from "./transport/transport.js";

/** What of its node answering requests on the node's system subjects uses. */
export interface NodeRequestsHost {
  readonly name: string;
  readonly nodeId: string;
  readonly transport: Transport;
  readonly subjects: Subjects;
  readonly deadLetters: DeadLetters;
  readonly cells: CellDirectory;
  readonly maxMessageBytes: number;
  readonly clock: Clock;
  /** `troupe actors` lists answered per second at most (default `DEFAULT_MAX_ACTOR_LISTS_PER_SECOND`). */
  readonly maxActorListsPerSecond?: number;
  /** The entity copies live on the node, for `troupe actors`. */
  activations(): ActivationInfo[];
}

/**
 * Actor lists answered per second at most, by default: each walks every actor of the node and may be
 * many pages, so a flood of one-byte requests must not become a flood of work. `troupe top` and the
 * dashboard ask each node once a second.
 */
export const DEFAULT_MAX_ACTOR_LISTS_PER_SECOND = 10;

/** The longest actor name (runtime/address.ts). */
const MAX_NAME_CHARS = 128;

/**
 * The node's answers to requests on its system subjects: lookups of its top-level actors' names and
 * `troupe actors` lists. A request is answered only on a reply subject the node may answer to.
 */
export class NodeRequests {
  private readonly actorLists: RateWindow;
  private readonly maxActorLists: number;

  constructor(private readonly host: NodeRequestsHost) {
    const limit = host.maxActorListsPerSecond ?? DEFAULT_MAX_ACTOR_LISTS_PER_SECOND;
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`maxActorListsPerSecond must be a whole number of at least 1, got ${limit}`);
    this.maxActorLists = limit;
    this.actorLists = new RateWindow(limit, 1_000);
  }

  /**
   * `troupe actors`: whoever asks gets this node's actors; the request body carries nothing. The answer
   * is as many `ActorList` pages as keep each under the message size limit, each with the total; at
   * most `maxActorListsPerSecond` answers a second (more are refused and counted as dead letters).
   */
  readonly onActorList = (request: InboundMessage): void => {
    if (!this.mayAnswer(request)) return;
    const host = this.host;
    if (!this.actorLists.take(host.clock.now())) {
      host.deadLetters.publish({ reason: "refused-control", detail: `actor list not answered: over ${this.maxActorLists} a second (maxActorListsPerSecond)`, subject: request.subject });
      return;
    }
    const { actors, totals } = actorListAnswer(host.cells, host.deadLetters.count, host.activations());
    for (const page of actorListPages(host.nodeId, actors, host.maxMessageBytes, totals)) host.transport.publish(request.reply, page);
  };

  readonly onLookup = (request: InboundMessage): void => {
    if (!this.mayAnswer(request)) return;
    const host = this.host;
    let name: string;
    try {
      name = LookupRequest.decode(request.data).name;
    } catch (error) {
      host.deadLetters.publish({ reason: "malformed-frame", detail: `not a troupe.system.LookupRequest: ${errorText(error)}`, subject: request.subject, bytes: request.data.slice(0, 4096) });
      return;
    }
    // Longer than any actor name (128 characters): not encoded into a subject, whatever its size.
    if (name.length > MAX_NAME_CHARS) return;
    // A request for another name than the subject's: not ours to answer (its host listens elsewhere).
    if (request.subject !== host.subjects.actorName(name)) return;
    const cell = host.cells.get(`/user/${name}`);
    if (cell) host.transport.publish(request.reply, LookupReply.encode({ found: true, address: cell.address }).finish());
  };

  /** A request on a system subject is answered only on a reply subject the node may answer to. */
  mayAnswer(request: InboundMessage): request is InboundMessage & { reply: string } {
    if (!request.reply) return false;
    const { subjects, name, deadLetters } = this.host;
    if (subjects.answersTo(request.reply)) return true;
    const detail = `request asks for answers on ${request.reply}, inside ${subjects.prefix}'s subjects but not a request inbox of system ${name}: not answered`;
    deadLetters.publish({ reason: "forbidden-reply-subject", detail, subject: request.subject });
    return false;
  }
}
