import type { Address } from "../address.js";
import type { ActorDefinition } from "../actor-definition.js";
import type { ActorRef } from "../actor-ref.js";
import type { MessageType } from "../codec/message-type.js";
import type { SpawnOptions } from "../spawn-options.js";
import type { SupervisedChild } from "../supervision/child-supervisor.js";
import type { ChildRestart } from "../supervision/supervisor-spec.js";
import { troupe } from "../../proto/gen/troupe.js";
import type { Placement } from "./placement.js";

const { SpawnRequest, SpawnReply, Supervise, SuperviseAck } = troupe.system;
const Directive = troupe.system.Supervise.Directive;

/** The node hosting a remote child disappeared from the membership: the child is counted as failed. */
export class NodeLostError extends Error {
  override readonly name = "NodeLostError";
  constructor(
    readonly node: string,
    readonly child: string,
  ) {
    super(`node ${node}, which hosted ${child}, is gone`);
  }
}

/** A remote child reported a failure; the error itself stayed on its node, its text travelled. */
export class RemoteChildError extends Error {
  override readonly name = "RemoteChildError";
  constructor(
    readonly child: string,
    message: string,
    readonly messageType: string | undefined,
  ) {
    super(message);
  }
}

/** What a remote child's proxy needs from its node. */
export interface RemoteChildHost {
  readonly nodeId: string;
  isAlive(node: string): boolean;
  /** A node for `kind` per `placement`, never one of `exclude`; throws NoNodeForKindError. */
  place(kind: string, placement: Placement, exclude?: ReadonlySet<string>): string;
  /** As `place`, waiting (boundedly) for what the placement asks of candidates: least-loaded's answers. */
  placeAsked(kind: string, placement: Placement, exclude?: ReadonlySet<string>): Promise<string>;
  refFor(address: Address): ActorRef<any>;
  ask<R extends object>(target: ActorRef<any>, message: object, replyType: MessageType<R>, timeoutMs: number | undefined): Promise<R>;
  /** Protobuf type name and bytes of a child's props. */
  encodeProps(props: unknown): { type: string; bytes: Uint8Array };
  /** Keeps track of which node hosts the child, for node loss. */
  track(child: RemoteChild): void;
  untrack(child: RemoteChild): void;
}

/** Where a remote child reports to: its parent's children. */
export interface RemoteChildLink {
  childFailed(child: RemoteChild, error: unknown, message: object | undefined): void;
  childTerminated(child: RemoteChild, stoppedItself: boolean): void;
}

/**
 * The parent's side of a child that runs on another node: the parent's supervisor treats it like a
 * local child, and this proxy carries its decisions over the wire (`Supervise`, answered once carried
 * out, so a strategy's order holds across nodes). When the hosting node is lost, the child counts as
 * failed; restarting it then means spawning it again on a surviving node, under a new address.
 */
export class RemoteChild implements SupervisedChild {
  restartCount = 0;
  private ref: ActorRef<any>;
  private status: "running" | "failed" | "stopping" | "stopped" = "running";
  /** Its node is gone: the next restart places it elsewhere. */
  private displaced = false;
  /** Its node no longer has it (its spawn failed, or it was lost there): a restart spawns it anew. */
  private missing = false;
  private stoppedWaiters: (() => void)[] = [];

  constructor(
    private readonly host: RemoteChildHost,
    private readonly link: RemoteChildLink,
    private readonly parent: ActorRef<any>,
    readonly name: string,
    readonly definition: ActorDefinition<any, any, any>,
    readonly options: SpawnOptions<any> & { readonly placement: Placement },
    node: string,
    private readonly timeoutMs: number,
  ) {
    this.ref = host.refFor(this.addressOn(node));
  }

  get self(): ActorRef<any> {
    return this.ref;
  }

  get node(): string {
    return this.ref.address.node;
  }

  get path(): string {
    return this.ref.address.path;
  }

  get kind(): string {
    return this.definition.kind!;
  }

  get restartType(): ChildRestart {
    return this.options.restart ?? "transient";
  }

  get isStopping(): boolean {
    return this.status === "stopping" || this.status === "stopped";
  }

  get isTerminated(): boolean {
    return this.status === "stopped";
  }

