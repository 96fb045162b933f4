import type { Address } from "../address.js";
import { ActorRef, type MessageRouter } from "../actor-ref.js";
import { AnswerRef } from "../answer-ref.js";
import type { CellDirectory } from "../cell-directory.js";
import type { SystemMessageKind } from "../codec/system-messages.js";
import type { DeadLetters } from "../dead-letters.js";
import { RemoteChild, RemoteChildError } from "../remote/remote-child.js";
import type { RemoteHosting } from "../remote/remote-hosting.js";
import type { DeathWatch } from "../watch/death-watch.js";
import type { Terminated } from "../watch/termination.js";
import type { troupe } from "../../proto/gen/troupe.js";

/** What of its node the delivery of system messages uses. */
export interface SystemMessageHost {
  readonly system: string;
  readonly nodeId: string;
  readonly cells: CellDirectory;
  readonly deadLetters: DeadLetters;
  readonly deathWatch: DeathWatch;
  readonly hosting: RemoteHosting;
  /** Where answers (spawn and supervise replies) are sent through. */
  readonly router: MessageRouter;
}

/**
 * Messages for the node rather than the actor they are addressed to (watch, unwatch, terminated,
 * spawn, supervise, a remote child's reports): they never reach a mailbox.
 */
export class SystemMessageDelivery {
  constructor(private readonly host: SystemMessageHost) {}

  deliver(kind: SystemMessageKind, path: string, message: object, sender: ActorRef<any> | undefined): void {
    const { deathWatch, hosting } = this.host;
    switch (kind) {
      case "watch":
        return deathWatch.watchArrived(path, sender);
      case "unwatch":
        return deathWatch.unwatchArrived(path, sender);
      case "terminated":
        return deathWatch.terminatedArrived(path, message as Terminated, nodeOf(sender));
      case "spawn":
        return hosting.spawnArrived(path, message as troupe.system.SpawnRequest, nodeOf(sender), this.answerAs(path, sender));
      case "supervise":
        return hosting.superviseArrived(path, message as troupe.system.Supervise, nodeOf(sender), this.answerAs(path, sender));
      case "child-failed": {
        const report = message as troupe.system.ChildFailed;
        const child = this.remoteChildOf(path, sender, "troupe.system.ChildFailed");
        return child?.failed(new RemoteChildError(child.path, report.error, report.messageType || undefined));
      }
      case "child-stopped":
        return this.remoteChildOf(path, sender, "troupe.system.ChildStopped")?.stoppedRemotely((message as troupe.system.ChildStopped).stoppedItself);
    }
  }

  /** The asker of a request this node answers for the actor at `path`: answers go out in that actor's name. */
  private answerAs(path: string, asker: ActorRef<any> | undefined): ActorRef<any> | undefined {
    return asker && new AnswerRef(asker, new ActorRef(this.addressOf(path), this.host.router), this.host.router);
  }

  /**
   * The proxy, in the parent at `parentPath`, of the remote child that `sender` is. A report naming a
   * child the parent has, from anywhere but that child's address, is refused; one about a child the
   * parent no longer has is stale, and ignored.
   */
  private remoteChildOf(parentPath: string, sender: ActorRef<any> | undefined, type: string): RemoteChild | undefined {
    if (sender === undefined) return undefined;
    const path = sender.address.path;
    const child = this.host.cells.get(parentPath)?.childCells?.get(path.slice(path.lastIndexOf("/") + 1));
    if (!(child instanceof RemoteChild)) return undefined;
    if (child.self.equals(sender)) return child;
    const detail = `child report for ${parentPath} from ${sender.toString()}: its child of that name is ${child.self.toString()}`;
    this.host.deadLetters.publish({ reason: "refused-control", detail, target: this.addressOf(parentPath), sender: sender.address, type });
    return undefined;
  }

  private addressOf(path: string): Address {
    return { system: this.host.system, node: this.host.nodeId, path };
  }
}

/** The sender's address when it is an actor of some node; a plain NATS requester (a reply subject) has none. */
function nodeOf(sender: ActorRef<any> | undefined): Address | undefined {
  return sender?.address.node ? sender.address : undefined;
}
