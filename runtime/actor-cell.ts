import type { Context, Span, Tracer } from "@opentelemetry/api";
import { formatAddress, type Address } from "./address.js";
import type { ActorContext, Cancel } from "./actor-context.js";
import type { ActorDefinition } from "./actor-definition.js";
import { ActorRef, type LocalTarget, type MessageRouter } from "./actor-ref.js";
import { Children, type ChildrenOwner } from "./children.js";
import type { Clock, TimerHandle } from "./clock.js";
import type { DeadLetterReason, DeadLetters } from "./dead-letters.js";
import type { EntityDefinition } from "./entities/entity-definition.js";
import type { EntityRef } from "./entities/entity-ref.js";
import type { Dispatcher, Runnable } from "./dispatcher.js";
import { Mailbox } from "./mailbox.js";
import type { RemoteChildHost } from "./remote/remote-child.js";
import { NO_SPAWN_OPTIONS, type SpawnOptions } from "./spawn-options.js";
import type { SupervisedChild } from "./supervision/child-supervisor.js";
import type { ChildRestart, FailureDirective } from "./supervision/supervisor-spec.js";
import type { TerminationReason } from "./watch/termination.js";
import { WatchState } from "./watch/watch-state.js";
import type { Tracing } from "./tracing/tracing.js";
import type { ContextOnDemand } from "./tracing/context-manager-slot.js";
import type { KindStats } from "./stats/kind-stats.js";
import type { NodeStats } from "./stats/node-stats.js";

/** Messages one actor processes before yielding the event loop to I/O and other actors. */
const THROUGHPUT = 1_000;

type Headers = Readonly<Record<string, string>> | undefined;
/**
 * "suspended": failed, waiting for its supervisor's decision (and any backoff); messages queue meanwhile.
 * "restarting": between the two halves of a restart.
 */
type Status = "starting" | "running" | "suspended" | "restarting" | "stopping" | "stopped";

export type FailureReport = FailureDirective | "start-failed" | "stop" | "shutdown-timeout";

/** The node-level services a running actor relies on; the actor system provides them. */
export interface CellHost {
  readonly nodeId: string;
  readonly systemName: string;
  readonly clock: Clock;
  readonly deadLetters: DeadLetters;
  readonly router: MessageRouter;
  /** The node's run queue: where a cell with messages waits for its turn. */
  readonly dispatcher: Dispatcher;
  register(cell: ActorCell): void;
  unregister(cell: ActorCell): void;
  refFor(address: Address): ActorRef<any>;
  entityRef<M extends object>(kind: string | EntityDefinition<any, M>, key: string): EntityRef<M>;
  /** Tells a waiting asker that its request will not be answered. */
  failAsk(sender: ActorRef<any> | undefined, reason: DeadLetterReason, detail: string): void;
  /** Something went wrong that no supervisor above can act on: report it, the node keeps running. */
  reportFailure(path: string, error: unknown, what: FailureReport): void;
  /** A supervisor decided about a failed child (for events, traces and metrics: `kind` is the child's). */
  supervisionDecided(path: string, error: unknown, directive: FailureDirective, delayMs: number, kind?: string): void;
  /** Starts watching `target` on behalf of `watcher` (local or remote target). */
  watch(watcher: ActorCell, target: ActorRef<any>): void;
  unwatch(watcher: ActorCell, target: ActorRef<any>): void;
  /** The cell has stopped: notify its watchers, drop its own watches. */
  terminated(cell: ActorCell, reason: TerminationReason, detail: string): void;
  typeNameOf(message: object): string | undefined;
  /** Present when tracing is on. */
  readonly tracing: Tracing | undefined;
  /** Present when metrics are on: the counters the metrics module reads. */
  readonly stats?: NodeStats | undefined;
  /** Remote children: placement and the wire. */
  readonly remote: RemoteChildHost & { readonly directiveTimeoutMs: number };
}