  /** Sends the spawn request. Messages told to `self` after this call arrive after it (same route). */
  start(): void {
    this.host.track(this);
    const props = this.options.props === undefined ? undefined : this.host.encodeProps(this.options.props);
    const request = SpawnRequest.create({
      kind: this.kind,
      parent: this.parent.address,
      propsType: props?.type ?? "",
      props: props?.bytes ?? new Uint8Array(),
      restart: this.restartType,
    });
    const ref = this.ref;
    this.host.ask(ref, request, SpawnReply, this.timeoutMs).catch((error: unknown) => {
      if (ref === this.ref && this.status === "running") this.failed(error);
    });
  }

  // ---- reports from the child's node ----

  failed(error: unknown): void {
    if (this.status !== "running") return;
    this.status = "failed";
    this.link.childFailed(this, error, undefined);
  }

  stoppedRemotely(stoppedItself: boolean): void {
    if (this.status === "stopping") return this.terminate(false);
    if (this.status === "stopped") return;
    this.terminate(stoppedItself);
  }

  nodeLost(): void {
    this.displaced = true;
    if (this.status === "stopping") return this.terminate(false);
    if (this.status === "running") this.failed(new NodeLostError(this.node, this.path));
  }

  // ---- SupervisedChild ----

  resume(): void {
    if (this.status !== "failed") return;
    this.status = "running";
    void this.direct(Directive.RESUME, "");
  }

  async prepareRestart(error: unknown): Promise<void> {
    if (this.isStopping) return;
    this.status = "failed";
    this.restartCount++;
    if (!this.displaced && !(await this.direct(Directive.PREPARE_RESTART, error instanceof Error ? error.message : String(error)))) this.missing = true;
  }

  async completeRestart(): Promise<void> {
    if (this.isStopping) return;
    this.status = "running";
    if (this.displaced || !this.host.isAlive(this.node)) return this.respawnElsewhere();
    if (this.missing) return this.moveTo(this.node);
    if (!(await this.direct(Directive.COMPLETE_RESTART, ""))) this.failed(new Error(`${this.path} did not confirm its restart on node ${this.node}`));
  }

  /** A permanent child that stopped by itself comes back, on a node chosen by its placement again. */
  respawn(): void {
    this.status = "running";
    this.moveTo(this.host.place(this.kind, this.options.placement));
  }

  requestStop(): Promise<void> {
    if (this.status === "stopped") return Promise.resolve();
    const stopped = new Promise<void>((resolve) => this.stoppedWaiters.push(resolve));
    if (this.status !== "stopping") {
      this.status = "stopping";
      if (this.displaced || !this.host.isAlive(this.node)) this.terminate(false);
      else void this.direct(Directive.STOP, "").then((acknowledged) => acknowledged || this.terminate(false));
    }
    return stopped;
  }

  stopForFailure(): Promise<void> {
    return this.requestStop();
  }

  /** Its parent gave up waiting: forget it (its node, if alive, stops it when the parent's node goes). */
  abandon(): void {
    this.terminate(false);
  }

  private async respawnElsewhere(): Promise<void> {
    const lost = new Set([this.node]);
    const placement = typeof this.options.placement === "object" ? "round-robin" : this.options.placement;
    const ref = this.ref;
    const node = await this.host.placeAsked(this.kind, placement, lost);
    // Stopped, or moved by another restart, while the candidates were asked: nothing to do here.
    if (this.status !== "running" || this.ref !== ref) return;
    this.moveTo(node);
  }

  private moveTo(node: string): void {
    this.host.untrack(this);
    this.displaced = false;
    this.missing = false;
    this.ref = this.host.refFor(this.addressOn(node));
    this.start();
  }

  /** Sends a directive and waits for it to be carried out; false when the child's node did not confirm. */
  private async direct(directive: troupe.system.Supervise.Directive, reason: string): Promise<boolean> {
    try {
      await this.host.ask(this.ref, Supervise.create({ directive, reason }), SuperviseAck, this.timeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  private terminate(stoppedItself: boolean): void {
    if (this.status === "stopped") return;
    this.status = "stopped";
    this.host.untrack(this);
    this.link.childTerminated(this, stoppedItself);
    const waiters = this.stoppedWaiters;
    this.stoppedWaiters = [];
    waiters.forEach((resolve) => resolve());
  }

  /** Remote children live under `/remote/<parent node><parent path>/<name>`: unique on every node. */
  private addressOn(node: string): Address {
    const parent = this.parent.address;
    return { system: parent.system, node, path: `/remote/${parent.node}${parent.path}/${this.name}` };
  }
}
