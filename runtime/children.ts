import { childPath, validateActorName, type Address } from "./address.js";
import { ActorCell, type CellHost, type ParentLink } from "./actor-cell.js";
import type { ActorDefinition } from "./actor-definition.js";
import type { ActorRef } from "./actor-ref.js";
import { RemoteChild, type RemoteChildLink } from "./remote/remote-child.js";
import type { SpawnOptions } from "./spawn-options.js";
import { ChildSupervisor, type SupervisedChild } from "./supervision/child-supervisor.js";
import { DEFAULT_SUPERVISOR_SPEC, type SupervisorSpec } from "./supervision/supervisor-spec.js";

/** The actor (or the node's guardian) that owns a set of children. */
export interface ChildrenOwner {
  /** Children's paths are `<path>/<name>`; "/user" for the guardian. */
  readonly path: string;
  readonly address: Address;
  /** False once the owner is stopping: a permanent child that stops then is not brought back. */
  acceptsChildren(): boolean;
  readonly supervisorSpec: SupervisorSpec | undefined;
  /** The supervisor gave up on `child` (decider said escalate, or the intensity was exceeded). */
  escalate(error: unknown, child: SupervisedChild): void;
}

/** A child: an actor on this node, or the proxy of one on another node. */
export type Child = ActorCell | RemoteChild;

/**
 * The children of one actor, in start order, and the supervisor that handles their failures. Each
 * actor gets one only when it spawns its first child, so childless actors stay small.
 */
export class Children implements ParentLink, RemoteChildLink {
  private readonly cells = new Map<string, Child>();
  private supervisorInstance: ChildSupervisor | undefined;
  private nameSeq = 0;

  constructor(
    private readonly host: CellHost,
    private readonly owner: ChildrenOwner,
    private readonly parentCell: ActorCell | undefined,
  ) {}

  get size(): number {
    return this.cells.size;
  }

  get supervisor(): ChildSupervisor {
    return (this.supervisorInstance ??= new ChildSupervisor(this.owner.supervisorSpec, this.owner.path, this.host.clock, {
      children: () => [...this.cells.values()],
      escalate: (error, child) => this.owner.escalate(error, child),
      decided: (child, error, directive, delayMs) => this.host.supervisionDecided(child.path, error, directive, delayMs, (child as Child).kind),
    }));
  }

  spawn<S, M extends object, P>(definition: ActorDefinition<S, M, P>, options: SpawnOptions<P>): ActorRef<M> {
    const generated = options.name === undefined;
    const name = generated ? `$${(++this.nameSeq).toString(36)}` : validateActorName(options.name);
    // A generated name ('$' is reserved for them) cannot collide; a chosen one is checked against the
    // siblings, which is where a path is resolved (runtime/cell-directory.ts).
    if (!generated && this.cells.has(name)) {
      throw new Error(`an actor named ${JSON.stringify(name)} already runs on node ${this.host.nodeId} (at ${childPath(this.owner.path, name)})`);
    }
    const placement = options.placement;
    if (placement !== undefined && placement !== "local") {
      if (definition.kind === undefined) throw new TypeError(`spawning with placement needs a definition with a \`kind\` (registered on the nodes that host it)`);
      if (this.parentCell === undefined) throw new TypeError("top-level actors run on their own node; spawn remote children from an actor (ctx.spawn)");
      const node = this.host.remote.place(definition.kind, placement);
      if (node !== this.host.nodeId) {
        const child = new RemoteChild(this.host.remote, this, this.parentCell.self, name, definition, { ...options, placement }, node, this.host.remote.directiveTimeoutMs);
        this.cells.set(name, child);
        child.start();
        return child.self as ActorRef<M>;
      }
    }
    return this.start(name, definition, options).self;
  }

  get(name: string): Child | undefined {
    return this.cells.get(name);
  }

  /** In start order. */
  all(): Child[] {
    return [...this.cells.values()];
  }

  refs(): ActorRef<any>[] {
    return this.all().map((cell) => cell.self);
  }

  // ---- ParentLink: what children report ----

  childFailed(child: Child, error: unknown, message: object | undefined): void {
    this.supervisor.childFailed(child, error, message);
  }

  childTerminated(child: Child, stoppedItself: boolean): void {
    const name = child.name;
    if (this.cells.get(name) !== child) return;
    this.supervisorInstance?.cancel(child);
    if (stoppedItself && this.owner.acceptsChildren() && this.supervisor.childStoppedItself(child)) {
      // Replacing the entry under the same key keeps the child's place in the start order.
      if (child instanceof RemoteChild) child.respawn();
      else this.start(name, child.definition, child.options);
      return;
    }
    this.cells.delete(name);
  }

  /**
   * Stops every child, in reverse start order, each completely before the next (OTP's shutdown), giving
   * each `shutdownMs`: one that takes longer is abandoned (its hooks are not awaited) and reported.
   */
  async stopAll(): Promise<void> {
    this.supervisorInstance?.cancelPending();
    if (this.cells.size === 0) return;
    const shutdownMs = this.supervisorInstance?.spec.shutdownMs ?? this.owner.supervisorSpec?.shutdownMs ?? DEFAULT_SUPERVISOR_SPEC.shutdownMs;
    for (const cell of this.all().reverse()) {
      const clock = this.host.clock;
      let timer: ReturnType<typeof clock.setTimeout> | undefined;
      const timedOut = new Promise<boolean>((resolve) => (timer = clock.setTimeout(() => resolve(true), shutdownMs)));
      const late = await Promise.race([cell.requestStop().then(() => false), timedOut]);
      clock.clearTimeout(timer!);
      if (late) {
        this.host.reportFailure(cell.path, new Error(`${cell.path} did not stop within ${shutdownMs} ms; abandoned`), "shutdown-timeout");
        cell.abandon();
      }
    }
  }

  /** Gives up on every child at once, without hooks (the owner itself was abandoned). */
  abandonAll(): void {
    this.supervisorInstance?.cancelPending();
    for (const cell of this.all().reverse()) cell.abandon();
  }

  private start<S, M extends object, P>(name: string, definition: ActorDefinition<S, M, P>, options: SpawnOptions<P>): ActorCell<S, M> {
    const address = { system: this.owner.address.system, node: this.owner.address.node, path: childPath(this.owner.path, name) };
    const cell = new ActorCell<S, M>(this.host, this, this.parentCell, address, definition, options);
    this.cells.set(name, cell);
    this.host.register(cell);
    void cell.start();
    return cell;
  }
}
