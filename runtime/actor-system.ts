import { hostname } from "node:os";
import { positiveNumber } from "./positive-number.js";
import { randomBytes } from "node:crypto";
import { parseAddress, validateActorName, validateToken, type Address } from "./address.js";
import { ActorCell, errorText, type CellHost, type FailureReport } from "./actor-cell.js";
import { Children } from "./children.js";
import type { ActorDefinition } from "./actor-definition.js";
import { ActorRef, type MessageRouter } from "./actor-ref.js";
import { systemClock, type Clock } from "./clock.js";
import type { MessageType } from "./codec/message-type.js";
import { TypeRegistry } from "./codec/type-registry.js";
import { Failure, systemTypes } from "./codec/wire-types.js";
import { lookupOnOtherNodes } from "./name-lookup.js";
import { HostedNames } from "./hosted-names.js";
import { DeadLetters, type DeadLetterReason, type LimitName } from "./dead-letters.js";
import { controlLimits } from "./control/control-limits.js";
import { MemberGate } from "./control/member-gate.js";
import { SystemMessageDelivery } from "./control/system-message-delivery.js";
import { Dispatcher } from "./dispatcher.js";
import { CellDirectory } from "./cell-directory.js";
import { SystemStoppedError } from "./errors.js";
import { PendingAsks, TEMP_PREFIX } from "./pending-asks.js";
import { RemoteEndpoint } from "./remote-endpoint.js";
import { NO_SPAWN_OPTIONS, type SpawnOptions } from "./spawn-options.js";
import type { FailureDirective } from "./supervision/supervisor-spec.js";
import { DeathWatch } from "./watch/death-watch.js";
import type { HeartbeatRefusal, MembershipEvent, NodeInfo } from "./membership/membership.js";
import { refusalCounts } from "./membership/heartbeat-refusal.js";
import { startMembership } from "./membership/start-membership.js";
import type { NodeMembership } from "./membership/node-membership.js";
import { NodeRequests } from "./node-requests.js";
import { Kinds, type KindOptions } from "./remote/kinds.js";
import { RemoteChildren } from "./remote/remote-children.js";
import type { PlacementCandidate } from "./remote/placement.js";
import { LeastLoaded, type LeastLoadedSettings } from "./remote/least-loaded.js";
import { serveLoad } from "./remote/serve-load.js";
import { RemoteHosting } from "./remote/remote-hosting.js";
import { SERVICE_FRONT_PREFIX, Services } from "./services/services.js";
import type { ServeOptions, ServiceMember } from "./services/service-member.js";
import type { ServiceRef } from "./services/service-ref.js";
import { relayAsk } from "./routing/relay-ask.js";
import { routerDefinition, type RouterConfig } from "./routing/router.js";
import { askCacheHost, type AskCacheHost } from "./cache/ask-cache.js";
import { loadOtelApi, type OtelApi } from "./tracing/otel-api.js";
import { Tracing, actorTemplate, type OpenSend } from "./tracing/tracing.js";
import { NodeStats } from "./stats/node-stats.js";
import { systemMessageKinds } from "./codec/system-messages.js";
import { DEFAULT_SUBJECT_PREFIX, Subjects } from "./subjects.js";
import { EntityHosting, type ActivationInfo, type HostEntitiesOptions } from "./entities/entity-hosting.js";
import type { EntityDefinition } from "./entities/entity-definition.js";
import type { EntityRef } from "./entities/entity-ref.js";
import { ENTITY_PATH_PREFIX } from "./entities/entity-path.js";
import type { Transport, TransportEvent, Unsubscribe } from "./transport/transport.js";
import type { ActorSystemOptions } from "./actor-system-options.js";

// The options have a file of their own; they stay importable from here, as the package exports them.
export type { ActorSystemOptions };

export type SystemEvent =
  | { readonly type: "transport"; readonly event: TransportEvent }
  /** Something no supervisor could act on: a top-level actor given up on, a failing stop hook, a stop that timed out. */
  | { readonly type: "actor-failed"; readonly path: string; readonly error: unknown; readonly directive: FailureReport }
  /** A supervisor decided about a failed child: `delayMs` is the backoff before a restart. */
  | { readonly type: "supervision"; readonly path: string; readonly error: unknown; readonly directive: FailureDirective; readonly delayMs: number }
  /** Another node joined, left, was lost or restarted, as this node's membership sees it. */
  | { readonly type: "membership"; readonly event: MembershipEvent };

