import { addressFromWire, formatAddress, isWellFormedPath, type Address } from "../address.js";
import { ActorCell, errorText, type CellHost, type ParentLink } from "../actor-cell.js";
import type { ActorRef } from "../actor-ref.js";
import type { TypeRegistry } from "../codec/type-registry.js";
import type { ChildRestart } from "../supervision/supervisor-spec.js";
import { troupe } from "../../proto/gen/troupe.js";
import type { Kinds } from "./kinds.js";
import type { MemberGate } from "../control/member-gate.js";

const { SpawnReply, SuperviseAck, Failure, ChildFailed, ChildStopped } = troupe.system;
const Directive = troupe.system.Supervise.Directive;
const RESTART_TYPES: readonly string[] = ["permanent", "transient", "temporary"];
const SPAWN = "troupe.system.SpawnRequest";

function fail(replyTo: ActorRef<any> | undefined, reason: string, detail: string): void {
  replyTo?.tell(Failure.create({ reason, message: detail }));
}

/** What hosting children for other nodes needs from this node. */
export interface RemoteHostingHost {
  readonly nodeId: string;
  readonly cellHost: CellHost;
  readonly kinds: Kinds;
  readonly registry: TypeRegistry;
  readonly gate: MemberGate;
  /** Most children hosted for the actors of one other node. */
  readonly maxHostedChildrenPerNode: number;
  cellAt(path: string): ActorCell | undefined;
  refFor(address: Address): ActorRef<any>;
  /** A control message refused: a `refused-control` dead letter (and `limit` counted, when one was hit). */
  refused(detail: string, path: string, sender: Address | undefined, type: string, limit?: "maxHostedChildrenPerNode"): void;
}

/**
 * The child's side of remote children: starts cells of registered kinds when another node's actor
 * asks, carries out its supervisor's directives, reports failures and stops back to it, and stops
 * the children of a parent whose node is gone, so that no orphan keeps working for nobody. Only a
 * live member's actors get children here (each node's within a cap), and only the parent's node may
 * direct them: an actor this node did not start for another node takes no directive from the wire.
 */
export class RemoteHosting {
  /** Hosted cells by their parent's node. */
  private readonly byParentNode = new Map<string, Set<ActorCell>>();
  /** The parent's node of each hosted cell: the only node whose directives it takes. */
  private readonly parentNodes = new Map<ActorCell, string>();

  constructor(private readonly host: RemoteHostingHost) {}

  /**
   * A SpawnRequest for `path` from `sender` (the parent's node, asking). Membership is looked at first:
   * it is the cheapest test, so a flood from nodes that do not exist costs one look-up a request. A
   * sender that is not a member gets no answer (answering would make this node publish to inboxes of
   * an attacker's choosing, one message a request); a member is told why.
   */
  spawnArrived(path: string, request: troupe.system.SpawnRequest, sender: Address | undefined, replyTo: ActorRef<any> | undefined): void {
    if (sender === undefined) return this.refuse(replyTo, path, sender, SPAWN, "spawn request names no sender: control messages come from nodes");
    const gate = this.host.gate;
    if (gate.isMember(sender)) return this.spawnFromMember(path, request, sender, replyTo);
    gate.admit(sender, "spawn request", () => this.spawnFromMember(path, request, sender, replyTo), (detail) => this.host.refused(detail, path, sender, SPAWN));
  }