/** Where a cell reports its failures and its end: its parent's children, or the node's guardian. */
export interface ParentLink {
  /** `message` is what the child was handling; undefined when its start failed or a grandchild escalated. */
  childFailed(child: ActorCell, error: unknown, message: object | undefined): void;
  /** The child has stopped for good; `stoppedItself` when it asked to (not its parent or a directive). */
  childTerminated(child: ActorCell, stoppedItself: boolean): void;
}

/**
 * A running actor: its state, mailbox and children, and the loop that feeds it one message at a
 * time. It is also the `ActorContext` its handlers receive (the per-message sender and headers are
 * fields), so handling a message allocates no context object. Everything an idle, childless actor
 * does not need (children, timers, watchers, abort signal) is allocated on first use.
 */
export class ActorCell<S = any, M extends object = any> implements ActorContext<M>, LocalTarget, SupervisedChild, ChildrenOwner, Runnable {
  readonly self: ActorRef<M>;
  sender: ActorRef<any> | undefined;
  headers: Headers;
  /** While tracing, the span of the message being processed (for supervision events). */
  declare processingSpan: Span | undefined;

  private state!: S;
  private status: Status = "starting";
  private initialised = false;
  private scheduled = false;
  private stopRequested = false;
  private stoppedItself = false;
  // Fields marked `declare` are rarely set (timers, watches, failures...): they are not created with the
  // cell, so an idle actor carries no slot for them (issue 7's budget is 500 bytes per idle actor).
  /** Why it is stopping, when that is a failure (for watchers). */
  declare private failure: unknown;
  /** The promise of an async handler in flight, so a restart can let it settle first. */
  declare private settling: Promise<unknown> | undefined;
  declare private restarts: number | undefined;
  /** Created with the first message: an idle actor has none. */
  private mailboxInstance: Mailbox | undefined;
  private childrenInstance: Children | undefined;
  declare private timers: Set<TimerHandle> | undefined;
  declare private abort: AbortController | undefined;
  declare private watchStateInstance: WatchState | undefined;
  /** Children that escalated into this actor's failure: resumed with it. */
  declare private escalatedFrom: SupervisedChild[] | undefined;
  declare private stoppedWaiters: (() => void)[] | undefined;
  /** Waiting for the mailbox to empty with no handler running (a service member draining). */
  declare private idleWaiters: (() => void)[] | undefined;
  /** This kind's counters on this node, when metrics are on (runtime/stats/kind-stats.ts). */
  declare private kindStats: KindStats | undefined;

  constructor(
    private readonly host: CellHost,
    private readonly parentLink: ParentLink,
    readonly parent: ActorCell | undefined,
    readonly address: Address,
    readonly definition: ActorDefinition<S, M, any>,
    readonly options: SpawnOptions<any>,
  ) {
    // When tracing, refs have no shortcut to the cell: every tell goes through the router, which makes
    // its span. Untraced, a local tell checks nothing about tracing at all.
    this.self = new ActorRef<M>(address, host.router, host.tracing === undefined ? this : undefined);
    if (host.stats !== undefined) this.kindStats = host.stats.kind(definition.kind);
  }

  get path(): string {
    return this.address.path;
  }

  get restartCount(): number {
    return this.restarts ?? 0;
  }

  get name(): string {
    return this.path.slice(this.path.lastIndexOf("/") + 1);
  }

  get kind(): string | undefined {
    return this.definition.kind;
  }

  get restartType(): ChildRestart {
    return this.options.restart ?? "transient";
  }

  get supervisorSpec(): SpawnOptions["supervisor"] {
    return this.options.supervisor;
  }

  get isTerminated(): boolean {
    return this.status === "stopped";
  }

  /** Stopping, or stopped, because of a failure rather than a plain stop. */
  get stoppedByFailure(): boolean {
    return this.isStopping && this.failure !== undefined;
  }

  get isStopping(): boolean {
    return this.stopRequested || this.status === "stopping" || this.status === "stopped";
  }

  acceptsChildren(): boolean {
    return !this.isStopping;
  }

  get mailboxSize(): number {
    return this.mailboxInstance?.size ?? 0;
  }