export interface ActorInfo {
  readonly path: string;
  readonly kind: string | undefined;
  readonly node: string;
  readonly restarts: number;
  readonly mailboxSize: number;
}

type Headers = Readonly<Record<string, string>> | undefined;

/**
 * One node of an actor system: hosts actors, routes their messages (locally without serialising,
 * to other nodes as protobuf frames over the transport), and owns dead letters. Start it with
 * `ActorSystem.start`, stop it with `shutdown()`.
 */
export class ActorSystem implements MessageRouter {
  readonly name: string;
  readonly nodeId: string;
  readonly registry = new TypeRegistry();
  readonly deadLetters: DeadLetters;
  readonly clock: Clock;
  readonly subjects: Subjects;
  readonly transport: Transport;

  private readonly cells = new CellDirectory();
  /** The lookup subjects of this node's top-level actors: the NATS servers are the name directory. */
  private readonly names: HostedNames;
  private readonly guardian: Children;
  private readonly deathWatch: DeathWatch;
  private readonly kinds = new Kinds();
  private readonly hosting: RemoteHosting;
  private readonly remote: RemoteChildren;
  private readonly leastLoaded: LeastLoaded;
  private readonly leastLoadedSettings: LeastLoadedSettings;
  private readonly membershipOptions: ActorSystemOptions["membership"];
  private membership: NodeMembership | undefined;
  /** Present only when tracing is on. */
  readonly tracing: Tracing | undefined;
  /** @internal Present only when metrics are on: the counters the metrics module reads. */
  readonly stats: NodeStats | undefined;
  private stopMetrics: (() => void) | undefined;
  private readonly asks: PendingAsks;
  /** What routers' and services' result caches use of this node. */
  private readonly cacheHost: AskCacheHost;
  private readonly endpoint: RemoteEndpoint;
  private readonly services: Services;
  private readonly entities: EntityHosting;
  private readonly requests: NodeRequests;
  private readonly systemMessages: SystemMessageDelivery;
  private readonly listeners = new Set<(event: SystemEvent) => void>();
  private readonly unsubscribes: Unsubscribe[] = [];
  private readonly askTimeoutMs: number;
  private readonly lookupTimeoutMs: number;
  private readonly host: CellHost;
  /** The sender of the Failures this node answers with for its actors (`/system` on this node). */
  private readonly nodeRef: ActorRef<any>;
  private shutdownPromise: Promise<void> | undefined;
  private resolveClosed!: (error: Error | undefined) => void;
  private readonly closedPromise = new Promise<Error | undefined>((resolve) => (this.resolveClosed = resolve));

  static async start(options: ActorSystemOptions): Promise<ActorSystem> {
    // The OpenTelemetry API is loaded only by systems that trace.
    const system = new ActorSystem(options, options.tracing ? await loadOtelApi() : undefined);
    // The instruments are registered by a module that only systems with metrics load.
    if (options.metrics) system.stopMetrics = await (await import("./metrics/node-metrics.js")).registerNodeMetrics(system, options.metrics);
    await system.listen();
    return system;
  }

