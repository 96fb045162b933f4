import { addressFromWire, type Address } from "../address.js";
import { ActorCell, errorText, type CellHost, type ParentLink } from "../actor-cell.js";
import type { ActorRef } from "../actor-ref.js";
import type { TypeRegistry } from "../codec/type-registry.js";
import type { ChildRestart } from "../supervision/supervisor-spec.js";
import { troupe } from "../../proto/gen/troupe.js";
import type { Kinds } from "./kinds.js";

const { SpawnReply, SuperviseAck, Failure, ChildFailed, ChildStopped } = troupe.system;
const Directive = troupe.system.Supervise.Directive;
const RESTART_TYPES: readonly string[] = ["permanent", "transient", "temporary"];

/** What hosting children for other nodes needs from this node. */
export interface RemoteHostingHost {
  readonly nodeId: string;
  readonly cellHost: CellHost;
  readonly kinds: Kinds;
  readonly registry: TypeRegistry;
  cellAt(path: string): ActorCell | undefined;
  refFor(address: Address): ActorRef<any>;
}

/**
 * The child's side of remote children: starts cells of registered kinds when another node's actor
 * asks, carries out its supervisor's directives, reports failures and stops back to it, and stops
 * the children of a parent whose node is gone, so that no orphan keeps working for nobody.
 */
export class RemoteHosting {
  /** Hosted cells by their parent's node. */
  private readonly byParentNode = new Map<string, Set<ActorCell>>();

  constructor(private readonly host: RemoteHostingHost) {}

  spawnArrived(path: string, request: troupe.system.SpawnRequest, replyTo: ActorRef<any> | undefined): void {
    const refuse = (reason: string, detail: string): void => replyTo?.tell(Failure.create({ reason, message: detail }));
    const existing = this.host.cellAt(path);
    if (existing !== undefined && !existing.isStopping) return replyTo?.tell(SpawnReply.create({ child: existing.address }));
    const registration = this.host.kinds.get(request.kind);
    if (registration === undefined) return refuse("unknown-kind", `node ${this.host.nodeId} hosts no actor kind ${JSON.stringify(request.kind)} (it hosts: ${this.host.kinds.names().join(", ") || "none"})`);
    const parent = addressFromWire(request.parent);
    if (parent === undefined || !path.startsWith("/remote/")) return refuse("bad-request", `spawn request for ${path} names no valid parent`);
    if (!RESTART_TYPES.includes(request.restart)) return refuse("bad-request", `unknown restart type ${JSON.stringify(request.restart)}`);
    let props: object | undefined;
    if (request.propsType !== "") {
      const type = this.host.registry.typeNamed(request.propsType);
      if (type === undefined) return refuse("unknown-type", `props type ${request.propsType} is not registered on node ${this.host.nodeId}`);
      try {
        props = type.decode(request.props);
      } catch (error) {
        return refuse("malformed-payload", `props do not decode as ${request.propsType}: ${errorText(error)}`);
      }
    }
    const parentRef = this.host.refFor(parent);
    const address = { system: parent.system, node: this.host.nodeId, path };
    const options = { ...registration.options, props, restart: request.restart as ChildRestart };
    const cell = new ActorCell(this.host.cellHost, this.linkTo(parentRef), undefined, address, registration.definition, options);
    let siblings = this.byParentNode.get(parent.node);
    if (siblings === undefined) this.byParentNode.set(parent.node, (siblings = new Set()));
    siblings.add(cell);
    this.host.cellHost.register(cell);
    void cell.start();
    replyTo?.tell(SpawnReply.create({ child: address }));
  }

  superviseArrived(path: string, message: troupe.system.Supervise, replyTo: ActorRef<any> | undefined): void {
    const cell = this.host.cellAt(path);
    if (cell === undefined) {
      // Gone already: for a stop that is success; anything else must fail so the parent re-places it.
      if (message.directive === Directive.STOP) replyTo?.tell(SuperviseAck.create());
      else replyTo?.tell(Failure.create({ reason: "unknown-target", message: `no actor at ${path} on node ${this.host.nodeId}` }));
      return;
    }
    const done = (): void => replyTo?.tell(SuperviseAck.create());
    switch (message.directive) {
      case Directive.RESUME:
        cell.resume();
        return done();
      case Directive.PREPARE_RESTART:
        return void cell.prepareRestart(new Error(message.reason)).then(done);
      case Directive.COMPLETE_RESTART:
        return void cell.completeRestart().then(done);
      case Directive.STOP:
        return void cell.requestStop().then(done);
      default:
        replyTo?.tell(Failure.create({ reason: "bad-request", message: `unknown directive ${String(message.directive)}` }));
    }
  }

  /** The parents on `node` are gone: stop their children here. */
  parentNodeLost(node: string): void {
    const cells = this.byParentNode.get(node);
    if (cells === undefined) return;
    this.byParentNode.delete(node);
    for (const cell of cells) void cell.requestStop();
  }

  /** Reports a hosted child's failures and its end to its parent on the other node. */
  private linkTo(parent: ActorRef<any>): ParentLink {
    return {
      childFailed: (child, error, message) => {
        const messageType = message === undefined ? "" : (this.host.registry.nameOf(message) ?? "");
        parent.tell(ChildFailed.create({ error: errorText(error), messageType }), child.self);
      },
      childTerminated: (child, stoppedItself) => {
        this.byParentNode.get(parent.address.node)?.delete(child);
        parent.tell(ChildStopped.create({ stoppedItself, failed: child.stoppedByFailure }), child.self);
      },
    };
  }
}