  private spawnFromMember(path: string, request: troupe.system.SpawnRequest, sender: Address, replyTo: ActorRef<any> | undefined): void {
    const parent = addressFromWire(request.parent);
    if (parent === undefined || !isWellFormedPath(parent.path)) return fail(replyTo, "bad-request", `spawn request for ${path} names no valid parent`);
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (path !== `/remote/${parent.node}${parent.path}/${name}` || !isWellFormedPath(path)) return fail(replyTo, "bad-request", `spawn request for ${path}: a child of ${formatAddress(parent)} lives at /remote/${parent.node}${parent.path}/<name>`);
    if (sender.node !== parent.node || sender.system !== parent.system) {
      return this.refuse(replyTo, path, sender, SPAWN, `spawn request for a child of ${formatAddress(parent)} sent from ${formatAddress(sender)}: only the parent's node asks for its children`);
    }
    const existing = this.host.cellAt(path);
    if (existing !== undefined && !existing.isStopping) return replyTo?.tell(SpawnReply.create({ child: existing.address }));
    const registration = this.host.kinds.get(request.kind);
    if (registration === undefined) return fail(replyTo, "unknown-kind", `node ${this.host.nodeId} hosts no actor kind ${JSON.stringify(request.kind)} (it hosts: ${this.host.kinds.names().join(", ") || "none"})`);
    if (!RESTART_TYPES.includes(request.restart)) return fail(replyTo, "bad-request", `unknown restart type ${JSON.stringify(request.restart)}`);
    let siblings = this.byParentNode.get(parent.node);
    if ((siblings?.size ?? 0) >= this.host.maxHostedChildrenPerNode) {
      const detail = `node ${this.host.nodeId} already hosts ${this.host.maxHostedChildrenPerNode} children for node ${parent.node} (maxHostedChildrenPerNode)`;
      return this.refuse(replyTo, path, sender, SPAWN, detail, "maxHostedChildrenPerNode");
    }
    let props: object | undefined;
    if (request.propsType !== "") {
      const type = this.host.registry.typeNamed(request.propsType);
      if (type === undefined) return fail(replyTo, "unknown-type", `props type ${request.propsType} is not registered on node ${this.host.nodeId}`);
      try {
        props = type.decode(request.props);
      } catch (error) {
        return fail(replyTo, "malformed-payload", `props do not decode as ${request.propsType}: ${errorText(error)}`);
      }
    }
    const parentRef = this.host.refFor(parent);
    const address = { system: parent.system, node: this.host.nodeId, path };
    const options = { ...registration.options, props, restart: request.restart as ChildRestart };
    const cell = new ActorCell(this.host.cellHost, this.linkTo(parentRef), undefined, address, registration.definition, options);
    if (siblings === undefined) this.byParentNode.set(parent.node, (siblings = new Set()));
    siblings.add(cell);
    this.parentNodes.set(cell, parent.node);
    this.host.cellHost.register(cell);
    void cell.start();
    replyTo?.tell(SpawnReply.create({ child: address }));
  }

  /** A directive for the child at `path` from `sender`, which must be on the child's parent's node. */
  superviseArrived(path: string, message: troupe.system.Supervise, sender: Address | undefined, replyTo: ActorRef<any> | undefined): void {
    const cell = this.host.cellAt(path);
    const parentNode = cell && this.parentNodes.get(cell);
    if (cell !== undefined && (parentNode === undefined || sender?.node !== parentNode || sender.system !== cell.address.system)) {
      const detail = parentNode === undefined
        ? `${path} is not a child node ${this.host.nodeId} hosts for another node: it takes no directive from the wire`
        : `directive for ${path} from ${sender ? formatAddress(sender) : "no sender"}: only its parent's node ${parentNode} directs it`;
      return this.refuse(replyTo, path, sender, "troupe.system.Supervise", detail);
    }
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

  /** A refused control message: a dead letter, and a Failure "refused" to the asker. */
  private refuse(replyTo: ActorRef<any> | undefined, path: string, sender: Address | undefined, type: string, detail: string, limit?: "maxHostedChildrenPerNode"): void {
    this.host.refused(detail, path, sender, type, limit);
    fail(replyTo, "refused", detail);
  }

  /** The parents on `node` are gone: stop their children here. */
  parentNodeLost(node: string): void {
    const cells = this.byParentNode.get(node);
    if (cells === undefined) return;
    this.byParentNode.delete(node);
    for (const cell of cells) {
      this.parentNodes.delete(cell);
      void cell.requestStop();
    }
  }

  /** Reports a hosted child's failures and its end to its parent on the other node. */
  private linkTo(parent: ActorRef<any>): ParentLink {
    return {
      childFailed: (child, error, message) => {
        const messageType = message === undefined ? "" : (this.host.registry.nameOf(message) ?? "");
        parent.tell(ChildFailed.create({ error: errorText(error), messageType }), child.self);
      },
      childTerminated: (child, stoppedItself) => {
        const siblings = this.byParentNode.get(parent.address.node);
        siblings?.delete(child);
        if (siblings?.size === 0) this.byParentNode.delete(parent.address.node);
        this.parentNodes.delete(child);
        parent.tell(ChildStopped.create({ stoppedItself, failed: child.stoppedByFailure }), child.self);
      },
    };
  }
}