  private constructor(options: ActorSystemOptions, otelApi: OtelApi | undefined) {
    if (!options.transport) throw new TypeError("ActorSystem.start needs a transport: connectNats(...) or new MemoryNetwork().connect()");
    this.name = validateToken("system name", options.name);
    this.nodeId = validateToken("node id", options.nodeId ?? defaultNodeId());
    this.transport = options.transport;
    this.deadLetters = new DeadLetters(options);
    this.clock = options.clock ?? systemClock;
    this.subjects = new Subjects(options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX, this.name);
    this.askTimeoutMs = positiveNumber("askTimeoutMs", options.askTimeoutMs ?? 5_000);
    this.lookupTimeoutMs = positiveNumber("lookupTimeoutMs", options.lookupTimeoutMs ?? 1_000);
    this.stats = options.metrics ? new NodeStats() : undefined;
    this.asks = new PendingAsks(this.clock, (message) => this.registry.nameOf(message), this.stats);
    this.nodeRef = new ActorRef(this.addressOf(NODE_PATH), this);
    this.tracing = options.tracing && otelApi ? new Tracing(otelApi, options.tracing, this.nodeId, this.name, () => options.transport.currentServer?.()) : undefined;
    this.registry.register(...systemTypes, ...(options.types ?? []));
    this.cacheHost = askCacheHost(this.registry, this.stats, this.tracing);
    this.endpoint = new RemoteEndpoint(this, positiveNumber("maxMessageBytes", options.maxMessageBytes ?? 1024 * 1024), options);
    this.requests = new NodeRequests({
      name: this.name,
      nodeId: this.nodeId,
      transport: this.transport,
      subjects: this.subjects,
      deadLetters: this.deadLetters,
      cells: this.cells,
      maxMessageBytes: this.endpoint.maxMessageBytes,
      clock: this.clock,
      ...(options.maxActorListsPerSecond !== undefined && { maxActorListsPerSecond: options.maxActorListsPerSecond }),
      activations: () => this.entities.activations(),
    });
    this.names = new HostedNames(this.transport, this.subjects, this.requests.onLookup, (detail) => this.deadLetters.publish({ reason: "send-failed", detail }));
    this.remote = new RemoteChildren({
      nodeId: this.nodeId,
      directiveTimeoutMs: this.askTimeoutMs,
      registry: this.registry,
      candidates: () => this.placementCandidates(),
      isAlive: (node) => this.membership?.isAlive(node) ?? true,
      leastLoaded: () => this.leastLoaded,
      refFor: (address) => this.refFor(address),
      ask: (target, message, replyType, timeoutMs) => this.ask(target, message, replyType, timeoutMs),
    });
    this.host = {
      nodeId: this.nodeId,
      systemName: this.name,
      clock: this.clock,
      deadLetters: this.deadLetters,
      router: this,
      dispatcher: new Dispatcher(),
      register: (cell) => {
        this.cells.add(cell);
        this.names.started(cell);
      },
      unregister: (cell) => {
        this.cells.remove(cell);
        this.names.stopped(cell);
      },
      refFor: (address) => this.refFor(address),
      entityRef: (kind, key) => this.entityRef(kind, key),
      failAsk: (sender, reason, detail) => this.failAsk(sender, reason, detail),
      reportFailure: (path, error, directive) => this.emit({ type: "actor-failed", path, error, directive }),
      supervisionDecided: (path, error, directive, delayMs, kind) => {
        // On the span of the message that failed, when tracing: the decision, and the backoff it waits.
        const attributes = { "troupe.directive": directive, "troupe.backoff_ms": delayMs, "exception.message": errorText(error), "troupe.actor.path": path };
        const span = this.cells.get(path)?.processingSpan;
        if (span) span.addEvent("troupe.supervision", attributes);
        // A remote child's failure arrives as a message: the decision is a span in that message's trace.
        else this.tracing?.event(`supervision ${directive}`, undefined, attributes, false);
        if (this.stats !== undefined) this.stats.decided(directive, kind);
        this.emit({ type: "supervision", path, error, directive, delayMs });
      },
      watch: (watcher, target) => this.deathWatch.watch(watcher, target),
      unwatch: (watcher, target) => this.deathWatch.unwatch(watcher, target),
      terminated: (cell, reason, detail) => this.deathWatch.terminated(cell, reason, detail),
      typeNameOf: (message) => this.registry.nameOf(message),
      remote: this.remote,
      tracing: this.tracing,
      stats: this.stats,
    };
    this.services = new Services(
      this.subjects,
      {
        clock: this.clock,
        spawn: (definition, spawnOptions) => this.spawn(definition, spawnOptions),
        mailboxSize: (path) => this.cells.get(path)?.mailboxSize ?? Infinity,
        whenIdle: (path) => this.cells.get(path)?.whenIdle() ?? Promise.resolve(),
        stop: (ref) => this.stop(ref),
        queueSubscribe: (subject, queue, onFrame) => this.transport.queueSubscribe(subject, queue, onFrame),
        serviceFrames: (service, pick) => this.endpoint.serviceFrames(service, pick),
        deliver: (path, message, sender, headers) => this.deliverLocal(path, message, sender, headers),
        relay: (target, message, timeoutMs) => relayAsk(this.asks, target, message, timeoutMs, this.spanTypeName(message), (path) => new ActorRef(this.addressOf(path), this)),
        inTraceOf: (headers, fn) => (this.tracing === undefined || headers === undefined ? fn() : this.tracing.with(this.tracing.contextFrom(headers), fn)),
        askTimeoutMs: this.askTimeoutMs,
        deadLetters: this.deadLetters,
        cacheHost: this.cacheHost,
      },
      {
        name: this.name,
        transport: this.transport,
        registry: this.registry,
        router: this,
        maxMessageBytes: this.endpoint.maxMessageBytes,
        askTimeoutMs: this.askTimeoutMs,
        stopping: () => this.shutdownPromise !== undefined,
      },
    );
    this.membershipOptions = options.membership;
    this.entities = new EntityHosting({
      nodeId: this.nodeId,
      systemName: this.name,
      clock: this.clock,
      registry: this.registry,
      deadLetters: this.deadLetters,
      router: this,
      relay: (target, message, headers) =>
        relayAsk(this.asks, target, message, this.askTimeoutMs, this.spanTypeName(message), (path) => new ActorRef(this.addressOf(path), this), headers && { router: this, headers }),
      hostsOf: (announced) => {
        const nodes = this.membership?.nodes() ?? [{ node: this.nodeId, kinds: this.entities.announced() }];
        return nodes.filter((n) => n.kinds.includes(announced)).map((n) => n.node);
      },
      membershipVersion: () => this.membership?.version ?? -1,
    });
    for (const hosted of options.entities ?? []) this.entities.host(hosted.definition, hosted);
    if (this.tracing) {
      const tracing = this.tracing;
      this.deadLetters.subscribe((letter) =>
        tracing.event(`dead-letter ${letter.type ?? "message"}`, letter.headers, { "troupe.reason": letter.reason, "troupe.detail": letter.detail, ...(letter.target ? { "troupe.actor.path": letter.target.path } : {}) }, true),
      );
    }
    for (const kind of options.kinds ?? []) {
      if ("definition" in kind) this.registerKind(kind.definition, kind.options);
      else this.registerKind(kind);
    }
    const limits = controlLimits(options);
    const gate = new MemberGate({ nodeId: this.nodeId, system: this.name, membership: () => this.membership }, limits.maxControlAwaitingMembership, () =>
      this.deadLetters.limitHit("maxControlAwaitingMembership"),
    );
    const refused = (detail: string, path: string, sender: Address | undefined, type: string, limit?: LimitName): void => {
      if (limit !== undefined) this.deadLetters.limitHit(limit);
      this.deadLetters.publish({ reason: "refused-control", detail, target: this.addressOf(path), sender, type });
    };
    this.hosting = new RemoteHosting({
      nodeId: this.nodeId,
      cellHost: this.host,
      kinds: this.kinds,
      registry: this.registry,
      gate,
      maxHostedChildrenPerNode: limits.maxHostedChildrenPerNode,
      cellAt: (path) => this.cells.get(path),
      refFor: (address) => this.refFor(address),
      refused,
    });
    this.leastLoadedSettings = options.leastLoaded ?? {};
    this.leastLoaded = new LeastLoaded({
      transport: this.transport,
      subjects: this.subjects,
      nodeId: this.nodeId,
      clock: this.clock,
      localCount: () => this.cells.size,
      timeoutMs: this.leastLoadedSettings.queryTimeoutMs,
      answerTtlMs: this.leastLoadedSettings.answerTtlMs,
      onInvalid: (reason, detail, subject, bytes) => this.deadLetters.publish({ reason, detail, subject, bytes }),
    });
    this.deathWatch = new DeathWatch({ nodeId: this.nodeId, gate, maxWatchesPerNode: limits.maxWatchesPerNode, cellAt: (path) => this.cells.get(path), refFor: (address) => this.refFor(address), refused });
    this.systemMessages = new SystemMessageDelivery({
      system: this.name,
      nodeId: this.nodeId,
      cells: this.cells,
      deadLetters: this.deadLetters,
      deathWatch: this.deathWatch,
      hosting: this.hosting,
      router: this,
    });
    const guardianAddress = { system: this.name, node: this.nodeId, path: "/user" };
    this.guardian = new Children(
      this.host,
      {
        path: guardianAddress.path,
        address: guardianAddress,
        supervisorSpec: options.guardian,
        acceptsChildren: () => this.shutdownPromise === undefined,
        escalate: (error, child) => {
          // The root of the tree: nobody above to decide. Report, stop that subtree, keep the node.
          const cell = child as ActorCell;
          this.emit({ type: "actor-failed", path: cell.path, error, directive: "escalate" });
          void cell.stopForFailure(error);
        },
      },
      undefined,
    );
  }

