import { errorText } from "./actor-cell.js";
import type { CellDirectory } from "./cell-directory.js";
import { LookupReply, LookupRequest } from "./codec/wire-types.js";
import type { DeadLetters } from "./dead-letters.js";
import type { ActivationInfo } from "./entities/entity-hosting.js";
import { actorListAnswer } from "./introspection/actor-list-answer.js";
import { actorListPages } from "./introspection/actor-list-pages.js";
import type { Subjects } from "./subjects.js";
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
  /** The entity copies live on the node, for `troupe actors`. */
  activations(): ActivationInfo[];
}

/**
 * The node's answers to requests on its system subjects: lookups of its top-level actors' names and
 * `troupe actors` lists. A request is answered only on a reply subject the node may answer to.
 */
export class NodeRequests {
  constructor(private readonly host: NodeRequestsHost) {}

  /**
   * `troupe actors`: whoever asks gets this node's actors; the request body carries nothing. The answer
   * is as many `ActorList` pages as keep each under the message size limit, each with the total.
   */
  readonly onActorList = (request: InboundMessage): void => {
    if (!this.mayAnswer(request)) return;
    const host = this.host;
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
