import { childPath, validateActorName, type Address } from "./address.js";
import type { ActorContext, Cancel } from "./actor-context.js";
import type { ActorDefinition } from "./actor-definition.js";
import { ActorRef, type LocalTarget, type MessageRouter } from "./actor-ref.js";
import type { Clock, TimerHandle } from "./clock.js";
import type { DeadLetterReason, DeadLetters } from "./dead-letters.js";
import { Mailbox } from "./mailbox.js";
import { defaultFailureDecider, type FailureDirective, type SpawnOptions } from "./spawn-options.js";

/** Messages one actor processes before yielding the event loop to I/O and other actors. */
const THROUGHPUT = 1_000;

type Headers = Readonly<Record<string, string>> | undefined;
type Status = "starting" | "running" | "restarting" | "stopping" | "stopped";

/** The node-level services a running actor relies on; the actor system provides them. */
export interface CellHost {
  readonly nodeId: string;
  readonly systemName: string;
  readonly clock: Clock;
  readonly deadLetters: DeadLetters;
  readonly router: MessageRouter;
  register(cell: ActorCell): void;
  unregister(cell: ActorCell): void;
  refFor(address: Address): ActorRef<any>;
  /** Tells a waiting asker that its request will not be answered. */
  failAsk(sender: ActorRef<any> | undefined, reason: DeadLetterReason, detail: string): void;
  /** A top-level actor failed and escalated, or its start failed: report it, the node keeps running. */
  reportFailure(path: string, error: unknown, directive: FailureDirective | "start-failed"): void;
  typeNameOf(message: object): string | undefined;
}

/**
 * A running actor: its state, mailbox and children, and the loop that feeds it one message at a
 * time. It is also the `ActorContext` its handlers receive (the per-message sender and headers are
 * fields), so handling a message allocates no context object.
 */
export class ActorCell<S = any, M extends object = any> implements ActorContext<M>, LocalTarget {
  readonly self: ActorRef<M>;
  sender: ActorRef<any> | undefined;
  headers: Headers;
  readonly restarts: { count: number } = { count: 0 };

  private state!: S;
  private status: Status = "starting";
  private scheduled = false;
  private stopRequested = false;
  private readonly mailbox: Mailbox;
  private readonly childCells = new Map<string, ActorCell>();
  private readonly timers = new Set<TimerHandle>();
  private abort = new AbortController();
  private nameSeq = 0;
  private resolveStopped!: () => void;
  readonly terminated = new Promise<void>((resolve) => (this.resolveStopped = resolve));

  constructor(
    private readonly host: CellHost,
    readonly parent: ActorCell | undefined,
    readonly address: Address,
    private readonly definition: ActorDefinition<S, M, any>,
    private readonly options: SpawnOptions<any>,
  ) {
    this.mailbox = new Mailbox(options.mailbox);
    this.self = new ActorRef<M>(address, host.router, this);
  }

  get path(): string {
    return this.address.path;
  }

  get kind(): string | undefined {
    return this.definition.kind;
  }

  get isTerminated(): boolean {
    return this.status === "stopped";
  }