  /** The router used by refs; exposed for the endpoint. @internal */
  get router(): MessageRouter {
    return this;
  }

  /** Where this node's actors receive messages from other nodes. */
  get inboxSubject(): string {
    return this.subjects.nodeInbox(this.nodeId);
  }

  get maxMessageBytes(): number {
    return this.endpoint.maxMessageBytes;
  }

  private async listen(): Promise<void> {
    this.unsubscribes.push(this.transport.subscribe(this.inboxSubject, this.endpoint.onDataFrame));
    this.unsubscribes.push(this.transport.subscribe(this.subjects.controlInbox(this.nodeId), this.endpoint.onControlFrame));
    this.unsubscribes.push(() => this.names.close());
    this.unsubscribes.push(this.transport.subscribe(this.subjects.actorsOf(this.nodeId), this.requests.onActorList));
    this.unsubscribes.push(
      serveLoad({
        transport: this.transport,
        subjects: this.subjects,
        nodeId: this.nodeId,
        clock: this.clock,
        actorCount: () => this.cells.size,
        mayAnswer: (request) => this.requests.mayAnswer(request),
        maxAnswersPerSecond: this.leastLoadedSettings.maxAnswersPerSecond,
        onOverRate: (detail, subject) => this.deadLetters.publish({ reason: "refused-control", detail, subject }),
      }),
    );
    this.unsubscribes.push(this.transport.onEvent((event) => this.emit({ type: "transport", event })));
    if (this.membershipOptions !== false) {
      await startMembership(
        this.membershipOptions,
        {
          name: this.name,
          nodeId: this.nodeId,
          transport: this.transport,
          subjects: this.subjects,
          clock: this.clock,
          deadLetters: this.deadLetters,
          localInfo: () => ({ kinds: [...this.kinds.names(), ...this.entities.announced()], actorCount: this.cells.size }),
          onEvent: this.onMembership,
          started: (membership) => (this.membership = membership),
        },
        this.unsubscribes,
      );
    }
    void this.transport.closed().then((error) => {
      if (!this.shutdownPromise) void this.shutdown(error ?? new Error(`transport ${this.transport.description} closed`));
    });
    // Subscriptions are in place on the server before anyone is told this node exists.
    await this.transport.flush();
  }

