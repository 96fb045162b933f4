import type { ActorDefinition } from "./actor-definition.js";
import type { Clock } from "./clock.js";
import type { FrameLimits } from "./codec/frame-limits.js";
import type { MessageType } from "./codec/message-type.js";
import type { ControlLimits } from "./control/control-limits.js";
import type { DeadLetterLimits } from "./dead-letters.js";
import type { EntityDefinition } from "./entities/entity-definition.js";
import type { HostEntitiesOptions } from "./entities/entity-hosting.js";
import type { MetricsOption } from "./metrics/metrics-option.js";
import type { KindOptions } from "./remote/kinds.js";
import type { LeastLoadedSettings } from "./remote/least-loaded.js";
import type { SupervisorSpec } from "./supervision/supervisor-spec.js";
import type { TracingOption } from "./tracing/tracing.js";
import type { Transport } from "./transport/transport.js";

/**
 * With the limits on what a frame may hold (FrameLimits), on what the dead letters keep
 * (DeadLetterLimits) and on what other nodes may make this one hold (ControlLimits).
 */
export interface ActorSystemOptions extends FrameLimits, DeadLetterLimits, ControlLimits {
  /** The system this node joins. Nodes of one system reach each other's actors. */
  readonly name: string;
  /** Unique within the system. Default: `<hostname>-<pid>-<random>`. */
  readonly nodeId?: string;
  /** How this node reaches the others: `connectNats(...)`, or `new MemoryNetwork().connect()` in tests. Owned (closed) by the system. */
  readonly transport: Transport;
  /** Protobuf classes this node can receive, beyond those named in the definitions it spawns. */
  readonly types?: readonly MessageType[];
  /** First subject token. Default "troupe". */
  readonly subjectPrefix?: string;
  /** Largest frame sent or accepted, in bytes. Default 1 MiB (NATS's default max_payload); never above the server's. */
  readonly maxMessageBytes?: number;
  /** `troupe actors` lists (and the live view's) this node answers per second at most. Default 10. */
  readonly maxActorListsPerSecond?: number;
  /** Default ask timeout. Default 5000 ms. */
  readonly askTimeoutMs?: number;
  /** How long `lookup` waits for another node to answer. Default 1000 ms. */
  readonly lookupTimeoutMs?: number;
  readonly clock?: Clock;
  /**
   * How the node's guardian supervises top-level actors (default: the SupervisorSpec defaults). When
   * it gives up on one (its decider says escalate, or the intensity is exceeded), it stops that
   * actor's subtree and reports an "actor-failed" event; the node keeps running.
   */
  readonly guardian?: SupervisorSpec;
  /** Actor kinds this node hosts for other nodes' supervisors (see `registerKind`). */
  readonly kinds?: readonly (ActorDefinition<any, any, any> | { readonly definition: ActorDefinition<any, any, any>; readonly options: KindOptions })[];
  /** Entity kinds this node hosts from the start (see `hostEntities`): its first heartbeat announces them. */
  readonly entities?: readonly (HostEntitiesOptions & { readonly definition: EntityDefinition })[];
  /**
   * Membership: heartbeats every `intervalMs` (default 500) on the system's heartbeat subject; a node
   * silent for `failureTimeoutMs` (default 2000) is lost: its remote children fail, watches of its
   * actors deliver Terminated "node-lost". Peers are judged by these settings, never by what their
   * heartbeats claim. At most `maxNodes` (default 1,000) other nodes are tracked and `maxKindsPerNode`
   * (default 256) kinds accepted per heartbeat; refused heartbeats are counted (`heartbeatsRefused()`).
   * `protocol` picks how (docs/scale.md): `"ring"` (the default) sends heartbeats to three monitors per
   * node and announces changes once; `"all-to-all"` has every node hear every heartbeat.
   * `false` turns it off (a single node, or unit tests).
   */
  readonly membership?:
    | false
    | { readonly protocol?: "ring" | "all-to-all"; readonly intervalMs?: number; readonly failureTimeoutMs?: number; readonly maxNodes?: number; readonly maxKindsPerNode?: number };
  /**
   * OpenTelemetry tracing of every message flow (docs/tracing.md): `true` uses the global tracer
   * provider (set up by `startTracing` or the user's own SDK), or pass `{ tracerProvider }`. Default
   * off: no spans, and one check per routed send and per processing turn (local refs skip even that).
   */
  readonly tracing?: TracingOption;
  /**
   * OpenTelemetry metrics of this node (docs/metrics.md): `true` registers them with the global meter
   * provider (set up by `startTracing`/`startTelemetry` or the user's own SDK), or pass
   * `{ meterProvider }`. Default off: the node keeps no counters at all.
   */
  readonly metrics?: MetricsOption;
  /** `least-loaded` placement: how long a spawn asks candidates for their load, and how often this node answers. */
  readonly leastLoaded?: LeastLoadedSettings;
}