  /** Messages processed since it was spawned (kept by its mailbox, so an idle actor carries no counter). */
  get processed(): number {
    return this.mailboxInstance?.processed ?? 0;
  }

  get signal(): AbortSignal {
    return (this.abort ??= new AbortController()).signal;
  }

  get clock(): Clock {
    return this.host.clock;
  }

  get nodeId(): string {
    return this.host.nodeId;
  }

  get tracer(): Tracer | undefined {
    return this.host.tracing?.tracer;
  }

  /** @internal The node's counters when metrics are on (for the runtime's own actors: see nodeStatsOf). */
  get nodeStats(): NodeStats | undefined {
    return this.host.stats;
  }

  get watchState(): WatchState {
    return (this.watchStateInstance ??= new WatchState());
  }

  /** @internal Without allocating one. */
  get watchStateIfAny(): WatchState | undefined {
    return this.watchStateInstance;
  }

  /** Resolves once the actor has stopped (at once if it has). */
  get terminated(): Promise<void> {
    if (this.status === "stopped") return Promise.resolve();
    return new Promise((resolve) => (this.stoppedWaiters ??= []).push(resolve));
  }

  /**
   * @internal Resolves once nothing is queued and no handler runs (at once if so), or the actor stops:
   * what it accepted so far has been handled.
   */
  whenIdle(): Promise<void> {
    if (this.status === "stopped" || (!this.scheduled && this.mailboxSize === 0 && (this.status === "running" || this.status === "starting"))) return Promise.resolve();
    return new Promise((resolve) => (this.idleWaiters ??= []).push(resolve));
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters!;
    this.idleWaiters = undefined;
    for (const resolve of waiters) resolve();
  }

  /** Runs `init` and `started`, then begins processing whatever has queued meanwhile. */
  start(): void {
    // Synchronous when `init` and `started` are: most actors start without a promise or a microtask.
    let initial: S | Promise<S>;
    try {
      initial = this.definition.init(this.options.props);
    } catch (error) {
      return this.startFailed(error);
    }
    if (initial instanceof Promise) return void this.startAsync(initial);
    this.state = initial;
    this.initialised = true;
    const started = this.definition.hooks.started;
    if (started !== undefined) {
      let next: S | void | Promise<S | void>;
      try {
        next = started(this.state, this);
      } catch (error) {
        return this.startFailed(error);
      }
      if (next instanceof Promise) return void this.startAsync(undefined, next);
      if (next !== undefined) this.state = next;
    }
    this.becomeRunning();
  }

  /** The rest of a start whose `init` (or `started`) returned a promise. */
  private async startAsync(initial: Promise<S> | undefined, started?: Promise<S | void>): Promise<void> {
    try {
      if (initial !== undefined) {
        this.state = await initial;
        this.initialised = true;
        const hook = this.definition.hooks.started;
        if (hook !== undefined) started = hook(this.state, this) as Promise<S | void>;
      }
      const next = await started;
      if (next !== undefined) this.state = next;
    } catch (error) {
      return this.startFailed(error);
    }
    this.becomeRunning();
  }

  private becomeRunning(): void {
    this.status = "running";
    if (this.stopRequested) return this.beginStop();
    if (this.mailboxSize > 0) this.scheduleRun();
  }