  // ---- actors ----

  /** Starts a top-level actor at `/user/<name>`. Its message types are registered for remote delivery. */
  spawn<S, M extends object, P>(definition: ActorDefinition<S, M, P>, options: SpawnOptions<P> = NO_SPAWN_OPTIONS): ActorRef<M> {
    if (this.shutdownPromise) throw new SystemStoppedError(`node ${this.nodeId} is shutting down; cannot spawn`);
    this.registry.register(...definition.messageTypes);
    return this.guardian.spawn(definition, options);
  }

  /**
   * Lets other nodes' actors spawn children of this definition's `kind` here (`placement` in
   * SpawnOptions). `options` apply to those children: their mailbox and how they supervise their own.
   */
  registerKind(definition: ActorDefinition<any, any, any>, options: KindOptions = {}): void {
    this.kinds.register(definition, options);
    this.registry.register(...definition.messageTypes, ...(options.props ? [options.props] : []));
  }

  /**
   * Hosts entities of `definition.kind` on this node (docs/entities.md): the node announces the kind
   * in its heartbeats, and activates the keys it owns on their first message, with their state in
   * `options.store`.
   */
  hostEntities(definition: EntityDefinition, options: HostEntitiesOptions): void {
    if (this.shutdownPromise) throw new SystemStoppedError(`node ${this.nodeId} is shutting down; cannot host entities`);
    this.entities.host(definition, options);
  }

  /** A ref to the entity (kind, key), usable from any node; a definition also registers its message types. */
  entityRef<M extends object = object>(kind: string | EntityDefinition<any, M>, key: string): EntityRef<M> {
    return this.entities.ref<M>(kind, key);
  }

  /** Entities live on this node now: their kind, key and committed writes. */
  entityActivations(): ActivationInfo[] {
    return this.entities.activations();
  }

  /**
   * Serves `definition` as the service `options.name`: this node joins the NATS queue group on
   * `<prefix>.<system>.service.<name>`, and NATS hands each tell or ask to one member (docs/routing.md).
   */
  serve<M extends object, P>(definition: ActorDefinition<any, M, P>, options: ServeOptions<P>): ServiceMember {
    if (this.shutdownPromise) throw new SystemStoppedError(`node ${this.nodeId} is shutting down; cannot serve`);
    return this.services.serve(definition, options);
  }

  /** Leaves the service's queue group, finishes what this node accepted for it, then stops its actors. */
  unserve(name: string): Promise<void> {
    return this.services.unserve(name);
  }