  get mailboxSize(): number {
    return this.mailbox.size;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get clock(): Clock {
    return this.host.clock;
  }

  get nodeId(): string {
    return this.host.nodeId;
  }

  /** Runs `init` and `started`, then begins processing whatever has queued meanwhile. */
  async start(): Promise<void> {
    try {
      await this.initialise();
    } catch (error) {
      this.host.reportFailure(this.path, error, "start-failed");
      await this.stop();
      return;
    }
    this.status = "running";
    if (this.stopRequested) return void this.beginStop();
    this.scheduleRun();
  }

  enqueue(message: object, sender: ActorRef<any> | undefined, headers: Headers): void {
    if (this.status === "stopped" || this.status === "stopping" || this.stopRequested) {
      this.dead("stopped-target", `${this.path} has stopped`, message, sender);
      this.host.failAsk(sender, "stopped-target", `${this.path} has stopped`);
      return;
    }
    if (this.mailbox.isFull) {
      const detail = `mailbox of ${this.path} is full (${this.mailbox.capacity} messages, ${this.mailbox.overflow})`;
      if (this.mailbox.overflow === "drop-newest") {
        this.dead("mailbox-overflow", detail, message, sender);
        this.host.failAsk(sender, "mailbox-overflow", detail);
        return;
      }
      const evicted = this.mailbox.shift()!;
      const evictedSender = this.mailbox.lastSender;
      this.dead("mailbox-overflow", detail, evicted, evictedSender);
      this.host.failAsk(evictedSender, "mailbox-overflow", detail);
    }
    this.mailbox.push(message, sender, headers);
    if (!this.scheduled && this.status === "running") this.scheduleRun();
  }

  // ---- ActorContext ----

  reply(message: object): void {
    const to = this.sender;
    if (to === undefined) {
      this.dead("no-sender", `${this.path} replied, but the message it handles has no sender`, message, undefined);
      return;
    }
    to.tell(message, this.self);
  }

  spawn<S2, M2 extends object, P2>(definition: ActorDefinition<S2, M2, P2>, options: SpawnOptions<P2> = {}): ActorRef<M2> {
    if (this.status === "stopping" || this.status === "stopped") {
      throw new Error(`${this.path} is stopping and cannot spawn children`);
    }
    const name = options.name === undefined ? `$${(++this.nameSeq).toString(36)}` : validateActorName(options.name);
    if (this.childCells.has(name)) throw new Error(`${this.path} already has a child named ${JSON.stringify(name)}`);
    const address = { system: this.address.system, node: this.address.node, path: childPath(this.path, name) };
    const child = new ActorCell<S2, M2>(this.host, this, address, definition, options);
    this.childCells.set(name, child);
    this.host.register(child);
    void child.start();
    return child.self;
  }

  stop(child?: ActorRef<any>): Promise<void> {
    if (child === undefined) return this.requestStop();
    const cell = this.childCells.get(lastSegment(child.address.path));
    if (!cell || !cell.self.equals(child)) {
      return Promise.reject(new Error(`${child.toString()} is not a child of ${this.path}`));
    }
    return cell.requestStop();
  }

  children(): readonly ActorRef<any>[] {
    return [...this.childCells.values()].map((c) => c.self);
  }

  scheduleOnce(delayMs: number, message: M): Cancel {
    const handle = this.host.clock.setTimeout(() => {
      this.timers.delete(handle);
      this.self.tell(message);
    }, delayMs);
    this.timers.add(handle);
    return () => this.cancelTimer(handle);
  }

  scheduleRepeatedly(intervalMs: number, message: M): Cancel {
    if (!(intervalMs > 0)) throw new RangeError(`scheduleRepeatedly needs intervalMs > 0; got ${intervalMs}`);
    let handle: TimerHandle;
    const tick = (): void => {
      this.timers.delete(handle);
      this.self.tell(message);
      handle = this.host.clock.setTimeout(tick, intervalMs);
      this.timers.add(handle);
    };
    handle = this.host.clock.setTimeout(tick, intervalMs);
    this.timers.add(handle);
    return () => this.cancelTimer(handle);
  }

  refFor<R extends object = object>(address: Address): ActorRef<R> {
    return this.host.refFor(address);
  }

  // ---- processing ----

  private scheduleRun(): void {
    this.scheduled = true;
    queueMicrotask(this.run);
  }

  /** Drains the mailbox synchronously while handlers are synchronous; an async handler pauses it. */
  private readonly run = (): void => {
    let budget = THROUGHPUT;
    while (this.status === "running" && !this.stopRequested) {
      if (this.mailbox.size === 0) {
        this.scheduled = false;
        return;
      }
      if (budget-- === 0) {
        setImmediate(this.run);
        return;
      }
      const message = this.mailbox.shift()!;
      this.sender = this.mailbox.lastSender;
      this.headers = this.mailbox.lastHeaders;
      const handler = this.definition.handlers.get(message.constructor);
      if (handler === undefined) {
        const detail = `${this.path} has no handler for ${this.host.typeNameOf(message) ?? message.constructor.name}`;
        this.dead("unhandled", detail, message, this.sender);
        this.host.failAsk(this.sender, "unhandled", detail);
        continue;
      }
      let result: S | void | Promise<S | void>;
      try {
        result = handler(this.state, message, this);
      } catch (error) {
        this.fail(error, message);
        return;
      }
      if (result instanceof Promise) {
        result.then(
          (next) => {
            if (next !== undefined) this.state = next;
            this.run();
          },
          (error: unknown) => this.fail(error, message),
        );
        return;
      }
      if (result !== undefined) this.state = result;
    }
    this.scheduled = false;
    if (this.stopRequested && this.status === "running") this.beginStop();
  };

  /** A handler threw (`message` is what it was handling), or a child escalated (`message` undefined). */
  private fail(error: unknown, message: object | undefined): void {
    if (message !== undefined) {
      const sender = this.sender;
      this.dead("handler-failed", `${this.path} failed: ${errorText(error)}`, message, sender);
      this.host.failAsk(sender, "handler-failed", errorText(error));
    }
    let directive: FailureDirective;
    try {
      directive = (this.options.onFailure ?? defaultFailureDecider)(error, message);
      if (this.status !== "running") return; // a failure reported while already restarting or stopping
    } catch (deciderError) {
      directive = "escalate";
      error = deciderError;
    }
    this.scheduled = false;
    switch (directive) {
      case "resume":
        this.scheduleRun();
        return;
      case "restart":
        void this.restart(error);
        return;
      case "stop":
        void this.requestStop();
        return;
      case "escalate":
        void this.requestStop();
        if (this.parent) this.parent.fail(error, undefined);
        else this.host.reportFailure(this.path, error, "escalate");
        return;
    }
  }

  private async restart(error: unknown): Promise<void> {
    this.status = "restarting";
    this.restarts.count++;
    try {
      await this.definition.hooks.restarting?.(this.state, this, error);
    } catch {
      // A failing restarting hook must not prevent the restart itself.
    }
    this.cancelTimers();
    await this.stopChildren();
    this.abort.abort(new Error(`${this.path} is restarting`));
    this.abort = new AbortController();
    try {
      await this.initialise();
    } catch (initError) {
      this.host.reportFailure(this.path, initError, "start-failed");
      this.status = "running";
      await this.requestStop();
      return;
    }
    this.status = "running";
    this.scheduleRun();
  }

  private async initialise(): Promise<void> {
    this.state = await this.definition.init(this.options.props);
    const started = this.definition.hooks.started;
    if (started) {
      const next = await started(this.state, this);
      if (next !== undefined) this.state = next;
    }
  }

  // ---- stopping ----

  /** Stops after the message in progress (if any) has settled. Idempotent. */
  requestStop(): Promise<void> {
    this.stopRequested = true;
    // A running loop (or an async handler in flight) finishes its current message and then stops.
    if (this.status === "running" && !this.scheduled) this.beginStop();
    return this.terminated;
  }

  private beginStop(): void {
    if (this.status === "stopping" || this.status === "stopped") return;
    this.status = "stopping";
    void this.finishStop();
  }

  private async finishStop(): Promise<void> {
    this.cancelTimers();
    try {
      await this.definition.hooks.stopping?.(this.state, this);
    } catch (error) {
      this.host.reportFailure(this.path, error, "stop");
    }
    await this.stopChildren();
    this.abort.abort(new Error(`${this.path} stopped`));
    this.status = "stopped";
    this.host.unregister(this);
    this.parent?.childCells.delete(lastSegment(this.path));
    while (this.mailbox.size > 0) {
      const message = this.mailbox.shift()!;
      const sender = this.mailbox.lastSender;
      this.dead("stopped-target", `${this.path} stopped before processing this message`, message, sender);
      this.host.failAsk(sender, "stopped-target", `${this.path} stopped`);
    }
    try {
      await this.definition.hooks.stopped?.(this.state, this);
    } catch (error) {
      this.host.reportFailure(this.path, error, "stop");
    }
    this.resolveStopped();
  }

  /** Stops children in reverse start order, each completely before the next (as OTP shuts down). */
  private async stopChildren(): Promise<void> {
    const cells = [...this.childCells.values()].reverse();
    for (const cell of cells) await cell.requestStop();
  }

  private cancelTimer(handle: TimerHandle): void {
    this.host.clock.clearTimeout(handle);
    this.timers.delete(handle);
  }

  private cancelTimers(): void {
    for (const handle of this.timers) this.host.clock.clearTimeout(handle);
    this.timers.clear();
  }

  private dead(reason: DeadLetterReason, detail: string, message: object, sender: ActorRef<any> | undefined): void {
    this.host.deadLetters.publish({
      reason,
      detail,
      target: this.address,
      sender: sender?.address,
      type: this.host.typeNameOf(message),
      message,
    });
  }
}

function lastSegment(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