  enqueue(message: object, sender: ActorRef<any> | undefined, headers: Headers): void {
    if (this.isStopping) {
      this.dead("stopped-target", `${this.path} has stopped`, message, sender, headers);
      this.host.failAsk(sender, "stopped-target", `${this.path} has stopped`);
      return;
    }
    const stats = this.kindStats;
    if (stats !== undefined) stats.received++;
    const mailbox = (this.mailboxInstance ??= new Mailbox(this.options.mailbox));
    if (mailbox.isFull) {
      const detail = `mailbox of ${this.path} is full (${mailbox.capacity} messages, ${mailbox.overflow})`;
      if (mailbox.overflow === "drop-newest") {
        this.dead("mailbox-overflow", detail, message, sender, headers);
        this.host.failAsk(sender, "mailbox-overflow", detail);
        return;
      }
      const evicted = mailbox.shift()!;
      const evictedSender = mailbox.lastSender;
      // With its headers: its dead-letter span belongs to its trace.
      this.dead("mailbox-overflow", detail, evicted, evictedSender, mailbox.lastHeaders);
      this.host.failAsk(evictedSender, "mailbox-overflow", detail);
    }
    mailbox.push(message, sender, headers);
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

  spawn<S2, M2 extends object, P2>(definition: ActorDefinition<S2, M2, P2>, options: SpawnOptions<P2> = NO_SPAWN_OPTIONS): ActorRef<M2> {
    if (this.isStopping) throw new Error(`${this.path} is stopping and cannot spawn children`);
    return this.children_.spawn(definition, options);
  }

  stop(child?: ActorRef<any>): Promise<void> {
    if (child === undefined) return this.requestStop(true);
    const cell = this.childrenInstance?.get(child.address.path.slice(child.address.path.lastIndexOf("/") + 1));
    if (!cell || !cell.self.equals(child)) {
      return Promise.reject(new Error(`${child.toString()} is not a child of ${this.path}`));
    }
    return cell.requestStop();
  }

  children(): readonly ActorRef<any>[] {
    return this.childrenInstance?.refs() ?? [];
  }

  watch(target: ActorRef<any>): void {
    this.host.watch(this, target);
  }

  unwatch(target: ActorRef<any>): void {
    this.host.unwatch(this, target);
  }

  scheduleOnce(delayMs: number, message: M): Cancel {
    const handle = this.host.clock.setTimeout(() => {
      this.timers?.delete(handle);
      this.self.tell(message);
    }, delayMs);
    (this.timers ??= new Set()).add(handle);
    return () => this.cancelTimer(handle);
  }

  scheduleRepeatedly(intervalMs: number, message: M): Cancel {
    if (!(intervalMs > 0)) throw new RangeError(`scheduleRepeatedly needs intervalMs > 0; got ${intervalMs}`);
    const timers = (this.timers ??= new Set());
    let handle: TimerHandle;
    const tick = (): void => {
      timers.delete(handle);
      this.self.tell(message);
      handle = this.host.clock.setTimeout(tick, intervalMs);
      timers.add(handle);
    };
    handle = this.host.clock.setTimeout(tick, intervalMs);
    timers.add(handle);
    return () => this.cancelTimer(handle);
  }

  refFor<R extends object = object>(address: Address): ActorRef<R> {
    return this.host.refFor(address);
  }

  entityRef<R extends object = object>(kind: string | EntityDefinition<any, R>, key: string): EntityRef<R> {
    return this.host.entityRef(kind, key);
  }

  // ---- ChildrenOwner: what this actor's children escalate to it ----

  escalate(error: unknown, child: SupervisedChild): void {
    (this.escalatedFrom ??= []).push(child);
    this.fail(error, undefined);
  }

  private get children_(): Children {
    return (this.childrenInstance ??= new Children(this.host, this, this));
  }

  /** @internal The children's container, when there is one. */
  get childCells(): Children | undefined {
    return this.childrenInstance;
  }

  // ---- processing ----

  private scheduleRun(): void {
    this.scheduled = true;
    this.host.dispatcher.schedule(this);
  }

  /**
   * The dispatcher's call: drains the mailbox synchronously while handlers are synchronous (an async
   * handler pauses it), for up to THROUGHPUT messages; an actor with more waiting goes to the back of
   * the run queue, so actors sharing the node take turns. Returns how many messages it handled.
   */
  runTurn(): number {
    const stats = this.kindStats;
    if (stats === undefined) return this.turn();
    // Metrics: one clock read pair per turn, not per message. A turn that ends in an async handler's
    // promise leaves that message to be timed when it settles (awaitHandler).
    const started = performance.now();
    const handled = this.turn();
    stats.turn(this.settling === undefined ? handled : handled - 1, performance.now() - started);
    return handled;
  }

  private turn(): number {
    const mailbox = this.mailboxInstance;
    const tracing = this.host.tracing;
    let handled = 0;
    while (this.status === "running" && !this.stopRequested) {
      if (mailbox === undefined || mailbox.size === 0) {
        this.scheduled = false;
        if (this.idleWaiters !== undefined) this.wakeIdleWaiters();
        return handled;
      }
      if (handled === THROUGHPUT) {
        this.host.dispatcher.schedule(this);
        return handled;
      }
      handled++;
      mailbox.processed++;
      const message = mailbox.shift()!;
      this.sender = mailbox.lastSender;
      this.headers = mailbox.lastHeaders;
      const handler = this.definition.handlers.get(message.constructor);
      if (handler === undefined) {
        const detail = `${this.path} has no handler for ${this.host.typeNameOf(message) ?? message.constructor.name}`;
        this.dead("unhandled", detail, message, this.sender, this.headers);
        this.host.failAsk(this.sender, "unhandled", detail);
        continue;
      }
      if (tracing !== undefined) {
        if (this.runTraced(tracing, handler, message)) continue;
        return handled;
      }
      let result: S | void | Promise<S | void>;
      try {
        result = handler(this.state, message, this);
      } catch (error) {
        this.fail(error, message);
        return handled;
      }
      if (result instanceof Promise) {
        this.awaitHandler(result, message, undefined);
        return handled;
      }
      if (result !== undefined) this.state = result;
    }
    this.scheduled = false;
    if (this.stopRequested && this.status === "running") this.beginStop();
    return handled;
  }

  /**
   * The loop waits for an async handler: its state is taken when it resolves, then the loop goes on;
   * a rejection fails the actor. `done` (tracing) learns of the outcome first and reports the failure.
   */
  private awaitHandler(result: Promise<S | void>, message: object, done: ((error?: unknown) => void) | undefined): void {
    const stats = this.kindStats;
    const started = stats === undefined ? 0 : performance.now();
    this.settling = result.then(
      (next) => {
        this.settling = undefined;
        stats?.settled(performance.now() - started);
        done?.();
        if (this.status !== "running" && this.status !== "suspended") return;
        if (next !== undefined) this.state = next;
        this.runTurn();
      },
      (error: unknown) => {
        this.settling = undefined;
        stats?.settled(performance.now() - started);
        if (done) done(error);
        else this.fail(error, message);
      },
    );
  }

  /**
   * One message under a CONSUMER span whose context is active while the handler runs (and, with a
   * context manager, in what it awaits). Returns true to go on with the next message synchronously.
   * Unsampled (most messages at a low ratio): the sender's context, without a span or the message's
   * type name. The sampled path is a method apart, so that it does not take the compiler's inlining
   * budget from the unsampled one in the turn loop (docs/benchmarks.md, "the inlining budget").
   */
  private runTraced(tracing: Tracing, handler: (state: S, message: any, ctx: this) => S | void | Promise<S | void>, message: object): boolean {
    const unsampled = tracing.unsampledContext(this.headers);
    return unsampled === undefined ? this.runStarted(tracing, handler, message) : this.runUnder(tracing, handler, message, unsampled.span, unsampled.context, false);
  }

  /** `runTraced` under a span `startProcess` starts (sampled, or decided by the SDK). */
  private runStarted(tracing: Tracing, handler: (state: S, message: any, ctx: this) => S | void | Promise<S | void>, message: object): boolean {
    const { span, context } = tracing.startProcess(this.path, this.kind, this.host.typeNameOf(message) ?? message.constructor.name, this.headers);
    return this.runUnder(tracing, handler, message, span, context, true);
  }

  /** `runTraced` under `span`; `started` when `startProcess` started it (an unsampled message's ends as a no-op). */
  private runUnder(tracing: Tracing, handler: (state: S, message: any, ctx: this) => S | void | Promise<S | void>, message: object, span: Span, processing: Context | ContextOnDemand, started: boolean): boolean {
    // One context for the handler and its failure's report, also when it is made on demand.
    const context = tracing.handlerContext(processing, handler);
    this.processingSpan = span;
    let result: S | void | Promise<S | void>;
    try {
      result = tracing.runHandler(context, handler, this.state, message, this);
    } catch (error) {
      this.endTraced(tracing, span, tracing.ranUnder(context), message, error);
      return false;
    }
    if (result instanceof Promise) {
      const ran = tracing.ranUnder(context);
      this.awaitHandler(result, message, (error?: unknown) => this.endTraced(tracing, span, ran, message, error));
      return false;
    }
    if (result !== undefined) this.state = result;
    this.processingSpan = undefined;
    if (started) span.end();
    return true;
  }

  /** Ends a processing span (a method, not a closure per message: closures cost a name each in the bundle). */
  private endTraced(tracing: Tracing, span: Span, context: Context | ContextOnDemand, message: object, error?: unknown): void {
    if (error !== undefined) {
      tracing.fail(span, error);
      // Inside the span's context: what the failure sets off (a report to a remote parent) is in its trace.
      tracing.with(context, () => this.fail(error, message));
    }
    this.processingSpan = undefined;
    span.end();
  }


  /**
   * A handler threw (`message` is what it was handling), or a child escalated (`message` undefined).
   * The actor suspends, keeping its queued messages, and its supervisor decides. The failing message
   * itself becomes a dead letter: it is never retried.
   */
  private fail(error: unknown, message: object | undefined): void {
    if (message !== undefined) {
      if (this.kindStats !== undefined) this.kindStats.failed++;
      const sender = this.sender;
      this.dead("handler-failed", `${this.path} failed: ${errorText(error)}`, message, sender, this.headers);
      this.host.failAsk(sender, "handler-failed", errorText(error));
    }
    // Already suspended, restarting or stopping: one decision per failure episode.
    if (this.status !== "running") return;
    this.status = "suspended";
    this.scheduled = false;
    if (this.stopRequested) return this.beginStop();
    this.failure = error;
    this.parentLink.childFailed(this, error, message);
  }

  private startFailed(error: unknown): void {
    this.status = "suspended";
    this.failure = error;
    if (this.stopRequested) return this.beginStop();
    this.parentLink.childFailed(this, error, undefined);
  }

  // ---- SupervisedChild: what its supervisor does about a failure ----

  resume(): void {
    if (this.status !== "suspended") return;
    if (!this.initialised) return void this.restartNow(new Error(`${this.path} cannot resume: it never started`));
    this.status = "running";
    this.failure = undefined;
    if (this.stopRequested) return this.beginStop();
    const escalated = this.escalatedFrom;
    this.escalatedFrom = undefined;
    escalated?.forEach((child) => child.resume());
    this.scheduleRun();
  }

  async prepareRestart(error: unknown): Promise<void> {
    if (this.status === "stopping" || this.status === "stopped" || this.status === "restarting") return;
    this.status = "restarting";
    this.scheduled = false;
    // A sibling restarted along with a failed child may be in the middle of an async handler.
    if (this.settling !== undefined) await this.settling.then(noop, noop);
    this.restarts = this.restartCount + 1;
    if (this.kindStats !== undefined) this.kindStats.restarts++;
    if (this.initialised) {
      try {
        await this.definition.hooks.restarting?.(this.state, this, error);
      } catch (hookError) {
        this.host.reportFailure(this.path, hookError, "restart");
      }
    }
    this.initialised = false;
    this.cancelTimers();
    await this.childrenInstance?.stopAll();
    this.abort?.abort(new Error(`${this.path} is restarting`));
    this.abort = undefined;
  }

  async completeRestart(): Promise<void> {
    if (this.status !== "restarting") return;
    if (this.stopRequested) return this.beginStop();
    try {
      await this.initialise();
    } catch (error) {
      // A restart that fails to start is another failure: the supervisor decides again (intensity applies).
      return this.startFailed(error);
    }
    this.status = "running";
    this.failure = undefined;
    this.escalatedFrom = undefined;
    if (this.stopRequested) return this.beginStop();
    this.scheduleRun();
  }

  private async restartNow(error: unknown): Promise<void> {
    await this.prepareRestart(error);
    await this.completeRestart();
  }

  private async initialise(): Promise<void> {
    this.state = await this.definition.init(this.options.props);
    this.initialised = true;
    const started = this.definition.hooks.started;
    if (started) {
      const next = await started(this.state, this);
      if (next !== undefined) this.state = next;
    }
  }

  // ---- stopping ----

  /**
   * Stops after the message in progress (if any) has settled; at once when suspended or waiting for a
   * restart's backoff. Idempotent. `itself`: the actor asked (matters for permanent children).
   */
  requestStop(itself = false): Promise<void> {
    if (!this.stopRequested) {
      this.stopRequested = true;
      this.stoppedItself = itself;
    }
    if (this.status === "suspended" || (this.status === "running" && !this.scheduled)) this.beginStop();
    return this.terminated;
  }

  /** Stops because its supervisor said so, or gave up: watchers learn it failed. */
  stopForFailure(error: unknown): Promise<void> {
    this.failure ??= error;
    return this.requestStop();
  }

  private beginStop(): void {
    if (this.status === "stopping" || this.status === "stopped") return;
    this.status = "stopping";
    void this.finishStop();
  }

  private async finishStop(): Promise<void> {
    this.cancelTimers();
    if (this.initialised) {
      try {
        await this.definition.hooks.stopping?.(this.state, this);
      } catch (error) {
        this.host.reportFailure(this.path, error, "stop");
      }
    }
    await this.childrenInstance?.stopAll();
    if (this.status === "stopped") return; // abandoned meanwhile
    this.abort?.abort(new Error(`${this.path} stopped`));
    if (this.initialised) {
      try {
        await this.definition.hooks.stopped?.(this.state, this);
      } catch (error) {
        this.host.reportFailure(this.path, error, "stop");
      }
    }
    this.terminate();
  }

  /** Its parent gave up waiting for it to stop: finish now, without awaiting its hooks. */
  abandon(): void {
    if (this.status === "stopped") return;
    this.stopRequested = true;
    this.cancelTimers();
    this.childrenInstance?.abandonAll();
    this.abort?.abort(new Error(`${this.path} was abandoned`));
    this.failure ??= new Error(`${this.path} did not stop in time`);
    this.terminate();
  }

  private terminate(): void {
    if (this.status === "stopped") return;
    this.status = "stopped";
    this.host.unregister(this);
    const mailbox = this.mailboxInstance;
    while (mailbox !== undefined && mailbox.size > 0) {
      const message = mailbox.shift()!;
      const sender = mailbox.lastSender;
      this.dead("stopped-target", `${this.path} stopped before processing this message`, message, sender, mailbox.lastHeaders);
      this.host.failAsk(sender, "stopped-target", `${this.path} stopped`);
    }
    this.host.terminated(this, this.failure === undefined ? "stopped" : "failed", this.failure === undefined ? "" : errorText(this.failure));
    this.parentLink.childTerminated(this, this.stoppedItself && this.failure === undefined);
    const waiters = this.stoppedWaiters;
    this.stoppedWaiters = undefined;
    waiters?.forEach((resolve) => resolve());
    if (this.idleWaiters !== undefined) this.wakeIdleWaiters();
  }

  private cancelTimer(handle: TimerHandle): void {
    this.host.clock.clearTimeout(handle);
    this.timers?.delete(handle);
  }

  private cancelTimers(): void {
    if (this.timers === undefined) return;
    for (const handle of this.timers) this.host.clock.clearTimeout(handle);
    this.timers.clear();
  }

  private dead(reason: DeadLetterReason, detail: string, message: object, sender: ActorRef<any> | undefined, headers?: Headers): void {
    this.host.deadLetters.publish({
      reason,
      detail,
      target: this.address,
      sender: sender?.address,
      type: this.host.typeNameOf(message),
      message,
      headers,
    });
  }

  toString(): string {
    return formatAddress(this.address);
  }
}

function noop(): void {}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