  /** A ref for the service `name`, served by whichever nodes serve it (none needed on this one). */
  serviceRef<M extends object = object>(name: string): ServiceRef<M> {
    return this.services.ref<M>(name);
  }

  /**
   * A router definition bound to this node: spawn it (`system.spawn`, or `ctx.spawn` from an actor of
   * this node) to get one ref in front of its routees (docs/routing.md).
   */
  defineRouter<M extends object>(config: RouterConfig<M>): ActorDefinition<unknown, M, void> {
    return routerDefinition(
      {
        nodeId: this.nodeId,
        deadLetters: this.deadLetters,
        askTimeoutMs: this.askTimeoutMs,
        nodes: () => this.placementCandidates(),
        onMembership: (listener) => this.onEvent((event) => event.type === "membership" && listener(event.event)),
        // A local ref's shortcut is its cell (untraced); else look the path up.
        mailboxSize: (ref) => (ref.local instanceof ActorCell ? ref.local.mailboxSize : ref.address.node === this.nodeId ? this.cells.get(ref.address.path)?.mailboxSize : undefined),
        relay: (target, message, timeoutMs) => relayAsk(this.asks, target, message, timeoutMs, this.spanTypeName(message), (path) => new ActorRef(this.addressOf(path), this)),
        cacheHost: this.cacheHost,
      },
      config,
    );
  }

  /** Live nodes of the system as this node's membership sees them (itself included). */
  nodes(): NodeInfo[] {
    return this.membership?.nodes() ?? [];
  }

  /** Load questions of `least-loaded` placement since start: asked, answered, unanswered, answers refused. */
  placementQueries(): ReturnType<LeastLoaded["stats"]> {
    return this.leastLoaded.stats();
  }

  /** Heartbeats this node's membership refused, by reason (all zero when membership is off). */
  heartbeatsRefused(): Record<HeartbeatRefusal, number> {
    return this.membership?.refused() ?? refusalCounts();
  }

  /** Stops an actor hosted on this node and resolves once it (and its children) have stopped. */
  stop(ref: ActorRef<any>): Promise<void> {
    const cell = ref.address.node === this.nodeId ? this.cells.get(ref.address.path) : undefined;
    if (!cell) return Promise.reject(new Error(`${ref.toString()} is not an actor running on node ${this.nodeId}`));
    return cell.requestStop();
  }

  /**
   * Finds a top-level actor by name: on this node first, then by asking the other nodes of the system.
   * The first answer from a live member of this system naming `/user/<name>` wins; other answers are
   * `forged-reply` dead letters. Resolves undefined when nobody has it within `timeoutMs`.
   */
  async lookup<M extends object = object>(name: string, options: { timeoutMs?: number } = {}): Promise<ActorRef<M> | undefined> {
    validateActorName(name);
    const local = this.cells.get(`/user/${name}`);
    if (local) return local.self as ActorRef<M>;
    const address = await lookupOnOtherNodes(
      { system: this.name, transport: this.transport, subject: this.subjects.actorName(name), deadLetters: this.deadLetters, membership: this.membership },
      name,
      options.timeoutMs ?? this.lookupTimeoutMs,
    );
    return address ? this.refFor<M>(address) : undefined;
  }

  /** A ref for an address (or its `troupe://system@node/path` form) received from anywhere. */
  refFor<M extends object = object>(address: Address | string): ActorRef<M> {
    const a = typeof address === "string" ? parseAddress(address) : address;
    if (a.node === this.nodeId && a.system === this.name) {
      const cell = this.cells.get(a.path);
      if (cell) return cell.self as ActorRef<M>;
    }
    return new ActorRef<M>({ system: a.system, node: a.node, path: a.path }, this);
  }

