import { ActorRef, type MessageRouter } from "./actor-ref.js";

/**
 * The asker of a request that the node answers itself (a spawn or a supervise directive for the
 * address it names): what is told to it goes out in the name of that address, so that the asker's
 * ask accepts it as the asked actor's answer (see PendingAsks).
 */
export class AnswerRef extends ActorRef<object> {
  constructor(
    private readonly asker: ActorRef<any>,
    private readonly answeringAs: ActorRef<any>,
    router: MessageRouter,
  ) {
    super(asker.address, router);
  }

  override tell(message: object, sender?: ActorRef<any>): void {
    this.asker.tell(message, sender ?? this.answeringAs);
  }
}