  /** Actors running on this node, parents before children. */
  actors(): ActorInfo[] {
    return this.cells.all()
      .map((c) => ({ path: c.path, kind: c.kind, node: this.nodeId, restarts: c.restartCount, mailboxSize: c.mailboxSize }))
      .sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  /** @internal For the metrics module, at collection: each live actor's kind and mailbox size. */
  forEachActor(visit: (kind: string | undefined, mailboxSize: number) => void): void {
    for (const cell of this.cells.all()) visit(cell.kind, cell.mailboxSize);
  }

  onEvent(listener: (event: SystemEvent) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- routing (MessageRouter) ----

  deliver(target: ActorRef<any>, message: object, sender: ActorRef<any> | undefined, headers?: Headers): void {
    const a = target.address;
    const local = a.node === this.nodeId && a.system === this.name;
    if (this.tracing !== undefined) return this.deliverTraced(this.tracing, local, target, message, sender, headers);
    if (local) this.deliverLocal(a.path, message, sender, headers);
    else this.endpoint.send(a, message, sender, headers);
  }

  private deliverTraced(tracing: Tracing, local: boolean, target: ActorRef<any>, message: object, sender: ActorRef<any> | undefined, headers: Headers): void {
    // Unsampled (most messages at a low sampling ratio): the trace context alone, no span. Kept short,
    // the span's path apart, so that the compiler inlines the send into it as it does untraced.
    const passed = tracing.passOn(headers);
    if (passed === undefined) return this.deliverWithSpan(tracing, local, target, message, sender, headers);
    if (local) this.deliverLocal(target.address.path, message, sender, passed);
    else this.endpoint.send(target.address, message, sender, passed);
  }

  /** A send under a PRODUCER span (`Tracing.send`): sampled, or decided by the SDK. */
  private deliverWithSpan(tracing: Tracing, local: boolean, target: ActorRef<any>, message: object, sender: ActorRef<any> | undefined, headers: Headers): void {
    const a = target.address;
    let send: OpenSend;
    try {
      const destination = local ? { name: a.path, template: actorTemplate(a.path, this.cells.get(a.path)?.kind) } : this.endpoint.destinationFor(a, message);
      send = tracing.send(a, destination, this.spanTypeName(message), headers);
    } catch (error) {
      // The root id `passOn` drew for this send must not go to another span.
      tracing.forgetDrawnRoot();
      throw error;
    }
    let bodyBytes: number | undefined;
    try {
      if (local) this.deliverLocal(a.path, message, sender, send.headers);
      else bodyBytes = this.endpoint.send(a, message, sender, send.headers);
    } catch (error) {
      tracing.sendFailed(send.span, error);
      throw error;
    }
    tracing.sent(send.span, bodyBytes);
  }

  ask<R extends object>(target: ActorRef<any>, message: object, replyType: MessageType<R>, timeoutMs: number | undefined, headers?: Headers): Promise<R> {
    if (this.shutdownPromise) return Promise.reject(new SystemStoppedError(`node ${this.nodeId} is shutting down; cannot ask`));
    this.registry.register(replyType);
    const requestName = this.spanTypeName(message);
    const { path, reply } = this.asks.open(target.address, requestName, replyType, this.registry.nameOfType(replyType), timeoutMs ?? this.askTimeoutMs);
    const replyTo = new ActorRef({ system: this.name, node: this.nodeId, path }, this);
    if (this.tracing === undefined) {
      sendRequest(this.asks, path, target, message, replyTo, headers && this, headers);
      return reply;
    }
    // The ask is a span of its own; the request, its processing and the reply all happen under it.
    const tracing = this.tracing;
    const { span, context } = tracing.startAsk(requestName, target.address);
    tracing.with(context, sendRequest, undefined, this.asks, path, target, message, replyTo, headers && this, headers);
    reply.then(
      () => span.end(),
      (error: unknown) => {
        tracing.fail(span, error);
        span.end();
      },
    );
    return reply;
  }

  /** A message's protobuf name for span names; generated classes are registered on first sight, as sending does. */
  private spanTypeName(message: object): string {
    try {
      return this.registry.requireName(message);
    } catch {
      return message.constructor.name;
    }
  }

  /** @internal Delivers to an actor of this node by path; used by refs and by the remote endpoint. */
  deliverLocal(path: string, message: object, sender: ActorRef<any> | undefined, headers: Headers): void {
    if (path.startsWith(TEMP_PREFIX)) {
      // Settled only by the asked actor (or a Failure from its node): see PendingAsks.
      const refused = this.asks.settle(path, message, sender?.address);
      if (refused !== undefined) {
        this.deadLetters.publish({ reason: refused.reason, detail: refused.detail, target: this.addressOf(path), sender: sender?.address, type: this.registry.nameOf(message), message, headers });
      }
      return;
    }
    if (path.startsWith(ENTITY_PATH_PREFIX)) return this.entities.deliver(path, message, sender, headers);
    const systemKind = systemMessageKinds.get(message.constructor);
    if (systemKind !== undefined) {
      // Answers to system messages (spawn, supervise, watch) belong to the trace of the request.
      if (this.tracing === undefined || headers === undefined) return this.systemMessages.deliver(systemKind, path, message, sender);
      return this.tracing.with(this.tracing.contextFrom(headers), () => this.systemMessages.deliver(systemKind, path, message, sender));
    }
    const cell = this.cells.get(path);
    if (cell) return cell.enqueue(message, sender, headers);
    // A cached service's envelopes go to its member's cache (off the hot path: no actor is there).
    if (path.startsWith(SERVICE_FRONT_PREFIX) && this.services.deliver(path, message, sender, headers)) return;
    const detail = `no actor at ${path} on node ${this.nodeId}`;
    this.deadLetters.publish({ reason: "unknown-target", detail, target: this.addressOf(path), sender: sender?.address, type: this.registry.nameOf(message), message, headers });
    this.failAsk(sender, "unknown-target", detail);
  }

  /** @internal */
  failAsk(sender: ActorRef<any> | undefined, reason: DeadLetterReason, detail: string): void {
    const path = sender?.address.path;
    if (path === undefined || !(path.startsWith(TEMP_PREFIX) || path.startsWith("/reply/"))) return;
    try {
      // From the node, so that the asker takes it as the answer of the actor it asked here.
      sender!.tell(Failure.create({ reason, message: detail }), this.nodeRef);
    } catch {
      // The asker is gone or unreachable; its ask times out on its own.
    }
  }

  private readonly onMembership = (event: MembershipEvent): void => {
    this.emit({ type: "membership", event });
    this.entities.membershipChanged();
    if (event.type === "joined") return;
    const node = event.node.node;
    const detail = `node ${node} ${event.type === "lost" ? `went silent for over ${this.membership?.failureTimeoutMs ?? "?"} ms` : event.type === "left" ? "shut down" : "restarted"}`;
    this.remote.nodeLost(node);
    this.deathWatch.nodeLost(node, detail);
    this.hosting.parentNodeLost(node);
  };

  /** The live nodes placement and pool routers choose among: this node alone when membership is off. */
  private placementCandidates(): PlacementCandidate[] {
    return this.membership?.nodes() ?? [{ node: this.nodeId, kinds: this.kinds.names(), actorCount: this.cells.size }];
  }

  private addressOf(path: string): Address {
    return { system: this.name, node: this.nodeId, path };
  }

  private emit(event: SystemEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // Listeners observe; they cannot break the node.
      }
    }
  }

  // ---- lifecycle ----

  /**
   * Stops every actor (in reverse start order, children first), fails pending asks, drains the
   * transport and closes it. Idempotent.
   */
  shutdown(reason?: Error): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(reason);
    return this.shutdownPromise;
  }

  private async doShutdown(reason: Error | undefined): Promise<void> {
    // Out of every queue group first, and finish the work already accepted, before anything stops.
    await this.services.drainAll();
    await this.entities.passivateAll();
    await this.guardian.stopAll();
    await this.membership?.stop();
    this.asks.rejectAll(new SystemStoppedError(`node ${this.nodeId} shut down${reason ? `: ${reason.message}` : ""}`));
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.endpoint.flush();
    try {
      await this.transport.close();
    } catch {
      // Already closed underneath us (e.g. the server went away); nothing left to drain.
    }
    this.stopMetrics?.();
    this.resolveClosed(reason);
  }

  /** Resolves when the node has shut down: with the error that caused it, or undefined if asked to. */
  closed(): Promise<Error | undefined> {
    return this.closedPromise;
  }
}

/** Where a node answers from when it answers for its actors (a Failure for a missing or stopped one). */
const NODE_PATH = "/system";

/**
 * Sends an ask's request; a send that throws (unregistered type, too large) fails the ask at once.
 * With headers (an entity's idempotency key) it goes through `router`, as a ref's tell carries none.
 */
function sendRequest(asks: PendingAsks, path: string, target: ActorRef<any>, message: object, replyTo: ActorRef<any>, router?: MessageRouter, headers?: Headers): void {
  try {
    if (router === undefined || headers === undefined) target.tell(message, replyTo);
    else router.deliver(target, message, replyTo, headers);
  } catch (error) {
    asks.abandon(path, error as Error);
  }
}

/** `<hostname>-<pid>-<6 hex digits>`: unique enough for a node id nobody chose. */
export function defaultNodeId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 32) || "node";
  return `${host}-${process.pid}-${randomBytes(3).toString("hex")}`;
}
